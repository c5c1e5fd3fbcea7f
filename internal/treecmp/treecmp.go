// Package treecmp compares directory trees for tests (what a checkout or
// an unpack must reproduce): type, permission bits, owners, symlink
// targets, content and xattrs. It is test support for ostree and compose;
// it must not be imported by non-test code.
package treecmp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Entry is what is compared of one path.
type Entry struct {
	Kind     string // dir, file, link or other
	Perm     uint32 // permission bits (with setuid/setgid/sticky when Options.Special)
	UID, GID uint32 // when Options.Owners
	Target   string // symlink target
	Hash     string // sha256 of a file's content
	Xattrs   string // "name=hexvalue,..." sorted, empty values skipped, when Options.Xattrs
}

// Options choose what is compared besides type, permissions, targets and content.
type Options struct{ Owners, Xattrs, Special bool }

// Scan describes every path under root (relative, "." for root itself).
func Scan(root string, o Options) (map[string]Entry, error) {
	out := map[string]Entry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		e := Entry{Perm: st.Mode & 0o7777}
		if !o.Special {
			e.Perm &= 0o777
		}
		if o.Owners {
			e.UID, e.GID = st.Uid, st.Gid
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			e.Kind = "dir"
		case unix.S_IFLNK:
			e.Kind, e.Perm = "link", 0
			e.Target, _ = os.Readlink(p)
		case unix.S_IFREG:
			e.Kind = "file"
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			e.Hash = hex.EncodeToString(sum[:])
		default:
			e.Kind = "other"
		}
		if o.Xattrs {
			if e.Xattrs, err = xattrs(p); err != nil {
				return err
			}
		}
		out[rel] = e
		return nil
	})
	return out, err
}

// XattrString formats xattrs the way Entry.Xattrs holds them.
func XattrString(x map[string][]byte) string {
	names := make([]string, 0, len(x))
	for n, v := range x {
		if len(v) > 0 {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + "=" + hex.EncodeToString(x[n])
	}
	return strings.Join(parts, ",")
}

func xattrs(p string) (string, error) {
	size, err := unix.Llistxattr(p, nil)
	if errors.Is(err, unix.ENOTSUP) || size == 0 {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("llistxattr %s: %w", p, err)
	}
	buf := make([]byte, size)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return "", fmt.Errorf("llistxattr %s: %w", p, err)
	}
	x := map[string][]byte{}
	for _, name := range bytes.Split(buf[:n], []byte{0}) {
		if len(name) == 0 {
			continue
		}
		sz, err := unix.Lgetxattr(p, string(name), nil)
		if err != nil {
			return "", fmt.Errorf("lgetxattr %s %s: %w", p, name, err)
		}
		v := make([]byte, sz)
		if sz, err = unix.Lgetxattr(p, string(name), v); err != nil {
			return "", fmt.Errorf("lgetxattr %s %s: %w", p, name, err)
		}
		x[string(name)] = v[:sz]
	}
	return XattrString(x), nil
}

// Compare fails t unless the trees at want and got have the same paths
// with the same entries; it names up to ten differences.
func Compare(t testing.TB, want, got string, o Options) {
	t.Helper()
	a, err := Scan(want, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Scan(got, o)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	bad := 0
	for _, k := range keys {
		if a[k] != b[k] {
			if bad++; bad <= 10 {
				t.Errorf("%s: %s has %+v, %s has %+v", k, want, a[k], got, b[k])
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d paths differ between %s and %s", bad, want, got)
	}
}
