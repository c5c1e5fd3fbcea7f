package rootpath

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/fstest"
)

// entry is one node of a test tree: a directory ("dir"), a symlink
// ("->target") or otherwise a regular file with that content.
type entry struct{ path, kind string }

func hostTree(t testing.TB, entries []entry) string {
	t.Helper()
	root := t.TempDir()
	for _, e := range entries {
		p := filepath.Join(root, e.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case e.kind == "dir":
			err = os.MkdirAll(p, 0o755)
		case strings.HasPrefix(e.kind, "->"):
			err = os.Symlink(strings.TrimPrefix(e.kind, "->"), p)
		default:
			err = os.WriteFile(p, []byte(e.kind), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func mapTree(entries []entry) fstest.MapFS {
	m := fstest.MapFS{}
	for _, e := range entries {
		switch {
		case e.kind == "dir":
			m[e.path] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
		case strings.HasPrefix(e.kind, "->"):
			m[e.path] = &fstest.MapFile{Mode: fs.ModeSymlink | 0o777, Data: []byte(strings.TrimPrefix(e.kind, "->"))}
		default:
			m[e.path] = &fstest.MapFile{Mode: 0o644, Data: []byte(e.kind)}
		}
	}
	return m
}

// chain returns symlinks link0 -> link1 -> ... -> link<n-1> -> /usr.
func chain(n int) []entry {
	var out []entry
	for i := 0; i < n; i++ {
		next := "link" + strconv.Itoa(i+1)
		if i == n-1 {
			next = "/usr"
		}
		out = append(out, entry{"chain" + strconv.Itoa(n) + "/link" + strconv.Itoa(i), "->" + next})
	}
	return out
}

// testTree is a small merged-/usr root with the links an attacker (or a
// careless package) could plant.
func testTree() []entry {
	e := []entry{
		{"usr/lib", "dir"},
		{"usr/lib/os-release", "ID=debian\n"},
		{"usr/bin", "dir"},
		{"etc", "dir"},
		{"lib", "->usr/lib"},
		{"bin", "->/usr/bin"},
		{"etc/os-release", "->../usr/lib/os-release"},
		{"etc/abs", "->/usr/lib/os-release"},
		{"etc/dirlink", "->/usr/lib"},
		{"etc/dangling", "->/nowhere/x"},
		{"etc/dangling-rel", "->../../../../nowhere"},
		{"etc/hostetc", "->/etc"},
		{"etc/up", "->../../../../etc/passwd"},
		{"escape", "->/../../../etc"},
		{"slashdotdot", "->/.."},
		{"dotdot3", "->../../.."},
		{"usr/up", "->../../.."},
		{"loop", "->loop"},
		{"ping", "->pong"},
		{"pong", "->ping"},
		{"deep", "->deep/x"},
		{"dotlink", "->."},
		{"filedot", "->usr/lib/os-release/."},
	}
	e = append(e, chain(MaxSymlinks)...)
	return append(e, chain(MaxSymlinks+1)...)
}

func TestResolve(t *testing.T) {
	root := hostTree(t, testTree())
	tests := []struct {
		rel    string
		follow bool
		want   string // relative to root; "ELOOP" for that error
	}{
		{rel: "", want: ""},
		{rel: "/", want: ""},
		{rel: ".", want: ""},
		{rel: "..", want: ""},
		{rel: "../../etc/shadow", want: "etc/shadow"},
		{rel: "/usr/lib/os-release", want: "usr/lib/os-release"},
		{rel: "usr//lib/./os-release", want: "usr/lib/os-release"},

		// The last component is followed only when asked.
		{rel: "lib", want: "lib"},
		{rel: "lib", follow: true, want: "usr/lib"},
		{rel: "lib/", want: "lib"},
		{rel: "lib/.", want: "usr/lib"},
		{rel: "lib/x", want: "usr/lib/x"},
		{rel: "/lib/../x", want: "usr/x"},
		{rel: "bin/sh", want: "usr/bin/sh"},
		{rel: "etc/os-release", want: "etc/os-release"},
		{rel: "etc/os-release", follow: true, want: "usr/lib/os-release"},
		{rel: "etc/abs", follow: true, want: "usr/lib/os-release"},
		{rel: "etc/dirlink/os-release", want: "usr/lib/os-release"},
		{rel: "/etc/dirlink/../lib/x", want: "usr/lib/x"},
		{rel: "dotlink/dotlink/lib", follow: true, want: "usr/lib"},

		// Attacks: nothing leads out of the root.
		{rel: "escape/passwd", want: "etc/passwd"},
		{rel: "escape", follow: true, want: "etc"},
		{rel: "slashdotdot/etc/passwd", want: "etc/passwd"},
		{rel: "slashdotdot", follow: true, want: ""},
		{rel: "dotdot3/etc/passwd", want: "etc/passwd"},
		{rel: "usr/up/etc", want: "etc"},
		{rel: "usr/up/../../..", want: ""},
		{rel: "etc/up", follow: true, want: "etc/passwd"},
		{rel: "etc/hostetc/passwd", want: "etc/passwd"},
		{rel: "etc/hostetc/shadow", follow: true, want: "etc/shadow"},

		// Missing components end resolution; the rest is cleaned below them.
		{rel: "etc/dangling", follow: true, want: "nowhere/x"},
		{rel: "etc/dangling", want: "etc/dangling"},
		{rel: "etc/dangling/y", want: "nowhere/x/y"},
		{rel: "etc/dangling-rel", follow: true, want: "nowhere"},
		{rel: "nowhere/a/../b", want: "nowhere/b"},
		{rel: "nowhere/../../../x", want: "nowhere/x"},
		{rel: "usr/nowhere/./a/", want: "usr/nowhere/a"},
		{rel: "lib/nowhere/lib", follow: true, want: "usr/lib/nowhere/lib"},
		// ENOTDIR counts as missing.
		{rel: "usr/lib/os-release/x", want: "usr/lib/os-release/x"},
		{rel: "usr/lib/os-release/x/../../y", follow: true, want: "usr/lib/os-release/x/y"},
		{rel: "filedot", follow: true, want: "usr/lib/os-release"},

		// Loops and the hop limit.
		{rel: "loop", want: "loop"},
		{rel: "loop", follow: true, want: "ELOOP"},
		{rel: "loop/x", want: "ELOOP"},
		{rel: "ping/x", want: "ELOOP"},
		{rel: "deep", follow: true, want: "ELOOP"},
		{rel: "chain40/link0/lib", want: "usr/lib"},
		{rel: "chain41/link0/lib", want: "ELOOP"},
	}
	for _, tc := range tests {
		name := tc.rel
		if tc.follow {
			name += " (follow)"
		}
		t.Run(name, func(t *testing.T) {
			resolve := Resolve
			if tc.follow {
				resolve = ResolveFollow
			}
			got, err := resolve(root, tc.rel)
			if tc.want == "ELOOP" {
				if !errors.Is(err, syscall.ELOOP) && !errors.Is(err, syscall.ENAMETOOLONG) {
					t.Fatalf("got %q, %v; want ELOOP", got, err)
				}
				if !strings.Contains(err.Error(), tc.rel) || !strings.Contains(err.Error(), root) {
					t.Errorf("error %q does not name %s in %s", err, tc.rel, root)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := filepath.Join(root, tc.want); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestResolveReadError(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any directory")
	}
	root := hostTree(t, []entry{{"locked/x", "data"}})
	if err := os.Chmod(filepath.Join(root, "locked"), 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(root, "locked"), 0o755) })
	_, err := ResolveFollow(root, "locked/x")
	if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "locked/x") {
		t.Fatalf("got %v, want a permission error naming locked/x", err)
	}
}

// TestResolveHostAbsoluteLink plants a link to a real host file by its
// absolute host path: it must name the same path inside the root.
func TestResolveHostAbsoluteLink(t *testing.T) {
	host := t.TempDir()
	secret := filepath.Join(host, "secret")
	if err := os.WriteFile(secret, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := hostTree(t, []entry{{"etc/x", "->" + secret}, {"etc/d", "->" + host}, {host, "dir"}})
	for rel, want := range map[string]string{
		"etc/x":        secret,
		"etc/d/secret": secret,
		"etc/d/" + strings.Repeat("../", 20) + "x": "x",
	} {
		got, err := ResolveFollow(root, rel)
		if err != nil {
			t.Fatal(err)
		}
		if got != filepath.Join(root, want) {
			t.Errorf("ResolveFollow(%s) = %s, want %s", rel, got, filepath.Join(root, want))
		}
	}
}

func TestResolveFS(t *testing.T) {
	fsys := mapTree(testTree())
	tests := []struct {
		name   string
		follow bool
		want   string // or an error: "ENOTDIR", "ELOOP", "ENOENT"
	}{
		{name: ".", want: "."},
		{name: "lib", want: "lib"},
		{name: "lib", follow: true, want: "usr/lib"},
		{name: "lib/os-release", follow: true, want: "usr/lib/os-release"},
		{name: "lib/missing", want: "usr/lib/missing"},
		{name: "etc/os-release", follow: true, want: "usr/lib/os-release"},
		{name: "etc/dirlink/os-release", want: "usr/lib/os-release"},
		{name: "escape", follow: true, want: "etc"},
		{name: "slashdotdot", follow: true, want: "."},
		{name: "dotdot3/usr/lib", want: "usr/lib"},
		{name: "usr/up/etc/hostetc", follow: true, want: "etc"},
		{name: "etc/up", follow: true, want: "ENOENT"},
		{name: "etc/dangling", follow: true, want: "ENOENT"},
		{name: "etc/dangling", want: "etc/dangling"},
		{name: "nowhere/x", want: "ENOENT"},
		{name: "usr/lib/os-release/x", want: "ENOTDIR"},
		{name: "usr/lib/os-release/../os-release", want: "ENOTDIR"},
		{name: "filedot", follow: true, want: "usr/lib/os-release"},
		{name: "loop", follow: true, want: "ELOOP"},
		{name: "ping/x", want: "ELOOP"},
		{name: "chain40/link0/lib", want: "usr/lib"},
		{name: "chain41/link0", follow: true, want: "ELOOP"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resolve := ResolveFS
			if tc.follow {
				resolve = ResolveFollowFS
			}
			got, err := resolve(fsys, tc.name)
			var wantErr error
			switch tc.want {
			case "ENOTDIR":
				wantErr = syscall.ENOTDIR
			case "ELOOP":
				wantErr = syscall.ELOOP
			case "ENOENT":
				wantErr = fs.ErrNotExist
			}
			if wantErr == nil {
				if err != nil || got != tc.want {
					t.Errorf("got %q, %v; want %q", got, err, tc.want)
				}
				return
			}
			var pe *fs.PathError
			if !errors.Is(err, wantErr) || !errors.As(err, &pe) {
				t.Fatalf("got %q, %v; want a *fs.PathError wrapping %v", got, err, wantErr)
			}
			if wantErr != fs.ErrNotExist && (pe.Op != "resolve" || pe.Path != tc.name) {
				t.Errorf("error %v: want op resolve on %s", err, tc.name)
			}
		})
	}
}

// FuzzResolve checks, for any path, that Resolve stays inside the root and
// agrees with the strict ResolveFS wherever that succeeds.
func FuzzResolve(f *testing.F) {
	root := hostTree(f, testTree())
	for _, s := range []string{"escape/x", "../../..", "lib/../..//etc", "etc/hostetc/../../x", "slashdotdot/..", "ping", "nowhere/../..", "usr/lib/os-release/.."} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, rel string, follow bool) {
		if strings.ContainsRune(rel, 0) {
			return
		}
		resolve, resolveFS := Resolve, ResolveFS
		if follow {
			resolve, resolveFS = ResolveFollow, ResolveFollowFS
		}
		got, err := resolve(root, rel)
		if err != nil {
			if !errors.Is(err, syscall.ELOOP) && !errors.Is(err, syscall.ENAMETOOLONG) {
				t.Fatalf("Resolve(%q): %v", rel, err)
			}
			return
		}
		if got != root && !strings.HasPrefix(got, root+"/") {
			t.Fatalf("Resolve(%q) = %s, outside %s", rel, got, root)
		}
		strict, err := resolveFS(hostFS(root), rel)
		if err == nil && filepath.Join(root, strict) != got {
			t.Errorf("Resolve(%q) = %s but ResolveFS gives %s", rel, got, strict)
		}
	})
}
