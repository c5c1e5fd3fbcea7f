package assemble

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/deb"
	"github.com/apt-ostree/apt-ostree/internal/testdeb"
	"golang.org/x/sys/unix"
)

// openDebs builds and opens test packages.
func openDebs(t *testing.T, pkgs ...testdeb.Package) []*deb.Package {
	t.Helper()
	var out []*deb.Package
	for _, p := range pkgs {
		b, err := testdeb.Build(p)
		if err != nil {
			t.Fatal(err)
		}
		d, err := deb.Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func install(t *testing.T, root string, opts InstallOptions, pkgs ...testdeb.Package) (*InstallResult, error) {
	t.Helper()
	return Install(context.Background(), root, openDebs(t, pkgs...), opts)
}

// logScript appends the script's name and arguments to /var/log-<pkg>.
func logScript(pkg string) string {
	return "#!/bin/sh\necho \"$DPKG_MAINTSCRIPT_NAME $*\" >> /var/log-" + pkg + "\n"
}

func status(t *testing.T, root, admin string) string {
	t.Helper()
	return readFile(t, filepath.Join(root, admin, "status"))
}

// stanza returns the status stanza of pkg.
func stanza(st, pkg string) string {
	for _, s := range strings.Split(st, "\n\n") {
		if strings.HasPrefix(s, "Package: "+pkg+"\n") {
			return s
		}
	}
	return ""
}

var (
	basePkg = testdeb.Package{
		Name:      "base-thing",
		Files:     []testdeb.File{{Path: "usr/bin/base-tool", Body: "base", Mode: 0o755}, {Path: "etc/base.conf", Body: "b=1\n"}},
		Conffiles: []string{"/etc/base.conf"},
		Triggers:  "interest-noawait /usr/lib/foo\n",
		Scripts:   map[string]string{"postinst": logScript("base-thing")},
	}
	newPkg = testdeb.Package{
		Name:      "new-thing",
		Fields:    map[string]string{"Depends": "base-thing"},
		Files:     []testdeb.File{{Path: "usr/lib/foo/x", Body: "x"}, {Path: "etc/new.conf", Body: "n=1\n"}},
		Conffiles: []string{"/etc/new.conf"},
		Scripts:   map[string]string{"preinst": logScript("new-thing"), "postinst": logScript("new-thing")},
	}
)

func TestInstallEmptyRoot(t *testing.T) {
	for _, mode := range sandboxModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			root := newRoot(t)
			res, err := install(t, root, InstallOptions{Options: Options{Sandbox: mode}, Arch: "amd64"}, basePkg, newPkg)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Unpacked) != 2 || res.Files == 0 || len(res.Triggered) != 0 || res.Kernel != nil {
				t.Errorf("result %+v", res)
			}
			st := status(t, root, "var/lib/dpkg")
			for _, p := range []string{"base-thing", "new-thing"} {
				if !strings.Contains(stanza(st, p), "Status: install ok installed") {
					t.Errorf("%s not installed:\n%s", p, st)
				}
			}
			if got := readFile(t, filepath.Join(root, "var/log-new-thing")); got != "preinst install\npostinst configure \n" {
				t.Errorf("new-thing scripts: %q", got)
			}
			// Configured before its trigger could matter: no triggered run.
			if got := readFile(t, filepath.Join(root, "var/log-base-thing")); got != "postinst configure \n" {
				t.Errorf("base-thing scripts: %q", got)
			}
			if got := readFile(t, filepath.Join(root, "etc/new.conf")); got != "n=1\n" {
				t.Errorf("conffile %q", got)
			}
		})
	}
}

// postProcess moves /etc and the database where a composed tree has them.
func postProcess(t *testing.T, root string) {
	t.Helper()
	for _, mv := range [][2]string{{"etc", "usr/etc"}, {"var/lib/dpkg", "usr/share/dpkg/database"}} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, mv[1])), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(root, mv[0]), filepath.Join(root, mv[1])); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(root, "var/lib")); err != nil {
		t.Fatal(err)
	}
}

