package bootc

import (
	"bytes"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

// entry describes one file of a test tree: "dir/" suffix for a directory,
// link for a symlink, else a regular file with data.
type entry struct {
	path string
	data string
	link string
	mode fs.FileMode // 0: 0755 for dirs, 0644 for files
}

func dir(p string, mode fs.FileMode) entry { return entry{path: p + "/", mode: unixMode(mode)} }

// unixMode turns octal setuid/setgid/sticky bits into fs.FileMode's.
func unixMode(m fs.FileMode) fs.FileMode {
	out := m & fs.ModePerm
	for bit, mode := range map[fs.FileMode]fs.FileMode{0o4000: fs.ModeSetuid, 0o2000: fs.ModeSetgid, 0o1000: fs.ModeSticky} {
		if m&bit != 0 {
			out |= mode
		}
	}
	return out
}
func file(p, data string) entry   { return entry{path: p, data: data} }
func link(p, target string) entry { return entry{path: p, link: target} }

// mkTree builds a root directory from ents, parents created 0755.
func mkTree(t testing.TB, ents ...entry) string {
	t.Helper()
	root := t.TempDir()
	for _, e := range ents {
		p := filepath.Join(root, strings.TrimSuffix(e.path, "/"))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch {
		case strings.HasSuffix(e.path, "/"):
			m := e.mode
			if m == 0 {
				m = 0o755
			}
			if err = os.MkdirAll(p, 0o755); err == nil {
				err = os.Chmod(p, m)
			}
		case e.link != "":
			err = os.Symlink(e.link, p)
		default:
			m := e.mode
			if m == 0 {
				m = 0o644
			}
			if err = os.WriteFile(p, []byte(e.data), m); err == nil {
				err = os.Chmod(p, m)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// listTree describes every entry under root, one per path:
// "d 0755", "f 0644 <data>", "l <target>", or "other <type>".
func listTree(t testing.TB, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := relPath(root, p)
		if rel == "" {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Sys().(*syscall.Stat_t).Mode & 0o7777
		switch fi.Mode().Type() {
		case fs.ModeDir:
			out[rel] = fmt.Sprintf("d %04o", mode)
		case fs.ModeSymlink:
			target, _ := os.Readlink(p)
			out[rel] = "l " + target
		case 0:
			data, _ := os.ReadFile(p)
			out[rel] = fmt.Sprintf("f %04o %s", mode, data)
		default:
			out[rel] = "other " + fi.Mode().Type().String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantTree checks that every path in want is described as given ("" means
// must be absent).
func wantTree(t testing.TB, root string, want map[string]string) {
	t.Helper()
	got := listTree(t, root)
	var keys []string
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if g, ok := got[k]; want[k] == "" && ok {
			t.Errorf("%s: want absent, have %q", k, g)
		} else if want[k] != "" && g != want[k] {
			t.Errorf("%s: want %q, have %q", k, want[k], g)
		}
	}
}

func readTestFile(t testing.TB, root, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// testOptions returns DefaultOptions logging into buf.
func testOptions(buf *bytes.Buffer) Options {
	o := DefaultOptions()
	o.Logger = slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return o
}

// wantErr checks err against a wanted substring ("" = no error).
func wantErr(t testing.TB, err error, sub string) {
	t.Helper()
	switch {
	case sub == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case sub != "" && err == nil:
		t.Fatalf("want error containing %q, got none", sub)
	case sub != "" && !strings.Contains(err.Error(), sub):
		t.Fatalf("want error containing %q, got %v", sub, err)
	}
}
