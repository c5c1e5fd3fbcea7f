package testdeb

import (
	"archive/tar"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDpkgDebAccepts uses the real dpkg-deb as the judge of the format.
func TestDpkgDebAccepts(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Fatal("dpkg-deb not installed (apt-get install dpkg)")
	}
	for _, comp := range []string{"gz", "xz", "zst", "none"} {
		t.Run(comp, func(t *testing.T) {
			dir := t.TempDir()
			p := Package{
				Name: "hello", Version: "1:2.0-1", Compression: comp,
				Fields:    map[string]string{"Depends": "libc6 (>= 2.36)"},
				Scripts:   map[string]string{"postinst": "#!/bin/sh\nexit 0\n"},
				Conffiles: []string{"/etc/hello.conf"},
				Files: []File{
					{Path: "usr/bin/hello", Mode: 0o755, Body: "#!/bin/sh\necho hi\n"},
					{Path: "etc/hello.conf", Body: "x=1\n"},
					{Path: "usr/bin/hi", Type: tar.TypeSymlink, Link: "hello"},
					{Path: "usr/bin/hello2", Type: tar.TypeLink, Link: "usr/bin/hello"},
				},
			}
			path, err := Write(dir, p)
			if err != nil {
				t.Fatal(err)
			}
			if filepath.Base(path) != "hello_2.0-1_amd64.deb" {
				t.Errorf("file name %s", path)
			}
			out, err := exec.Command("dpkg-deb", "--info", path).CombinedOutput()
			if err != nil {
				t.Fatalf("dpkg-deb --info: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "Depends: libc6 (>= 2.36)") || !strings.Contains(string(out), "postinst") {
				t.Errorf("dpkg-deb --info output:\n%s", out)
			}
			out, err = exec.Command("dpkg-deb", "--contents", path).CombinedOutput()
			if err != nil {
				t.Fatalf("dpkg-deb --contents: %v\n%s", err, out)
			}
			for _, want := range []string{"./usr/bin/hello", "./usr/bin/hi -> hello", "./usr/bin/hello2 link to ./usr/bin/hello", "./etc/hello.conf"} {
				if !strings.Contains(string(out), want) {
					t.Errorf("contents lack %q:\n%s", want, out)
				}
			}
			x := t.TempDir()
			if out, err := exec.Command("dpkg-deb", "-x", path, x).CombinedOutput(); err != nil {
				t.Fatalf("dpkg-deb -x: %v\n%s", err, out)
			}
		})
	}
}