func TestInstallOntoBase(t *testing.T) {
	for _, layout := range []string{"plain", "post-processed"} {
		for _, mode := range sandboxModes(t) {
			t.Run(layout+"/"+mode.String(), func(t *testing.T) {
				root := newRoot(t)
				if _, err := install(t, root, InstallOptions{Options: Options{Sandbox: mode}, Arch: "amd64"}, basePkg); err != nil {
					t.Fatal(err)
				}
				etc, admin := "etc", "var/lib/dpkg"
				if layout == "post-processed" {
					postProcess(t, root)
					etc, admin = "usr/etc", "usr/share/dpkg/database"
				}
				baseStanza := stanza(status(t, root, admin), "base-thing")
				// The base package again (same version) is skipped.
				res, err := install(t, root, InstallOptions{Options: Options{Sandbox: mode}}, basePkg, newPkg)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Unpacked) != 1 || res.Unpacked[0].Package.Name() != "new-thing" || strings.Join(res.Skipped, ",") != "base-thing:amd64" {
					t.Errorf("unpacked %d, skipped %v", len(res.Unpacked), res.Skipped)
				}
				if strings.Join(res.Triggered, ",") != "/usr/lib/foo base-thing" {
					t.Errorf("triggered %v", res.Triggered)
				}
				st := status(t, root, admin)
				if got := stanza(st, "base-thing"); got != baseStanza {
					t.Errorf("base stanza changed:\n%s\nwas:\n%s", got, baseStanza)
				}
				if !strings.Contains(stanza(st, "new-thing"), "Status: install ok installed") {
					t.Errorf("new-thing not installed:\n%s", st)
				}
				// The base's postinst ran once at its install, and once
				// more for the trigger the new file activated; nothing else.
				if got := readFile(t, filepath.Join(root, "var/log-base-thing")); got != "postinst configure \npostinst triggered /usr/lib/foo\n" {
					t.Errorf("base-thing scripts: %q", got)
				}
				if got := readFile(t, filepath.Join(root, "var/log-new-thing")); got != "preinst install\npostinst configure \n" {
					t.Errorf("new-thing scripts: %q", got)
				}
				if got := readFile(t, filepath.Join(root, etc, "new.conf")); got != "n=1\n" {
					t.Errorf("conffile %q", got)
				}
				if layout == "post-processed" {
					for _, p := range []string{"etc", "var/lib/dpkg", "var/lib"} {
						if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
							t.Errorf("/%s left behind", p)
						}
					}
				}
				matches, _ := filepath.Glob(filepath.Join(root, undoPrefix+"*"))
				if len(matches) > 0 {
					t.Errorf("left behind: %v", matches)
				}
			})
		}
	}
}

func TestInstallFrozenBase(t *testing.T) {
	root := newRoot(t)
	if _, err := install(t, root, InstallOptions{Arch: "amd64"}, basePkg); err != nil {
		t.Fatal(err)
	}
	before := tree(t, root)
	newer := basePkg
	newer.Version = "2.0"
	_, err := install(t, root, InstallOptions{}, newer, newPkg)
	if !errors.Is(err, ErrFrozenBase) || !strings.Contains(err.Error(), "base-thing") {
		t.Fatalf("want ErrFrozenBase naming base-thing, got %v", err)
	}
	assertSameTree(t, before, tree(t, root))
}

func assertSameTree(t *testing.T, before, after map[string]string) {
	t.Helper()
	for p, d := range before {
		if after[p] != d {
			t.Errorf("%s changed: %.80q -> %.80q", p, d, after[p])
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("%s added", p)
		}
	}
}

