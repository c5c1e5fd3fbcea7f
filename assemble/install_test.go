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

var _ = exec.Command
