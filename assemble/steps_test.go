package assemble

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/deb"
	"github.com/apt-ostree/apt-ostree/internal/testdeb"
)

func stepsRoot(t *testing.T) string {
	root := newRoot(t,
		testdeb.Package{Name: "fake-systemd", Files: []testdeb.File{
			{Path: "usr/lib/systemd/system/foo.service", Body: "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n"},
			{Path: "usr/lib/systemd/system/multi-user.target", Body: "[Unit]\n"},
			{Path: "usr/lib/systemd/system/graphical.target", Body: "[Unit]\n"},
			{Path: "usr/lib/systemd/system/default.target", Type: '2', Link: "graphical.target"},
			{Path: "usr/lib/os-release", Body: "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\n\nVERSION_ID=\"13\"\nVERSION=\"13 (trixie)\"\n"},
			{Path: "etc/os-release", Type: '2', Link: "../usr/lib/os-release"},
			{Path: "usr/share/removeme/x", Body: "x"},
		}},
		testdeb.Package{Name: "docs", Conffiles: []string{"/etc/docs.conf", "/etc/docs-keep.conf"}, Files: []testdeb.File{
			{Path: "usr/share/doc/docs/a", Body: "a"},
			{Path: "usr/share/doc/docs/b.txt", Body: "b"},
			{Path: "usr/bin/keep", Body: "k", Mode: 0o755},
			{Path: "etc/docs.conf", Body: "c"},
			{Path: "etc/docs-keep.conf", Body: "k"},
		}},
	)
	if err := os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte("0123456789abcdef0123456789abcdef\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := Configure(context.Background(), root, Options{}); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestApplySteps(t *testing.T) {
	root := stepsRoot(t)
	host := t.TempDir()
	added := filepath.Join(host, "added")
	os.WriteFile(added, []byte("added\n"), 0o750)
	script := filepath.Join(host, "post.sh")
	os.WriteFile(script, []byte("#!/bin/sh\necho script >> /usr/share/pp\n"), 0o755)
	timings := &Timings{}
	steps := Steps{
		RemoveFromPackages: []RemoveFromPackage{{Package: "docs", Patterns: []string{"^/usr/share/doc/", `docs\.conf$`}}},
		Units:              []string{"foo.service"},
		DefaultTarget:      "multi-user.target",
		OSReleaseBase:      "13",
		Version:            "13.20261123.0",
		RemoveFiles:        []string{"usr/share/removeme"},
		AddFiles:           []AddFile{{Src: added, Dest: "/usr/share/added/x"}, {Src: added, Dest: "/etc/added.conf"}},
		Postprocess:        []string{"#!/bin/sh\nset -e\ntest -f /usr/share/added/x\necho one >> /usr/share/pp\n", "echo two >> /usr/share/pp"},
		PostprocessScript:  script,
	}
	if err := ApplySteps(context.Background(), root, steps, Options{Timings: timings}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"usr/share/doc/docs/a", "usr/share/doc/docs", "etc/docs.conf", "usr/share/removeme"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s still there", p)
		}
	}
	list := readFile(t, filepath.Join(root, "var/lib/dpkg/info/docs.list"))
	if strings.Contains(list, "/usr/share/doc/docs") || strings.Contains(list, "docs.conf\n") || !strings.Contains(list, "/usr/bin/keep\n") || !strings.Contains(list, "/usr/share/doc\n") {
		t.Errorf("docs.list:\n%s", list)
	}
	if sums := readFile(t, filepath.Join(root, "var/lib/dpkg/info/docs.md5sums")); strings.Contains(sums, "usr/share/doc/") || !strings.Contains(sums, "usr/bin/keep") {
		t.Errorf("docs.md5sums:\n%s", sums)
	}
	status := readFile(t, filepath.Join(root, deb.AdminDir, "status"))
	if strings.Contains(status, "/etc/docs.conf ") || !strings.Contains(status, "/etc/docs-keep.conf ") {
		t.Errorf("status conffiles:\n%s", status)
	}
	// dpkg itself agrees the database matches the files.
	sb, err := OpenSandbox(context.Background(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"dpkg", "--verify", "docs"}, {"dpkg", "--audit"}} {
		if out, err := sb.Run(context.Background(), Cmd{Args: args}); err != nil || len(out) > 0 {
			t.Errorf("%v: %v %s", args, err, out)
		}
	}
	sb.Close()

	// The host's systemctl, copied into the test root, may say /lib or /usr/lib.
	if l, err := os.Readlink(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/foo.service")); err != nil || !strings.HasSuffix(l, "lib/systemd/system/foo.service") {
		t.Errorf("units: %q %v", l, err)
	}
	if l, _ := os.Readlink(filepath.Join(root, "usr/lib/systemd/system/default.target")); l != "multi-user.target" {
		t.Errorf("default.target -> %q", l)
	}
	wantOS := "PRETTY_NAME=\"Debian GNU/Linux 13.20261123.0 (trixie)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"13\"\nVERSION=\"13.20261123.0 (trixie)\"\nOSTREE_VERSION='13.20261123.0'\n"
	if got := readFile(t, filepath.Join(root, "usr/lib/os-release")); got != wantOS {
		t.Errorf("os-release:\n%s\nwant:\n%s", got, wantOS)
	}
	if fi, err := os.Lstat(filepath.Join(root, "etc/os-release")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Error("etc/os-release is no longer a symlink")
	}
	for _, p := range []string{"usr/share/added/x", "etc/added.conf"} {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil || fi.Mode().Perm() != 0o750 || readFile(t, filepath.Join(root, p)) != "added\n" {
			t.Errorf("%s: %v %v", p, fi, err)
		}
	}
	if got := readFile(t, filepath.Join(root, "usr/share/pp")); got != "one\ntwo\nscript\n" {
		t.Errorf("postprocess ran %q", got)
	}
	if m, _ := filepath.Glob(filepath.Join(root, "usr/bin/apt-ostree-*")); len(m) > 0 {
		t.Errorf("scripts left: %v", m)
	}
	fi, err := os.Stat(filepath.Join(root, "etc/machine-id"))
	if err != nil || fi.Size() != 0 || fi.Mode().Perm() != 0o444 {
		t.Errorf("machine-id: %v %v", fi, err)
	}
	if !strings.Contains(timings.String(), "remove-from-packages") || !strings.Contains(timings.String(), "postprocess-script") {
		t.Errorf("timings %q", timings)
	}
}

