package deb

import (
	"bytes"
	"os"
	"os/exec"
	"testing"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
)

// build makes an in-memory .deb and opens it.
func build(t testing.TB, p testdeb.Package) *Package {
	t.Helper()
	b, err := testdeb.Build(p)
	if err != nil {
		t.Fatal(err)
	}
	pkg, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("open %s: %v", p.Filename(), err)
	}
	pkg.Filename = p.Filename()
	return pkg
}

// needTool fails under CI and skips elsewhere when a host tool is missing.
func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not installed (apt-get install dpkg)", name)
		}
		t.Skipf("%s not installed", name)
	}
}

func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("unpack tests need root (chown, mknod)")
		}
		t.Skip("needs root")
	}
}
