package deb

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
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

// TestRealDebsOntoInstalledBase unpacks the .debs in APT_OSTREE_BENCH_DEBS
// (if set; the kernel is left out for time) twice: all at once, and as a
// base plus every fifth package unpacked onto it with Options.Installed.
// Real packages share directories, merged-/usr links and Multi-Arch paths:
// none of that may be taken for a conflict, and the merged database must
// equal the one written in one go.
func TestRealDebsOntoInstalledBase(t *testing.T) {
	dir := os.Getenv("APT_OSTREE_BENCH_DEBS")
	if dir == "" {
		t.Skip("APT_OSTREE_BENCH_DEBS not set")
	}
	needRoot(t)
	paths, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	var all, base, extra []*Package
	for _, p := range paths {
		pkg, err := OpenFile(p)
		if err != nil {
			t.Fatal(err)
		}
		defer pkg.Close()
		if pkg.dataSize > 32<<20 {
			continue
		}
		all = append(all, pkg)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Name() < all[j].Name() })
	for i, p := range all {
		if i%5 == 4 && p.Name() != "base-files" {
			extra = append(extra, p)
		} else {
			base = append(base, p)
		}
	}
	ctx := context.Background()
	now := DatabaseOptions{Arch: "amd64", Now: time.Unix(1750000000, 0)}
	once := t.TempDir()
	res, err := Unpack(ctx, once, all, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteDatabase(ctx, once, res, now); err != nil {
		t.Fatal(err)
	}
	twice := t.TempDir()
	res, err = Unpack(ctx, twice, base, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteDatabase(ctx, twice, res, now); err != nil {
		t.Fatal(err)
	}
	db, err := OpenDatabase(twice)
	if err != nil {
		t.Fatal(err)
	}
	res, err = Unpack(ctx, twice, extra, Options{Installed: db})
	if err != nil {
		t.Fatalf("%d packages onto a base of %d: %v", len(extra), len(base), err)
	}
	for _, r := range res {
		if len(r.TakenOver) > 0 {
			t.Logf("%s took over %v", r.Package.Name(), r.TakenOver)
		}
	}
	if err := db.Add(ctx, res, now); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"status", "arch", "triggers/File"} {
		a, _ := os.ReadFile(filepath.Join(once, AdminDir, f))
		b, _ := os.ReadFile(filepath.Join(twice, AdminDir, f))
		if f == "triggers/File" {
			a, b = sortedLines(a), sortedLines(b)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between one unpack and base + extra", f)
		}
	}
	lists, _ := filepath.Glob(filepath.Join(once, AdminDir, "info", "*.list"))
	for _, l := range lists {
		a, _ := os.ReadFile(l)
		b, err := os.ReadFile(filepath.Join(twice, AdminDir, "info", filepath.Base(l)))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between one unpack and base + extra (%v)", filepath.Base(l), err)
		}
	}
}

func sortedLines(b []byte) []byte {
	l := strings.Split(string(b), "\n")
	sort.Strings(l)
	return []byte(strings.Join(l, "\n"))
}