func TestStepsVerify(t *testing.T) {
	host := t.TempDir()
	file := filepath.Join(host, "f")
	os.WriteFile(file, []byte("x"), 0o644)
	no := false
	tests := []struct {
		name  string
		steps Steps
		want  string
	}{
		{"absolute remove", Steps{RemoveFiles: []string{"/etc/x"}}, "relative"},
		{"dotdot remove", Steps{RemoveFiles: []string{"usr/../../x"}}, ".."},
		{"usr/local", Steps{AddFiles: []AddFile{{file, "/usr/local/bin/x"}}}, "/usr/local"},
		{"outside", Steps{AddFiles: []AddFile{{file, "/var/x"}}}, "must be under"},
		{"missing src", Steps{AddFiles: []AddFile{{filepath.Join(host, "nope"), "/etc/x"}}}, "nope"},
		{"not executable", Steps{PostprocessScript: file}, "executable"},
		{"bad regex", Steps{RemoveFromPackages: []RemoveFromPackage{{"p", []string{"("}}}}, "pattern"},
		{"units without compat", Steps{Units: []string{"a.service"}, MachineIDCompat: &no}, "machineid-compat"},
		{"bad target", Steps{DefaultTarget: "multi-user"}, "target"},
	}
	for _, tt := range tests {
		err := tt.steps.Verify()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want error containing %q", tt.name, err, tt.want)
		}
	}
	if err := (Steps{AddFiles: []AddFile{{file, "/etc/x"}}, RemoveFiles: []string{"var/cache"}}).Verify(); err != nil {
		t.Errorf("valid steps: %v", err)
	}
}

func TestPostprocessFailure(t *testing.T) {
	root := newRoot(t)
	err := ApplySteps(context.Background(), root, Steps{Postprocess: []string{"#!/bin/sh\necho ok\n", "#!/bin/sh\necho 'no such thing' >&2\nexit 4\n"}}, Options{})
	if err == nil || !strings.Contains(err.Error(), "postprocess: script 1") || !strings.Contains(err.Error(), "no such thing") || !strings.Contains(err.Error(), "exit status 4") {
		t.Fatalf("got %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(root, "usr/bin/apt-ostree-*")); len(m) > 0 {
		t.Errorf("scripts left: %v", m)
	}
}

func TestMachineIDRemoved(t *testing.T) {
	root := newRoot(t)
	os.WriteFile(filepath.Join(root, "etc/machine-id"), []byte("0123456789abcdef0123456789abcdef\n"), 0o444)
	os.MkdirAll(filepath.Join(root, "var/lib/dbus"), 0o755)
	os.WriteFile(filepath.Join(root, "var/lib/dbus/machine-id"), []byte("0123456789abcdef0123456789abcdef\n"), 0o444)
	no := false
	if err := ApplySteps(context.Background(), root, Steps{MachineIDCompat: &no}, Options{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"etc/machine-id", "var/lib/dbus/machine-id"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s still there", p)
		}
	}
}

func TestMutateOSRelease(t *testing.T) {
	got := mutateOSRelease("VERSION=\"1 (x)\"\n\nPRETTY_NAME=\"A 1\"\nVERSION_ID=1\n", "1", "1.2'3")
	want := "VERSION=\"1.2'3 (x)\"\nPRETTY_NAME=\"A 1.2'3\"\nVERSION_ID=1\nOSTREE_VERSION='1.2'\\''3'\n"
	if got != want {
		t.Errorf("got %q want %q", got, want)
	}
}
