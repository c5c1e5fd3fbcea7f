package assemble

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/deb"
	"github.com/apt-ostree/apt-ostree/internal/testdeb"
)

func TestConfigureMinimal(t *testing.T) {
	for _, mode := range sandboxModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			root := newRoot(t, testdeb.Package{
				Name:    "hello",
				Files:   []testdeb.File{{Path: "usr/share/hello/x", Body: "x"}},
				Scripts: map[string]string{"postinst": "#!/bin/sh\nset -e\necho configured \"$@\" > /var/hello-postinst\n"},
			})
			if err := Configure(context.Background(), root, Options{Sandbox: mode}); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(root, "var/hello-postinst")); got != "configured configure \n" {
				t.Errorf("postinst saw %q", got)
			}
			if st := readFile(t, filepath.Join(root, deb.AdminDir, "status")); !strings.Contains(st, "Status: install ok installed") {
				t.Errorf("status:\n%s", st)
			}
		})
	}
}

func TestConfigureFailingPostinst(t *testing.T) {
	root := newRoot(t, testdeb.Package{
		Name:    "broken",
		Scripts: map[string]string{"postinst": "#!/bin/sh\necho first line\necho 'cannot frobnicate /etc/broken.conf' >&2\nexit 3\n"},
	}, testdeb.Package{Name: "dependent", Fields: map[string]string{"Depends": "broken"}})
	err := Configure(context.Background(), root, Options{})
	var se *ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("want ScriptError, got %v", err)
	}
	if se.Package != "broken" || se.Script != "postinst" || !strings.Contains(se.Status, "exit status 3") {
		t.Errorf("got %+v", se)
	}
	if strings.Join(se.Output, "\n") != "first line\ncannot frobnicate /etc/broken.conf" {
		t.Errorf("output %q", se.Output)
	}
	msg := err.Error()
	for _, want := range []string{"broken", "postinst", "cannot frobnicate", "dependent"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

// The spec's recipe (§6 step 5, what mmdebstrap effectively gives): every
// package is unpacked and known to dpkg before any preinst runs; preinsts
// run base-passwd first, then each after those of its Pre-Depends; nothing
// is configured yet; the DPKG_* environment is set.
func TestPreinstOrderAndEnvironment(t *testing.T) {
	logTo := "echo \"$DPKG_MAINTSCRIPT_PACKAGE $DPKG_MAINTSCRIPT_NAME $*\" >> /var/preinst-order\n"
	root := newRoot(t,
		testdeb.Package{Name: "aa-app", Fields: map[string]string{"Pre-Depends": "zz-lib (>= 1.0)"},
			Files: []testdeb.File{{Path: "usr/share/aa-app/x", Body: "x"}},
			Scripts: map[string]string{"preinst": "#!/bin/sh\nset -e\n" + logTo +
				"test -f /usr/share/zz-lib/marker\n" +
				"test -f /usr/share/aa-app/x\n" +
				"test \"$(dpkg-query -W -f='${Status}' zz-lib)\" = 'install ok unpacked'\n" +
				"test \"$DPKG_MAINTSCRIPT_ARCH\" = amd64 && test -n \"$DPKG_RUNNING_VERSION\" && test \"$DPKG_ADMINDIR\" = /var/lib/dpkg\n"}},
		testdeb.Package{Name: "zz-lib", Files: []testdeb.File{{Path: "usr/share/zz-lib/marker", Body: "m"}},
			Scripts: map[string]string{"preinst": "#!/bin/sh\n" + logTo}},
		testdeb.Package{Name: "aaa-early", Scripts: map[string]string{"preinst": "#!/bin/sh\n" + logTo}},
		testdeb.Package{Name: "base-passwd", Scripts: map[string]string{"preinst": "#!/bin/sh\n" + logTo}},
		testdeb.Package{Name: "no-preinst"},
	)
	if err := Configure(context.Background(), root, Options{}); err != nil {
		t.Fatal(err)
	}
	want := "base-passwd preinst install\naaa-early preinst install\nzz-lib preinst install\naa-app preinst install\n"
	if got := readFile(t, filepath.Join(root, "var/preinst-order")); got != want {
		t.Errorf("preinst order:\n%s\nwant:\n%s", got, want)
	}
}

func TestPreinstOrderGiven(t *testing.T) {
	pkgs := []pkgState{{Name: "a"}, {Name: "b", PreDepends: "c"}, {Name: "c"}, {Name: "d", Arch: "amd64"}}
	got, err := orderPreinsts(pkgs, []string{"d:amd64", "b"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	if strings.Join(names, " ") != "d b a c" {
		t.Errorf("order %v", names)
	}
}

func TestPreinstOrderComputed(t *testing.T) {
	tests := []struct {
		pkgs []pkgState
		want string
	}{
		{[]pkgState{{Name: "b"}, {Name: "a"}}, "a b"},
		{[]pkgState{{Name: "a", PreDepends: "b"}, {Name: "b"}}, "b a"},
		{[]pkgState{{Name: "a", PreDepends: "virt | x"}, {Name: "b", Provides: "virt (= 1)"}}, "b a"},
		{[]pkgState{{Name: "a", PreDepends: "b"}, {Name: "b", PreDepends: "a"}, {Name: "c", PreDepends: "a"}}, "a b c"},
		{[]pkgState{{Name: "a", PreDepends: "missing, c:any (>= 2)"}, {Name: "base-passwd", PreDepends: "c"}, {Name: "c"}}, "c base-passwd a"},
	}
	for _, tt := range tests {
		var names []string
		for _, p := range preinstOrder(tt.pkgs) {
			names = append(names, p.Name)
		}
		if got := strings.Join(names, " "); got != tt.want {
			t.Errorf("%+v: got %q want %q", tt.pkgs, got, tt.want)
		}
	}
}

func TestFailingPreinst(t *testing.T) {
	root := newRoot(t, testdeb.Package{Name: "bad", Scripts: map[string]string{"preinst": "#!/bin/sh\necho refusing to install >&2\nexit 1\n"}})
	err := Configure(context.Background(), root, Options{})
	var se *ScriptError
	if !errors.As(err, &se) || se.Package != "bad" || se.Script != "preinst" || strings.Join(se.Output, "") != "refusing to install" {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, policyRcD)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("policy-rc.d left after a failure: %v", err)
	}
}

// Services must not start, helpers must be gone afterwards (also what they
// replaced must be back), and nothing may leak out of the root.
func TestSandboxConventions(t *testing.T) {
	for _, mode := range sandboxModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			escape := filepath.Join(os.TempDir(), "assemble-escape-"+mode.String())
			os.Remove(escape)
			root := newRoot(t, testdeb.Package{Name: "svc", Scripts: map[string]string{"postinst": "#!/bin/sh\n" +
				"/usr/sbin/policy-rc.d svc start; echo \"policy $?\" > /var/svc\n" +
				"start-stop-daemon --start --exec /bin/sleep -- 1000 2>> /var/svc; echo \"ssd $?\" >> /var/svc\n" +
				"grep -c : /proc/net/dev >> /var/svc\n" +
				"test -c /dev/null && test -c /dev/urandom && echo devices >> /var/svc\n" +
				"grep -q unsafe-io /etc/dpkg/dpkg.cfg.d/* && echo unsafe-io >> /var/svc\n" +
				"touch /tmp/x /run/x " + escape + "\n"}})
			// A root that already has its own start-stop-daemon and policy-rc.d.
			ssdBefore := readFile(t, filepath.Join(root, ssdPath))
			if err := os.WriteFile(filepath.Join(root, policyRcD), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
				t.Fatal(err)
			}
			before := tree(t, root)
			if err := Configure(context.Background(), root, Options{Sandbox: mode}); err != nil {
				t.Fatal(err)
			}
			got := readFile(t, filepath.Join(root, "var/svc"))
			for _, want := range []string{"policy 101", "ignored", "ssd 0", "\n1\n", "devices", "unsafe-io"} {
				if !strings.Contains(got, want) {
					t.Errorf("postinst saw %q, want %q in it", got, want)
				}
			}
			if _, err := os.Stat(escape); err == nil {
				os.Remove(escape)
				t.Errorf("postinst wrote %s on the host", escape)
			}
			after := tree(t, root)
			for p, d := range after {
				if strings.HasPrefix(p, "var/lib/dpkg") || p == "var/svc" || p == "var" {
					continue
				}
				if before[p] != d {
					t.Errorf("%s changed: %q -> %q", p, before[p], d)
				}
			}
			for p := range before {
				if _, ok := after[p]; !ok && !strings.HasPrefix(p, "var/lib/dpkg") {
					t.Errorf("%s disappeared", p)
				}
			}
			if readFile(t, filepath.Join(root, ssdPath)) != ssdBefore {
				t.Error("start-stop-daemon not restored")
			}
		})
	}
}

func TestSandboxHealsInterruptedRun(t *testing.T) {
	root := newRoot(t)
	ssd := filepath.Join(root, ssdPath)
	orig := readFile(t, ssd)
	// As left by a run killed before Close.
	if err := os.Rename(ssd, ssd+savedSuffix); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(ssd, []byte(ssdBody), 0o755)
	os.WriteFile(filepath.Join(root, policyRcD), []byte(policyRcDBody), 0o755)
	sb, err := OpenSandbox(context.Background(), root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Close(); err != nil {
		t.Fatal(err)
	}
	if readFile(t, ssd) != orig {
		t.Error("start-stop-daemon not restored")
	}
	for _, p := range []string{policyRcD, ssdPath + savedSuffix, dpkgCfg, "etc/dpkg"} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s left", p)
		}
	}
}
