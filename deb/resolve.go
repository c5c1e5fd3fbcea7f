package deb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
)

// ErrUnsafePath is wrapped by errors about entries that would be written
// outside the target root.
var ErrUnsafePath = errors.New("path escapes the target root")

// maxSymlinks bounds symlink expansion, like the kernel's ELOOP limit.
const maxSymlinks = 40

// cleanMember turns a data.tar member name into a root-relative path
// without leading or trailing slashes ("" for the root itself). Absolute
// names and ".." components are refused: dpkg-deb never writes them, and
// they are the classic way to escape the root.
func cleanMember(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("%w: absolute member name %q", ErrUnsafePath, name)
	}
	var parts []string
	for _, c := range strings.Split(name, "/") {
		switch c {
		case "", ".":
		case "..":
			return "", fmt.Errorf("%w: member name %q has a \"..\" component", ErrUnsafePath, name)
		default:
			parts = append(parts, c)
		}
	}
	return strings.Join(parts, "/"), nil
}

// listLine is the .list spelling of a root-relative path.
func listLine(rel string) string {
	if rel == "" {
		return "/."
	}
	return "/" + rel
}

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func parentRel(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[:i]
	}
	return ""
}

type dirCacheEntry struct {
	real string
	via  []int // creators of same-wave symlinks crossed on the way
}

// resolveDir returns the real root-relative path of the directory that the
// lexical path rel names, following symlinks inside the root and creating
// missing lexical components (as 0755 directories). Symlink targets are
// interpreted as in a chroot: absolute targets start at the root, and ".."
// may not climb above it. Nothing outside the root is ever looked at.
// It is not internal/rootpath: it creates directories, caches results shared
// across packages, records which same-wave links it crossed, and refuses
// (ErrUnsafePath) a link above the root where rootpath would clamp it.
func (u *unpacker) resolveDir(st *pkgState, rel string) (string, []int, error) {
	if rel == "" {
		return "", nil, nil
	}
	if v, ok := u.dirCache.Load(rel); ok {
		e := v.(dirCacheEntry)
		return e.real, e.via, nil
	}
	parent, via, err := u.resolveDir(st, parentRel(rel))
	if err != nil {
		return "", nil, err
	}
	real, via2, err := u.step(st, parent, path.Base(rel), true, 0)
	if err != nil {
		return "", nil, err
	}
	via = append(append([]int(nil), via...), via2...)
	u.dirCache.Store(rel, dirCacheEntry{real: real, via: via})
	return real, via, nil
}

// step resolves one component name inside the real directory cur and
// returns the real path of the directory it leads to. create allows making
// a missing component (only for lexical components of a member name; a
// missing symlink target is an error).
func (u *unpacker) step(st *pkgState, cur, name string, create bool, depth int) (string, []int, error) {
	next := joinRel(cur, name)
	for {
		fi, err := os.Lstat(u.abs(next))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if !create {
				return "", nil, fmt.Errorf("/%s does not exist in the root", next)
			}
			if err := os.Mkdir(u.abs(next), 0o755); err != nil {
				if errors.Is(err, fs.ErrExist) {
					continue // another package made it meanwhile
				}
				return "", nil, err
			}
			u.noteDirCreated(next, st)
			return next, nil, nil
		case err != nil:
			return "", nil, err
		case fi.IsDir():
			return next, nil, nil
		case fi.Mode()&fs.ModeSymlink != 0:
			return u.follow(st, cur, next, depth)
		default:
			return "", nil, fmt.Errorf("/%s is not a directory", next)
		}
	}
}

// follow expands the symlink at real path link, found in directory cur.
func (u *unpacker) follow(st *pkgState, cur, link string, depth int) (string, []int, error) {
	if depth >= maxSymlinks {
		return "", nil, fmt.Errorf("/%s: too many levels of symbolic links", link)
	}
	target, err := os.Readlink(u.abs(link))
	if err != nil {
		return "", nil, err
	}
	// Record the creator even when it is the caller: the result is cached
	// and reused by other packages.
	var via []int
	if c, ok := u.waveLink(link); ok {
		via = append(via, c)
	}
	r, v, err := u.walkTarget(st, cur, target, depth)
	if err == errAboveRoot {
		return "", nil, fmt.Errorf("%w: symlink /%s -> %s leads outside the root", ErrUnsafePath, link, target)
	}
	if err != nil {
		return "", nil, fmt.Errorf("via symlink /%s -> %s: %w", link, target, err)
	}
	return r, append(via, v...), nil
}

// errAboveRoot is walkTarget's report of a ".." above the root; callers
// turn it into an ErrUnsafePath error naming the link.
var errAboveRoot = errors.New("\"..\" above the root")

// walkTarget resolves a symlink target found in real directory dir to the
// real directory it names, without creating anything. It refuses to climb
// above the root, unlike a chroot, because a package whose links do so is
// broken or hostile. depth is the symlink nesting so far.
func (u *unpacker) walkTarget(st *pkgState, dir, target string, depth int) (string, []int, error) {
	r := dir
	if strings.HasPrefix(target, "/") {
		r = ""
	}
	var via []int
	for _, c := range strings.Split(target, "/") {
		switch c {
		case "", ".":
		case "..":
			if r == "" {
				return "", nil, errAboveRoot
			}
			r = parentRel(r)
		default:
			var v []int
			var err error
			if r, v, err = u.step(st, r, c, false, depth+1); err != nil {
				return "", nil, err
			}
			via = append(via, v...)
		}
	}
	return r, via, nil
}

// symlinkDir reports the real directory the existing symlink at real path
// link points to, or ok=false if it does not lead to a directory inside the
// root.
func (u *unpacker) symlinkDir(st *pkgState, link string) (string, bool) {
	r, _, err := u.follow(st, parentRel(link), link, 0)
	return r, err == nil
}

// targetDir resolves a would-be symlink target, written at real path link,
// to a real directory, without creating anything.
func (u *unpacker) targetDir(st *pkgState, link, target string) (string, bool) {
	r, _, err := u.walkTarget(st, parentRel(link), target, 0)
	return r, err == nil
}
