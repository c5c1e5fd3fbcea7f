package deb

import (
	"archive/tar"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
	"golang.org/x/sys/unix"
)

func TestUnpackMetadata(t *testing.T) {
	needRoot(t)
	p := build(t, testdeb.Package{Name: "meta", Compression: "xz", Files: []testdeb.File{
		{Path: "usr/bin/su", Mode: 0o4755, Body: "setuid"},
		{Path: "usr/bin/wall", Mode: 0o2755, GID: 5, Body: "setgid"},
		{Path: "home/user/f", Mode: 0o640, UID: 1000, GID: 1001, Body: "mine"},
		{Path: "tmp", Type: tar.TypeDir, Mode: 0o1777},
		{Path: "var/mail", Type: tar.TypeDir, Mode: 0o2775, GID: 8},
		{Path: "usr/bin/ping", Mode: 0o755, Body: "ping", Xattrs: map[string]string{"user.test": "v1", "security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}},
		{Path: "usr/bin/sh", Type: tar.TypeSymlink, Link: "dash", UID: 3, GID: 4},
		{Path: "usr/bin/su2", Type: tar.TypeLink, Link: "usr/bin/su"},
		{Path: "dev/null", Type: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
		{Path: "dev/sda", Type: tar.TypeBlock, Mode: 0o660, GID: 6, Devmajor: 8, Devminor: 0},
		{Path: "run/fifo", Type: tar.TypeFifo, Mode: 0o600},
	}})
	root := t.TempDir()
	res, err := Unpack(t.Context(), root, []*Package{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path     string
		mode     uint32 // full st_mode
		uid, gid uint32
		rdev     uint64
	}{
		{"usr/bin/su", unix.S_IFREG | 0o4755, 0, 0, 0},
		{"usr/bin/wall", unix.S_IFREG | 0o2755, 0, 5, 0},
		{"home/user/f", unix.S_IFREG | 0o640, 1000, 1001, 0},
		{"tmp", unix.S_IFDIR | 0o1777, 0, 0, 0},
		{"var/mail", unix.S_IFDIR | 0o2775, 0, 8, 0},
		{"usr/bin/sh", unix.S_IFLNK | 0o777, 3, 4, 0},
		{"run/fifo", unix.S_IFIFO | 0o600, 0, 0, 0},
	}
	for _, tt := range tests {
		var st unix.Stat_t
		if err := unix.Lstat(filepath.Join(root, tt.path), &st); err != nil {
			t.Errorf("%s: %v", tt.path, err)
			continue
		}
		if st.Mode != tt.mode || st.Uid != tt.uid || st.Gid != tt.gid || st.Rdev != tt.rdev {
			t.Errorf("%s: mode %o uid %d gid %d rdev %d, want %o %d %d %d", tt.path, st.Mode, st.Uid, st.Gid, st.Rdev, tt.mode, tt.uid, tt.gid, tt.rdev)
		}
		if tt.path != "tmp" && tt.path != "var/mail" && st.Mtim.Sec != 1700000000 {
			t.Errorf("%s: mtime %d", tt.path, st.Mtim.Sec)
		}
	}
	// Device nodes are recorded, never made on the host (issue 10, defect 5).
	for _, d := range []string{"dev/null", "dev/sda"} {
		if _, err := os.Lstat(filepath.Join(root, d)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("device node /%s made in the root: %v", d, err)
		}
	}
	wantDev := []Device{{Path: "/dev/null", Major: 1, Minor: 3, Mode: 0o666}, {Path: "/dev/sda", Block: true, Major: 8, Mode: 0o660, Gid: 6}}
	if !slices.Equal(res[0].Devices, wantDev) {
		t.Errorf("Devices = %+v, want %+v", res[0].Devices, wantDev)
	}
	if l, _ := os.Readlink(filepath.Join(root, "usr/bin/sh")); l != "dash" {
		t.Errorf("symlink target %q", l)
	}
	var a, b unix.Stat_t
	unix.Stat(filepath.Join(root, "usr/bin/su"), &a)
	unix.Stat(filepath.Join(root, "usr/bin/su2"), &b)
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hardlink: inodes %d %d nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	for name, want := range map[string]string{"user.test": "v1", "security.capability": "\x01\x00\x00\x02\x00\x20"} {
		buf := make([]byte, 64)
		n, err := unix.Lgetxattr(filepath.Join(root, "usr/bin/ping"), name, buf)
		if err != nil || !strings.HasPrefix(string(buf[:n]), want) {
			t.Errorf("xattr %s = %q, %v", name, buf[:max(n, 0)], err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(root, "usr/bin"))
	for _, e := range entries {
		if strings.Contains(e.Name(), "tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
	want := []string{"/.", "/usr", "/usr/bin", "/usr/bin/su", "/usr/bin/wall", "/home", "/home/user", "/home/user/f", "/tmp", "/var", "/var/mail",
		"/usr/bin/ping", "/usr/bin/sh", "/usr/bin/su2", "/dev", "/dev/null", "/dev/sda", "/run", "/run/fifo"}
	if !slices.Equal(res[0].Files, want) {
		t.Errorf("Files\n got %q\nwant %q", res[0].Files, want)
	}
}

// TestUnpackRefusesEscapes has one hostile package per attack. None may
// write anything outside the root.
func TestUnpackRefusesEscapes(t *testing.T) {
	needRoot(t)
	tests := []struct {
		name  string
		files []testdeb.File
		// preexisting symlinks in the root, name -> target
		links  map[string]string
		unsafe bool // must wrap ErrUnsafePath (otherwise: any error)
	}{
		{"dotdot", []testdeb.File{{RawName: "./../outside/x", Body: "pwned"}}, nil, true},
		{"absolute", []testdeb.File{{RawName: "/outside/x", Body: "pwned"}}, nil, true},
		{"dotdot inside", []testdeb.File{{RawName: "./a/../../outside/x", Body: "pwned"}}, nil, true},
		{"relative symlink out", []testdeb.File{
			{Path: "evil", Type: tar.TypeSymlink, Link: "../outside"},
			{Path: "evil/x", RawName: "./evil/x", Body: "pwned"}}, nil, true},
		{"relative symlink chain out", []testdeb.File{
			{Path: "a/b", Type: tar.TypeSymlink, Link: "../../outside"},
			{Path: "a/b/x", RawName: "./a/b/x", Body: "pwned"}}, nil, true},
		{"symlink to parent of root", []testdeb.File{
			{Path: "up", Type: tar.TypeSymlink, Link: "/.."},
			{Path: "up/outside/x", RawName: "./up/outside/x", Body: "pwned"}}, nil, true},
		{"preexisting relative symlink", []testdeb.File{{Path: "pre/x", RawName: "./pre/x", Body: "pwned"}}, map[string]string{"pre": "../outside"}, true},
		{"preexisting absolute symlink", []testdeb.File{{Path: "abs/x", RawName: "./abs/x", Body: "pwned"}}, map[string]string{"abs": "OUTSIDE"}, false},
		{"shipped absolute symlink", []testdeb.File{
			{Path: "abs", Type: tar.TypeSymlink, RawLink: "OUTSIDE"},
			{Path: "abs/x", RawName: "./abs/x", Body: "pwned"}}, nil, false},
		{"hardlink dotdot", []testdeb.File{{Path: "h", Type: tar.TypeLink, RawLink: "../outside/secret"}}, nil, true},
		{"hardlink absolute", []testdeb.File{{Path: "h", Type: tar.TypeLink, RawLink: "OUTSIDE/secret"}}, nil, true},
		{"hardlink through symlink", []testdeb.File{
			{Path: "s", Type: tar.TypeSymlink, Link: "../outside"},
			{Path: "h", Type: tar.TypeLink, RawLink: "./s/secret"}}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			top := t.TempDir()
			root := filepath.Join(top, "root")
			outside := filepath.Join(top, "outside")
			for _, d := range []string{root, outside} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600); err != nil {
				t.Fatal(err)
			}
			fix := func(s string) string { return strings.ReplaceAll(s, "OUTSIDE", outside) }
			for name, target := range tt.links {
				if err := os.Symlink(fix(target), filepath.Join(root, name)); err != nil {
					t.Fatal(err)
				}
			}
			files := slices.Clone(tt.files)
			for i := range files {
				files[i].RawName, files[i].RawLink = fix(files[i].RawName), fix(files[i].RawLink)
			}
			p := build(t, testdeb.Package{Name: "evil", Files: files})
			_, err := Unpack(t.Context(), root, []*Package{p}, Options{})
			if err == nil {
				t.Fatal("hostile package unpacked without error")
			}
			if !strings.Contains(err.Error(), "evil_1.0_amd64.deb") || (tt.unsafe && !errors.Is(err, ErrUnsafePath)) {
				t.Errorf("error %q: want the package name and ErrUnsafePath=%v", err, tt.unsafe)
			}
			var got []string
			filepath.WalkDir(outside, func(p string, d fs.DirEntry, err error) error {
				got = append(got, strings.TrimPrefix(p, outside))
				return nil
			})
			if !slices.Equal(got, []string{"", "/secret"}) {
				t.Errorf("outside the root changed: %q", got)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "secret" {
				t.Errorf("secret changed: %q", b)
			}
			tops, _ := os.ReadDir(top)
			if len(tops) != 2 {
				t.Errorf("the test's directory holds %d entries, want root and outside", len(tops))
			}
		})
	}
}

// TestUnpackInRootSymlinks checks that symlinks that stay inside the root,
// absolute ones included, are followed the way a chroot would.
func TestUnpackInRootSymlinks(t *testing.T) {
	needRoot(t)
	base := build(t, testdeb.Package{Name: "base-files", Files: []testdeb.File{
		{Path: "usr/lib", Type: tar.TypeDir},
		{Path: "usr/bin", Type: tar.TypeDir},
		{Path: "lib", Type: tar.TypeSymlink, Link: "usr/lib"},
		{Path: "bin", Type: tar.TypeSymlink, Link: "/usr/bin"},
	}})
	lib := build(t, testdeb.Package{Name: "libfoo", Files: []testdeb.File{
		{Path: "lib", Type: tar.TypeDir},
		{Path: "lib/libfoo.so.1", Body: "elf"},
		{Path: "bin", Type: tar.TypeDir},
		{Path: "bin/foo", Mode: 0o755, Body: "foo"},
		{Path: "bin/ln", Type: tar.TypeSymlink, Link: "/usr/bin"}, // same dir as the existing one: shared
	}})
	for _, order := range [][]*Package{{base, lib}, {lib, base}} {
		root := t.TempDir()
		res, err := Unpack(t.Context(), root, order, Options{Jobs: 2})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range []string{"lib", "bin"} {
			if fi, err := os.Lstat(filepath.Join(root, l)); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("/%s is no longer a symlink", l)
			}
		}
		for _, f := range []string{"usr/lib/libfoo.so.1", "usr/bin/foo"} {
			if _, err := os.Lstat(filepath.Join(root, f)); err != nil {
				t.Error(err)
			}
		}
		var libFiles []string
		for _, r := range res {
			if r.Package == lib {
				libFiles = r.Files
			}
		}
		if !slices.Contains(libFiles, "/lib/libfoo.so.1") || !slices.Contains(libFiles, "/lib") {
			t.Errorf("libfoo list %q", libFiles)
		}
	}
	// Without base-files going first the result would depend on timing,
	// so it must be an error in both orders.
	for _, order := range [][]*Package{{base, lib}, {lib, base}} {
		_, err := Unpack(t.Context(), t.TempDir(), order, Options{Jobs: 2, Early: []string{}})
		if !errors.Is(err, ErrFileConflict) || !strings.Contains(err.Error(), "Options.Early") {
			t.Errorf("parallel base-files: err %v", err)
		}
	}
}

func TestUnpackConflicts(t *testing.T) {
	needRoot(t)
	mk := func(name, version, body string, fields map[string]string) *Package {
		return build(t, testdeb.Package{Name: name, Version: version, Fields: fields, Files: []testdeb.File{
			{Path: "usr/bin/tool", Body: body},
			{Path: "usr/share/doc/" + name + "/copyright", Body: name},
		}})
	}
	tests := []struct {
		name    string
		a, b    *Package
		winner  string // "" means conflict error
		ordered bool   // the winner depends on list order: only try a, b
	}{
		{"no replaces", mk("a", "1", "A", nil), mk("b", "1", "B", nil), "", false},
		{"b replaces a", mk("a", "1", "A", nil), mk("b", "1", "B", map[string]string{"Replaces": "a"}), "b", false},
		{"versioned replaces matches", mk("a", "1.5", "A", nil), mk("b", "1", "B", map[string]string{"Replaces": "x, a (<< 2.0~)"}), "b", false},
		{"versioned replaces does not match", mk("a", "2.0", "A", nil), mk("b", "1", "B", map[string]string{"Replaces": "a (<< 2.0~)"}), "", false},
		{"mutual replaces, later wins", mk("a", "1", "A", map[string]string{"Replaces": "b"}), mk("b", "1", "B", map[string]string{"Replaces": "a"}), "b", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for run := 0; run < 4; run++ {
				pkgs := []*Package{tt.a, tt.b}
				if run%2 == 1 {
					if tt.ordered {
						continue
					}
					pkgs = []*Package{tt.b, tt.a}
				}
				root := t.TempDir()
				res, err := Unpack(t.Context(), root, pkgs, Options{Jobs: 2})
				if tt.winner == "" {
					if !errors.Is(err, ErrFileConflict) || !strings.Contains(err.Error(), "/usr/bin/tool") {
						t.Fatalf("err %v, want a file conflict on /usr/bin/tool", err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := os.ReadFile(filepath.Join(root, "usr/bin/tool")); string(b) != strings.ToUpper(tt.winner) {
					t.Fatalf("run %d: /usr/bin/tool holds %q, want %s's", run, b, tt.winner)
				}
				for _, r := range res {
					has := slices.Contains(r.Files, "/usr/bin/tool")
					if has != (r.Package.Name() == tt.winner) {
						t.Errorf("%s lists /usr/bin/tool: %v", r.Package.Name(), has)
					}
				}
			}
		})
	}
	// A mutual-Replaces tie goes to the later package in list order.
	a := mk("a", "1", "A", map[string]string{"Replaces": "b"})
	b := mk("b", "1", "B", map[string]string{"Replaces": "a"})
	root := t.TempDir()
	if _, err := Unpack(t.Context(), root, []*Package{b, a}, Options{Jobs: 2}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(root, "usr/bin/tool")); string(got) != "A" {
		t.Errorf("list order b,a: tool holds %q, want A", got)
	}
}

func TestUnpackMultiArchSame(t *testing.T) {
	needRoot(t)
	mk := func(arch, body string) *Package {
		return build(t, testdeb.Package{Name: "libx", Arch: arch, Fields: map[string]string{"Multi-Arch": "same"}, Files: []testdeb.File{
			{Path: "usr/lib/" + arch + "/libx.so", Body: arch},
			{Path: "usr/share/doc/libx/copyright", Body: body},
		}})
	}
	res, err := Unpack(t.Context(), t.TempDir(), []*Package{mk("amd64", "c"), mk("i386", "c")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !slices.Contains(r.Files, "/usr/share/doc/libx/copyright") {
			t.Errorf("%s lacks the shared file", r.Package)
		}
	}
	if _, err := Unpack(t.Context(), t.TempDir(), []*Package{mk("amd64", "c"), mk("i386", "different")}, Options{}); !errors.Is(err, ErrFileConflict) {
		t.Errorf("differing shared file: err %v", err)
	}
}

func TestUnpackConffiles(t *testing.T) {
	needRoot(t)
	p := build(t, testdeb.Package{Name: "cfg", NoMD5sums: true,
		Conffiles: []string{"/etc/cfg.conf", "remove-on-upgrade /etc/gone.conf"},
		Files: []testdeb.File{
			{Path: "etc/cfg.conf", Body: "a=1\n"},
			{Path: "etc/cfg-link.conf", Type: tar.TypeLink, Link: "etc/cfg.conf"},
			{Path: "usr/bin/cfg", Body: "bin"},
		}})
	root := t.TempDir()
	res, err := Unpack(t.Context(), root, []*Package{p}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/cfg.conf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("conffile written under its real name: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "etc/cfg.conf.dpkg-new")); string(b) != "a=1\n" {
		t.Errorf(".dpkg-new holds %q", b)
	}
	var s1, s2 syscall.Stat_t
	syscall.Stat(filepath.Join(root, "etc/cfg.conf.dpkg-new"), &s1)
	syscall.Stat(filepath.Join(root, "etc/cfg-link.conf"), &s2)
	if s1.Ino != s2.Ino {
		t.Error("hardlink to a conffile does not point at its .dpkg-new")
	}
	if !slices.Contains(res[0].Files, "/etc/cfg.conf") {
		t.Errorf("list %q lacks the conffile's real name", res[0].Files)
	}
	sums := string(res[0].MD5sums)
	for _, l := range []string{"  etc/cfg.conf\n", "  etc/cfg-link.conf\n", "  usr/bin/cfg\n"} {
		if !strings.Contains(sums, l) {
			t.Errorf("generated md5sums %q lack %q", sums, l)
		}
	}
	st := string(StatusStanza(res[0]))
	if !strings.Contains(st, "Conffiles:\n /etc/cfg.conf newconffile\n /etc/gone.conf newconffile remove-on-upgrade\n") {
		t.Errorf("status stanza:\n%s", st)
	}
}
