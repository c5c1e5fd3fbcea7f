package deb

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRealDebs unpacks the .debs in APT_OSTREE_BENCH_DEBS (if set), writes
// the database, and compares it with what dpkg-deb reports for each package.
func TestRealDebs(t *testing.T) {
	dir := os.Getenv("APT_OSTREE_BENCH_DEBS")
	if dir == "" {
		t.Skip("APT_OSTREE_BENCH_DEBS not set")
	}
	needRoot(t)
	needTool(t, "dpkg-deb")
	paths, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	var pkgs []*Package
	for _, p := range paths {
		pkg, err := OpenFile(p)
		if err != nil {
			t.Fatal(err)
		}
		defer pkg.Close()
		pkgs = append(pkgs, pkg)
	}
	root := t.TempDir()
	res, err := Unpack(context.Background(), root, pkgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteDatabase(context.Background(), root, res, DatabaseOptions{Arch: "amd64"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		out, err := exec.Command("sh", "-c", "dpkg-deb --fsys-tarfile \"$1\" | tar -t --quoting-style=literal", "sh", r.Package.Filename).Output()
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			l = strings.TrimSuffix(strings.TrimPrefix(l, "."), "/")
			if l == "" {
				l = "/."
			}
			want = append(want, l)
		}
		if strings.Join(want, "\n") != strings.Join(r.Files, "\n") {
			for i := range want {
				if i >= len(r.Files) || want[i] != r.Files[i] {
					got := "<end>"
					if i < len(r.Files) {
						got = r.Files[i]
					}
					t.Errorf("%s: .list line %d is %q, dpkg-deb says %q", r.Package, i+1, got, want[i])
					break
				}
			}
		}
		ctl, err := exec.Command("dpkg-deb", "-f", r.Package.Filename).Output()
		if err != nil {
			t.Fatal(err)
		}
		st := string(StatusStanza(r))
		for _, l := range strings.Split(strings.TrimSpace(string(ctl)), "\n") {
			if !strings.Contains(st, l+"\n") {
				t.Errorf("%s: status stanza lacks control line %q", r.Package, l)
			}
		}
	}
}
