package deb

import (
	"archive/tar"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
	"golang.org/x/sys/unix"
)

// snapshot describes every entry under root (type, mode, owner, size,
// content hash, link target, mtime), so two calls compare equal only if
// nothing changed.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%s %o %d:%d %d %d", rel, st.Mode, st.Uid, st.Gid, st.Size, st.Mtim.Nano())
		switch {
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" %x", sha256.Sum256(b))
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			line += " -> " + l
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// installedBase makes a root with base-files' merged-/usr links and two
// installed packages, as compose leaves it, and opens its database.
func installedBase(t *testing.T) (string, *Database) {
	t.Helper()
	root := t.TempDir()
	base := []*Package{
		build(t, testdeb.Package{Name: "base-files", Version: "13", Files: []testdeb.File{
			{Path: "usr/bin", Type: tar.TypeDir}, {Path: "usr/share/doc", Type: tar.TypeDir},
			{Path: "bin", Type: tar.TypeSymlink, Link: "usr/bin"},
		}}),
		build(t, testdeb.Package{Name: "coreutils", Version: "9.7-3", Files: []testdeb.File{
			{Path: "usr/bin/ls", Mode: 0o755, Body: "ls from coreutils"},
			{Path: "usr/share/doc/coreutils/copyright", Body: "c"},
		}}),
		build(t, testdeb.Package{Name: "oldtool", Version: "1.0", Files: []testdeb.File{
			{Path: "usr/bin/tool", Mode: 0o755, Body: "tool 1.0"},
			{Path: "usr/bin/tool-helper", Mode: 0o755, Body: "helper"},
		}}),
	}
	res, err := Unpack(t.Context(), root, base, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteDatabase(t.Context(), root, res, DatabaseOptions{Arch: "amd64", Now: time.Unix(1750000000, 0)}); err != nil {
		t.Fatal(err)
	}
	db, err := OpenDatabase(root)
	if err != nil {
		t.Fatal(err)
	}
	return root, db
}

func TestUnpackOntoInstalledRefusesOverwrite(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name string
		pkg  testdeb.Package
		want []string // in the error
	}{
		{"no Replaces", testdeb.Package{Name: "newtool", Version: "2.0", Files: []testdeb.File{
			{Path: "usr/share/newtool/data", Body: "written first in tar order"},
			{Path: "usr/bin/tool", Mode: 0o755, Body: "tool 2.0"},
		}}, []string{"/usr/bin/tool", "newtool (2.0)", "oldtool (1.0)"}},
		{"Replaces an older version only", testdeb.Package{Name: "newtool", Version: "2.0", Fields: map[string]string{"Replaces": "oldtool (<< 1.0)"},
			Files: []testdeb.File{{Path: "usr/bin/tool", Mode: 0o755, Body: "tool 2.0"}}}, []string{"/usr/bin/tool", "oldtool"}},
		// Through the merged-/usr link: /bin/ls is coreutils' /usr/bin/ls.
		{"through a symlinked directory", testdeb.Package{Name: "lsclone", Files: []testdeb.File{
			{Path: "bin/ls", Mode: 0o755, Body: "clone"},
		}}, []string{"/usr/bin/ls", "lsclone", "coreutils (9.7-3)"}},
		{"directory over a file", testdeb.Package{Name: "dirpkg", Files: []testdeb.File{
			{Path: "usr/bin/tool-helper/x", Body: "x"},
		}}, []string{"/usr/bin/tool-helper", "dirpkg", "directory", "oldtool"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, db := installedBase(t)
			before := snapshot(t, root)
			_, err := Unpack(t.Context(), root, []*Package{build(t, tt.pkg)}, Options{Installed: db})
			if !errors.Is(err, ErrFileConflict) {
				t.Fatalf("err = %v, want ErrFileConflict", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
			if after := snapshot(t, root); after != before {
				t.Errorf("root changed by a refused unpack:\nbefore\n%s\nafter\n%s", before, after)
			}
		})
	}
}

func TestUnpackOntoInstalledReplaces(t *testing.T) {
	needRoot(t)
	root, db := installedBase(t)
	newtool := build(t, testdeb.Package{Name: "newtool", Version: "2.0", Fields: map[string]string{"Replaces": "oldtool (<< 2)"},
		Files: []testdeb.File{
			{Path: "usr/bin", Type: tar.TypeDir}, // shared with the base
			{Path: "usr/bin/tool", Mode: 0o755, Body: "tool 2.0"},
			{Path: "bin/newtool", Mode: 0o755, Body: "new"}, // through the link, no owner
		}})
	res, err := Unpack(t.Context(), root, []*Package{newtool}, Options{Installed: db})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "usr/bin/tool")); string(b) != "tool 2.0" {
		t.Errorf("usr/bin/tool = %q", b)
	}
	if want := []Takeover{{Path: "/usr/bin/tool", From: "oldtool"}}; !slices.Equal(res[0].TakenOver, want) {
		t.Errorf("TakenOver = %v, want %v", res[0].TakenOver, want)
	}
	if err := db.Add(t.Context(), res, DatabaseOptions{Now: time.Unix(1750000000, 0)}); err != nil {
		t.Fatal(err)
	}
	merged, err := OpenDatabase(root)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := merged.Owners("/usr/bin/tool"); !slices.Equal(o, []string{"newtool"}) {
		t.Errorf("owners of /usr/bin/tool after the merge = %v, want newtool", o)
	}
	old := merged.Lookup("oldtool", "")
	if files, _ := merged.Files(old); !slices.Equal(files, []string{"/.", "/usr", "/usr/bin", "/usr/bin/tool-helper"}) {
		t.Errorf("oldtool.list = %v", files)
	}
	if sums, _ := merged.MD5sums(old); len(sums) != 1 || sums["/usr/bin/tool-helper"] == "" {
		t.Errorf("oldtool.md5sums = %v", sums)
	}
	var names []string
	for _, p := range merged.Packages() {
		names = append(names, p.Name+"="+p.State)
	}
	if want := "base-files=unpacked coreutils=unpacked newtool=unpacked oldtool=unpacked"; strings.Join(names, " ") != want {
		t.Errorf("merged status: %v", names)
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/dpkg/status-old")); err != nil {
		t.Errorf("status-old not kept: %v", err)
	}
}