// A new package overwriting a base file without Replaces is refused, the
// error names both packages and the path, and the root (database
// included) is left as it was; with Replaces the file moves to the new
// package.
func TestInstallOverwriteOfBase(t *testing.T) {
	for _, layout := range []string{"plain", "post-processed"} {
		t.Run(layout, func(t *testing.T) {
			root := newRoot(t)
			if _, err := install(t, root, InstallOptions{Arch: "amd64"}, basePkg); err != nil {
				t.Fatal(err)
			}
			admin := "var/lib/dpkg"
			if layout == "post-processed" {
				postProcess(t, root)
				admin = "usr/share/dpkg/database"
			}
			before := tree(t, root)
			thief := testdeb.Package{
				Name:    "thief",
				Files:   []testdeb.File{{Path: "usr/share/thief/a", Body: "a"}, {Path: "usr/bin/base-tool", Body: "stolen", Mode: 0o755}},
				Scripts: map[string]string{"preinst": logScript("thief")},
			}
			_, err := install(t, root, InstallOptions{}, newPkg, thief)
			if !errors.Is(err, deb.ErrFileConflict) {
				t.Fatalf("want ErrFileConflict, got %v", err)
			}
			for _, want := range []string{"thief", "base-thing", "/usr/bin/base-tool"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
			assertSameTree(t, before, tree(t, root))

			thief.Fields = map[string]string{"Replaces": "base-thing (<< 2)"}
			if _, err := install(t, root, InstallOptions{}, thief); err != nil {
				t.Fatal(err)
			}
			usr := filepath.Join(root, "usr/bin/base-tool")
			if got := readFile(t, usr); got != "stolen" {
				t.Errorf("base-tool is %q", got)
			}
			if l := readFile(t, filepath.Join(root, admin, "info/base-thing.list")); strings.Contains(l, "/usr/bin/base-tool\n") {
				t.Errorf("base-thing.list still has the file:\n%s", l)
			}
			if l := readFile(t, filepath.Join(root, admin, "info/thief.list")); !strings.Contains(l, "/usr/bin/base-tool\n") {
				t.Errorf("thief.list lacks the file:\n%s", l)
			}
		})
	}
}

// An archive that turns out bad half-way through (here a member escaping
// the root after files were written) leaves the base root as it was.
func TestInstallBadArchiveRollsBack(t *testing.T) {
	root := newRoot(t)
	if _, err := install(t, root, InstallOptions{Arch: "amd64"}, basePkg); err != nil {
		t.Fatal(err)
	}
	before := tree(t, root)
	bad := testdeb.Package{
		Name: "bad",
		Files: []testdeb.File{
			{Path: "usr/share/bad/a", Body: "a"},
			{Path: "etc/base.conf", Body: "b=1\n"},
			{RawName: "./usr/share/bad/../../../../escape", Body: "x"},
		},
		Fields: map[string]string{"Replaces": "base-thing"},
	}
	_, err := install(t, root, InstallOptions{}, newPkg, bad)
	if err == nil {
		t.Fatal("bad archive installed")
	}
	t.Logf("error: %v", err)
	assertSameTree(t, before, tree(t, root))
}

// A disk that fills up half-way through unpacking leaves the base root as
// it was: what was written is removed, and the database is untouched.
func TestInstallDiskFullRollsBack(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=128m"); err != nil {
		t.Skipf("cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	root := newRootIn(t, dir)
	if _, err := install(t, root, InstallOptions{Arch: "amd64"}, basePkg); err != nil {
		t.Fatal(err)
	}
	before := tree(t, root)
	// Leave 4 MiB free.
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	filler, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Fallocate(int(filler.Fd()), 0, 0, int64(st.Bavail)*st.Bsize-4<<20); err != nil {
		t.Fatal(err)
	}
	filler.Close()
	big := testdeb.Package{
		Name: "big",
		Files: []testdeb.File{
			{Path: "usr/share/big/small", Body: "s"},
			{Path: "usr/share/big/large", Body: strings.Repeat("x", 8<<20)},
		},
	}
	_, err = install(t, root, InstallOptions{}, newPkg, big)
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("want ENOSPC, got %v", err)
	}
	assertSameTree(t, before, tree(t, root))
}

// The direct sandbox, for real: this test binary is copied into a root and
// run there (chroot(8) in a private mount namespace with /dev and /proc, as
// a container has them), where it installs a package into "/" with the
// automatic sandbox choice, as a container build's RUN step would.
func TestInstallDirectIntoSlash(t *testing.T) {
	root := newRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/bin/assemble.test"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	pkg := testdeb.Package{
		Name:    "direct",
		Files:   []testdeb.File{{Path: "usr/share/direct/x", Body: "x"}},
		Scripts: map[string]string{"postinst": "#!/bin/sh\necho \"$DPKG_MAINTSCRIPT_NAME $*\" > /var/direct-postinst\n"},
	}
	if _, err := testdeb.Write(filepath.Join(root, "root"), pkg); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"dev", "proc"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount --rbind /dev "$1/dev" && mount -t proc proc "$1/proc" && exec chroot "$1" /usr/bin/assemble.test -test.run='^TestDirectHelper$' -test.v`, "sh", root)
	cmd.Env = append(os.Environ(), "APT_OSTREE_TEST_DIRECT_DEB=/root/"+pkg.Filename())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestDirectHelper") {
		t.Fatalf("install inside the root: %v\n%s", err, out)
	}
	if strings.Contains(string(out), "WARN") {
		t.Errorf("warnings:\n%s", out)
	}
	if got := readFile(t, filepath.Join(root, "var/direct-postinst")); got != "postinst configure \n" {
		t.Errorf("postinst: %q", got)
	}
	if !strings.Contains(stanza(status(t, root, "var/lib/dpkg"), "direct"), "Status: install ok installed") {
		t.Errorf("not installed:\n%s", status(t, root, "var/lib/dpkg"))
	}
	for _, p := range []string{policyRcD, dpkgCfg} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
}

// TestDirectHelper is TestInstallDirectIntoSlash's part inside the root.
func TestDirectHelper(t *testing.T) {
	debPath := os.Getenv("APT_OSTREE_TEST_DIRECT_DEB")
	if debPath == "" {
		t.Skip("run by TestInstallDirectIntoSlash")
	}
	ctx := context.Background()
	if mode, err := chooseSandbox(ctx, "/", SandboxAuto, nil); err != nil || mode != SandboxDirect {
		t.Fatalf("sandbox for /: %s, %v", mode, err)
	}
	d, err := deb.OpenFile(debPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := Install(ctx, "/", []*deb.Package{d}, InstallOptions{Arch: "amd64"}); err != nil {
		t.Fatal(err)
	}
}

func TestAddsInitramfsInput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		want  bool
	}{
		{"htop", []string{"/usr/bin/htop", "/usr/share/initramfs-tools"}, false},
		{"linux-image-6.12.0-amd64", nil, true},
		{"dracut-core", nil, true},
		{"initramfs-tools-core", nil, true},
		{"cryptsetup-initramfs", []string{"/usr/share/initramfs-tools/hooks", "/usr/share/initramfs-tools/hooks/cryptroot"}, true},
		{"some-dracut-module", []string{"/usr/lib/dracut/modules.d/90foo/module-setup.sh"}, true},
		{"docs", []string{"/usr/lib/dracut/modules.d/"}, false},
	} {
		u := &deb.Unpacked{Package: &deb.Package{Control: deb.Control{Fields: []deb.Field{{Name: "Package", Value: tc.name}}}}, Files: tc.files}
		if got := addsInitramfsInput([]*deb.Unpacked{u}); got != tc.want {
			t.Errorf("%s %v: %v, want %v", tc.name, tc.files, got, tc.want)
		}
	}
}

func TestInstallRefusesInterruptedBase(t *testing.T) {
	root := newRoot(t)
	if _, err := install(t, root, InstallOptions{Arch: "amd64"}, basePkg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/updates/0000"), []byte("Package: base-thing\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := tree(t, root)
	_, err := install(t, root, InstallOptions{}, newPkg)
	if err == nil || !strings.Contains(err.Error(), "dpkg --configure -a") {
		t.Fatalf("want the interrupted dpkg named, got %v", err)
	}
	assertSameTree(t, before, tree(t, root))
}
