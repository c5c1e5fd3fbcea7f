package assemble

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/apt-ostree/apt-ostree/deb"
	"github.com/apt-ostree/apt-ostree/internal/testdeb"
)

// Hermetic test roots have no Debian packages to provide a shell and dpkg,
// so the host's own binaries (dash as /bin/sh, dpkg, a few coreutils,
// systemctl) and the libraries ldd names are copied in, merged-/usr style.
// Inside the sandbox they are "the root's own" tools; the host only needs
// dpkg and systemd installed, as every Debian machine has.
var hostTools = []string{"sh", "dpkg", "dpkg-query", "dpkg-trigger", "dpkg-deb", "dpkg-divert", "rm", "cat", "touch", "ls", "mkdir", "tar", "env", "sleep", "grep", "ldconfig", "start-stop-daemon"}

// optionalHostTools are copied only when the host has them, so the template
// builds anywhere; the unit-enabling step test needs systemctl in the root.
var optionalHostTools = []string{"systemctl", "diff"}

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

func inCI() bool { return os.Getenv("CI") == "true" }

// needRoot skips (or, in CI, fails) when the test cannot create namespaces.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if inCI() {
			t.Fatal("assemble tests need root (namespaces, chroot) in CI")
		}
		t.Skip("needs root")
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if templateDir != "" {
		os.RemoveAll(templateDir)
	}
	os.Exit(code)
}

func buildTemplate() (string, error) {
	dir, err := os.MkdirTemp("", "assemble-tmpl-")
	if err != nil {
		return "", err
	}
	for _, d := range []string{"usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "etc", "var/lib/dpkg", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", err
		}
	}
	for l, target := range map[string]string{"bin": "usr/bin", "sbin": "usr/sbin", "lib": "usr/lib", "lib64": "usr/lib64"} {
		if err := os.Symlink(target, filepath.Join(dir, l)); err != nil {
			return "", err
		}
	}
	tools := append([]string(nil), hostTools...)
	for _, tool := range optionalHostTools {
		if _, err := exec.LookPath(tool); err == nil {
			tools = append(tools, tool)
		}
	}
	files, err := testdeb.HostToolFiles(tools)
	if err != nil {
		return "", err
	}
	for _, f := range files {
		b, mode, err := f.Read()
		if err != nil {
			return "", err
		}
		dst := filepath.Join(dir, f.Path)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(dst, b, mode); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// newRoot returns a fresh root with the host tools, the given packages
// unpacked by package deb and their database written ("install ok unpacked").
func newRoot(t *testing.T, pkgs ...testdeb.Package) string {
	t.Helper()
	return newRootIn(t, t.TempDir(), pkgs...)
}

// newRootIn is newRoot in the directory parent.
func newRootIn(t *testing.T, parent string, pkgs ...testdeb.Package) string {
	t.Helper()
	needRoot(t)
	templateOnce.Do(func() { templateDir, templateErr = buildTemplate() })
	if templateErr != nil {
		t.Fatalf("build test root template: %v", templateErr)
	}
	root := filepath.Join(parent, "root")
	if out, err := exec.Command("cp", "-a", templateDir, root).CombinedOutput(); err != nil {
		t.Fatalf("copy template: %v: %s", err, out)
	}
	unpack(t, root, pkgs...)
	return root
}

// unpack adds packages to root as compose will: deb.Unpack then deb.WriteDatabase.
func unpack(t *testing.T, root string, pkgs ...testdeb.Package) {
	t.Helper()
	ctx := context.Background()
	var opened []*deb.Package
	for _, p := range pkgs {
		b, err := testdeb.Build(p)
		if err != nil {
			t.Fatal(err)
		}
		dp, err := deb.Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		opened = append(opened, dp)
	}
	u, err := deb.Unpack(ctx, root, opened, deb.Options{Early: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := deb.WriteDatabase(ctx, root, u, deb.DatabaseOptions{Arch: "amd64"}); err != nil {
		t.Fatal(err)
	}
}

// tree lists every path under root with its type and size, to compare a
// root before and after an operation.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		desc := fi.Mode().String()
		if fi.Mode().IsRegular() {
			b, _ := os.ReadFile(p)
			desc += " " + string(b)
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sandboxModes(t *testing.T) []SandboxMode {
	modes := []SandboxMode{SandboxChroot}
	if bwrapWorks(context.Background()) {
		modes = append(modes, SandboxBwrap)
	} else if inCI() {
		t.Fatal("bwrap does not work here; CI installs bubblewrap")
	}
	return modes
}
