package rootpath

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// MaxSymlinks bounds the symlinks one resolution expands, like Linux's
// ELOOP limit.
const MaxSymlinks = 40

// Resolve returns the host path that rel (a path inside root, with or
// without a leading "/") names when root is seen as "/", without following
// a final symlink (like lstat), so the caller can act on the link itself.
//
// Symlinks in the other components are followed inside root: an absolute
// target restarts at root, and ".." (in rel or in a target) never climbs
// above root. ".." after a symlink goes to the parent of its target, as in
// the kernel. A trailing "/" does not make the last component followed; a
// trailing "/." does. More than MaxSymlinks expansions fail with an error
// wrapping syscall.ELOOP.
//
// A component that does not exist (or whose parent is not a directory,
// ENOTDIR) ends resolution without an error: the rest of the path is
// appended after it, with "." and ".." applied lexically but never above
// the missing component ("a/missing/../../x" gives root/a/missing/x), so
// the result can be created or reported as missing by the caller.
//
// The result is always root or below it. Other errors (a component that
// cannot be read) are returned wrapped, naming rel and root.
func Resolve(root, rel string) (string, error) { return resolveHost(root, rel, false) }

// ResolveFollow is Resolve that also follows a final symlink (like stat).
// A dangling final symlink gives the path its target would have.
func ResolveFollow(root, rel string) (string, error) { return resolveHost(root, rel, true) }

// FS is the read access resolution needs, with slash-separated names
// relative to the root ("a/b", never "." or a leading "/").
// fs.ReadLinkFS implementations satisfy it.
type FS interface {
	Lstat(name string) (fs.FileInfo, error)
	ReadLink(name string) (string, error)
}

// ResolveFS returns the symlink-free name ("." for the root) of name in
// fsys, resolved as Resolve does but strictly, as the kernel would: an
// error from fsys (a missing component among them) is returned as it is,
// a non-directory followed by more names is an *fs.PathError wrapping
// syscall.ENOTDIR, and too many symlinks one wrapping syscall.ELOOP. The
// final component is not followed; it need not exist.
func ResolveFS(fsys FS, name string) (string, error) { return resolveFS(fsys, name, false) }

// ResolveFollowFS is ResolveFS that also follows a final symlink, which
// must then lead to an existing file.
func ResolveFollowFS(fsys FS, name string) (string, error) { return resolveFS(fsys, name, true) }

func resolveHost(root, rel string, followLast bool) (string, error) {
	done, err := walk(hostFS(root), rel, followLast, true)
	if err != nil {
		return "", fmt.Errorf("resolve %s in %s: %w", rel, root, err)
	}
	return filepath.Join(append([]string{root}, done...)...), nil
}

func resolveFS(fsys FS, name string, followLast bool) (string, error) {
	done, err := walk(fsys, name, followLast, false)
	if errno, ok := err.(syscall.Errno); ok {
		return "", &fs.PathError{Op: "resolve", Path: name, Err: errno}
	}
	if err != nil {
		return "", err
	}
	if len(done) == 0 {
		return ".", nil
	}
	return strings.Join(done, "/"), nil
}

// walk resolves name in fsys and returns its components. With lenient, a
// missing component ends the walk as Resolve documents; without it, the
// walk fails as ResolveFS documents. Its own errors are bare
// syscall.Errno values; errors from fsys are returned as they are.
func walk(fsys FS, name string, followLast, lenient bool) ([]string, error) {
	todo := split(name)
	var done []string
	hops := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		if len(todo) == 0 && !followLast {
			return append(done, c), nil
		}
		cand := strings.Join(append(done[:len(done):len(done)], c), "/")
		fi, err := fsys.Lstat(cand)
		if err != nil {
			if lenient && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return append(append(done, c), clean(todo)...), nil
			}
			return nil, err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if !lenient && !fi.IsDir() && hasName(todo) {
				return nil, syscall.ENOTDIR
			}
			done = append(done, c)
			continue
		}
		if hops++; hops > MaxSymlinks {
			return nil, syscall.ELOOP
		}
		target, err := fsys.ReadLink(cand)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(target, "/") {
			done = done[:0]
		}
		todo = append(split(target), todo...)
	}
	return done, nil
}

// split returns the non-empty components of a slash-separated path.
func split(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// clean applies "." and ".." lexically to comps, never above the first.
func clean(comps []string) []string {
	var out []string
	for _, c := range comps {
		switch c {
		case ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, c)
		}
	}
	return out
}

// hasName reports whether comps holds a component other than ".".
func hasName(comps []string) bool {
	for _, c := range comps {
		if c != "." {
			return true
		}
	}
	return false
}

// hostFS reads a host directory; unlike os.DirFS it accepts any byte in a
// name (non-UTF-8 names occur in real trees).
type hostFS string

func (h hostFS) Lstat(name string) (fs.FileInfo, error) {
	return os.Lstat(filepath.Join(string(h), name))
}

func (h hostFS) ReadLink(name string) (string, error) {
	return os.Readlink(filepath.Join(string(h), name))
}