// TestUnpackNeverMakesDevices is the regression test for issue 10,
// defect 5: a package shipping a character device must not get one made
// on the build host.
func TestUnpackNeverMakesDevices(t *testing.T) {
	needRoot(t)
	p := build(t, testdeb.Package{Name: "mem", Files: []testdeb.File{
		{Path: "usr/share/mem", Type: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 1},
	}})
	root := t.TempDir()
	res, err := Unpack(t.Context(), root, []*Package{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&(fs.ModeDevice|fs.ModeCharDevice) != 0 {
			t.Errorf("device node %s in the root", p)
		}
		return nil
	})
	if len(res[0].Devices) != 1 || res[0].Devices[0].TmpfilesLine() != "c /usr/share/mem 0666 0 0 - 1:1" {
		t.Errorf("Devices = %+v", res[0].Devices)
	}
	if !slices.Contains(res[0].Files, "/usr/share/mem") {
		t.Errorf("/usr/share/mem not in the package's list: %v", res[0].Files)
	}
}

func TestUnpackPathFilters(t *testing.T) {
	needRoot(t)
	p := build(t, testdeb.Package{Name: "docs", NoMD5sums: true, Files: []testdeb.File{
		{Path: "usr/bin/docs", Mode: 0o755, Body: "bin"},
		{Path: "usr/share/doc/docs/README", Body: "readme"},
		{Path: "usr/share/doc/docs/copyright", Body: "copyright"},
		{Path: "usr/share/doc/docs/changelog.gz", Body: "log"},
		{Path: "usr/share/doc/docs/changelog.Debian.gz", Type: tar.TypeLink, Link: "usr/share/doc/docs/changelog.gz"},
		{Path: "usr/share/doc/other", Type: tar.TypeSymlink, Link: "docs"},
		{Path: "usr/share/man/man1/docs.1.gz", Body: "man"},
		{Path: "usr/share/locale/de/LC_MESSAGES/docs.mo", Body: "de"},
		{Path: "usr/share/locale/en_US/LC_MESSAGES/docs.mo", Body: "en"},
		{Path: "usr/share/locale/locale.alias", Body: "alias"},
	}})
	root := t.TempDir()
	res, err := Unpack(t.Context(), root, []*Package{p}, Options{
		PathExclude: []string{"/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*"},
		PathInclude: []string{"/usr/share/doc/*/copyright", "/usr/share/locale/en_US/*", "/usr/share/locale/locale.alias"},
	})
	if err != nil {
		t.Fatal(err)
	}
	exist := map[string]bool{
		"usr/bin/docs": true, "usr/share/doc/docs/copyright": true, "usr/share/doc/docs": true,
		"usr/share/locale/en_US/LC_MESSAGES/docs.mo": true, "usr/share/locale/locale.alias": true,
		"usr/share/doc/docs/README": false, "usr/share/doc/docs/changelog.gz": false, "usr/share/doc/docs/changelog.Debian.gz": false,
		"usr/share/man/man1/docs.1.gz": false, "usr/share/man/man1": false, "usr/share/locale/de": false,
		// A symlink is kept when an include's fixed prefix covers it, as dpkg does.
		"usr/share/doc/other": true,
	}
	for p, want := range exist {
		_, err := os.Lstat(filepath.Join(root, p))
		if got := err == nil; got != want {
			t.Errorf("/%s exists = %v, want %v", p, got, want)
		}
	}
	// dpkg keeps filtered paths in .list...
	for _, f := range []string{"/usr/share/doc/docs/README", "/usr/share/man/man1/docs.1.gz", "/usr/share/locale/de/LC_MESSAGES/docs.mo"} {
		if !slices.Contains(res[0].Files, f) {
			t.Errorf("%s missing from Files", f)
		}
	}
	// ...but hashes only what it wrote.
	sums := string(res[0].MD5sums)
	if strings.Contains(sums, "README") || strings.Contains(sums, "changelog") || !strings.Contains(sums, "usr/share/doc/docs/copyright") || !strings.Contains(sums, "usr/bin/docs") {
		t.Errorf("generated md5sums:\n%s", sums)
	}
	if _, err := Unpack(t.Context(), t.TempDir(), []*Package{p}, Options{PathExclude: []string{"usr/share/doc/*"}}); err == nil || !strings.Contains(err.Error(), "absolute") {
		t.Errorf("relative pattern: %v", err)
	}
}

func TestPathFilterSkip(t *testing.T) {
	f, err := newPathFilter([]string{"/usr/share/doc/*", "/usr/share/locale/*"}, []string{"/usr/share/doc/*/copyright", "/usr/share/locale/en*"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		typ  byte
		skip bool
	}{
		{"/usr/share/doc", tar.TypeDir, false},
		{"/usr/share/doc/a", tar.TypeDir, false}, // reincluded for the copyright
		{"/usr/share/doc/a/README", tar.TypeReg, true},
		{"/usr/share/doc/a/sub/copyright", tar.TypeReg, false}, // "*" matches "/"
		{"/usr/share/doc/a/copyright", tar.TypeReg, false},
		{"/usr/share/locale/de", tar.TypeDir, true},
		{"/usr/share/locale/en_GB/x.mo", tar.TypeReg, false},
		{"/usr/share/docs", tar.TypeReg, false},
		{"/usr/bin/x", tar.TypeReg, false},
	}
	for _, tt := range tests {
		if got := f.skip(tt.path, tt.typ); got != tt.skip {
			t.Errorf("skip(%s) = %v, want %v", tt.path, got, tt.skip)
		}
	}
}

// TestFnmatch checks fnmatch against cases whose results glibc's
// fnmatch(pattern, name, 0) gives.
func TestFnmatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		match         bool
	}{
		{"/usr/share/doc/*", "/usr/share/doc/a/b", true},
		{"/usr/share/doc/*", "/usr/share/doc", false},
		{"/usr/share/doc/*", "/usr/share/doc/", true},
		{"*", "", true},
		{"", "", true},
		{"", "a", false},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"?", "/", true},
		{"?", "", false},
		{"*.mo", "/x/.hidden.mo", true},
		{"[a-c]x", "bx", true},
		{"[a-c]x", "dx", false},
		{"[!a-c]x", "dx", true},
		{"[^a-c]x", "ax", false},
		{"[]]", "]", true},
		{"[!]]", "a", true},
		{"[a-]", "-", true},
		{"[", "[", true},
		{"a[", "a[", true},
		{"[ab", "[ab", true},
		{"\\*", "*", true},
		{"\\*", "a", false},
		{"a\\", "a\\", false},
		{"[\\]]", "]", true},
		{"/usr/share/locale/en*", "/usr/share/locale/en_US/LC_MESSAGES/x.mo", true},
		{"**/x", "/a/b/x", true},
	}
	for _, tt := range tests {
		if got := fnmatch(tt.pattern, tt.name); got != tt.match {
			t.Errorf("fnmatch(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.match)
		}
	}
}

// TestPathFiltersLikeDpkg unpacks one package with the same filters with
// the real dpkg and with Unpack: the trees, .list and generated md5sums
// must agree.
func TestPathFiltersLikeDpkg(t *testing.T) {
	needRoot(t)
	needTool(t, "dpkg")
	pkg := testdeb.Package{Name: "docs", NoMD5sums: true, Files: []testdeb.File{
		{Path: "usr/bin/docs", Mode: 0o755, Body: "bin"},
		{Path: "usr/share/doc/docs/README", Body: "readme"},
		{Path: "usr/share/doc/docs/copyright", Body: "copyright"},
		{Path: "usr/share/doc/docs/examples/a", Body: "a"},
		{Path: "usr/share/doc/docs/changelog.gz", Body: "log"},
		{Path: "usr/share/doc/docs/changelog.Debian.gz", Type: tar.TypeLink, Link: "usr/share/doc/docs/changelog.gz"},
		{Path: "usr/share/doc/other", Type: tar.TypeSymlink, Link: "docs"},
		{Path: "usr/share/man/man1/docs.1.gz", Body: "man"},
		{Path: "usr/share/locale/de/LC_MESSAGES/docs.mo", Body: "de"},
		{Path: "usr/share/locale/en_US/LC_MESSAGES/docs.mo", Body: "en"},
	}}
	exclude := []string{"/usr/share/doc/*", "/usr/share/man/*", "/usr/share/locale/*"}
	include := []string{"/usr/share/doc/*/copyright", "/usr/share/locale/en_US/*"}
	debPath, err := testdeb.Write(t.TempDir(), pkg)
	if err != nil {
		t.Fatal(err)
	}
	dpkgRoot := t.TempDir()
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		os.MkdirAll(filepath.Join(dpkgRoot, d), 0o755)
	}
	os.WriteFile(filepath.Join(dpkgRoot, "var/lib/dpkg/status"), nil, 0o644)
	args := []string{"--root=" + dpkgRoot, "--force-script-chrootless", "--unpack"}
	for _, e := range exclude {
		args = append(args, "--path-exclude="+e)
	}
	for _, i := range include {
		args = append(args, "--path-include="+i)
	}
	if out, err := exec.Command("dpkg", append(args, debPath)...).CombinedOutput(); err != nil {
		t.Fatalf("dpkg %v: %v\n%s", args, err, out)
	}
	ours := t.TempDir()
	res, err := Unpack(t.Context(), ours, []*Package{build(t, pkg)}, Options{PathExclude: exclude, PathInclude: include})
	if err != nil {
		t.Fatal(err)
	}
	tree := func(root string) string {
		var paths []string
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			rel, _ := filepath.Rel(root, p)
			if err == nil && rel != "." && !strings.HasPrefix(rel, "var") {
				paths = append(paths, rel+" "+d.Type().String())
			}
			return nil
		})
		return strings.Join(paths, "\n")
	}
	if a, b := tree(dpkgRoot), tree(ours); a != b {
		t.Errorf("trees differ:\ndpkg:\n%s\nours:\n%s", a, b)
	}
	// Compared as sets: dpkg lists the symlinks of a tar that does not
	// keep them last (dpkg-deb's order) after the other entries.
	list, _ := os.ReadFile(filepath.Join(dpkgRoot, "var/lib/dpkg/info/docs.list"))
	want := strings.Fields(string(list))
	got := slices.Clone(res[0].Files)
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf(".list:\ndpkg:\n%s\nours:\n%s", want, got)
	}
	sums, _ := os.ReadFile(filepath.Join(dpkgRoot, "var/lib/dpkg/info/docs.md5sums"))
	if string(sums) != string(res[0].MD5sums) {
		t.Errorf("generated md5sums:\ndpkg:\n%s\nours:\n%s", sums, res[0].MD5sums)
	}
}
