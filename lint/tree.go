package lint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"syscall"

	"github.com/apt-ostree/apt-ostree/internal/rootpath"
)

// Owner is implemented by FileInfo.Sys() values that know who owns a file.
// Without it, lint also understands any struct (or pointer to one) with
// integer fields Uid and Gid, such as *syscall.Stat_t and *tar.Header.
type Owner interface {
	Owner() (uid, gid uint32)
}

// MountFS is implemented by file systems that can have mount points (a live
// directory tree). Recursive lints do not descend into directory mount points.
type MountFS interface {
	fs.FS
	IsMountPoint(name string) (bool, error)
}

// ownerOf returns the owner recorded in fi.Sys().
func ownerOf(fi fs.FileInfo) (uid, gid uint32, ok bool) {
	sys := fi.Sys()
	if o, isOwner := sys.(Owner); isOwner {
		uid, gid = o.Owner()
		return uid, gid, true
	}
	v := reflect.ValueOf(sys)
	for v.IsValid() && v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return 0, 0, false
		}
		v = v.Elem()
	}
	if !v.IsValid() || v.Kind() != reflect.Struct {
		return 0, 0, false
	}
	u, okU := intField(v, "Uid")
	g, okG := intField(v, "Gid")
	return u, g, okU && okG
}

func intField(v reflect.Value, name string) (uint32, bool) {
	f := v.FieldByName(name)
	switch {
	case !f.IsValid():
		return 0, false
	case f.CanUint():
		return uint32(f.Uint()), true
	case f.CanInt():
		return uint32(f.Int()), true
	}
	return 0, false
}

// resolveIn resolves name (slash-separated, relative to the root) the way the
// kernel would with the root as "/": absolute links and ".." stay inside it.
// The final component is resolved only when followLast is set. The result is
// "." for the root itself. lstat and readlink must not resolve anything.
func resolveIn(lstat func(string) (fs.FileInfo, error), readlink func(string) (string, error), name string, followLast bool) (string, error) {
	raw := rawFS{lstat: lstat, readLink: readlink}
	if followLast {
		return rootpath.ResolveFollowFS(raw, name)
	}
	return rootpath.ResolveFS(raw, name)
}

// rawFS is a tree's own Lstat and ReadLink, which take symlink-free names.
type rawFS struct {
	lstat    func(string) (fs.FileInfo, error)
	readLink func(string) (string, error)
}

func (r rawFS) Lstat(name string) (fs.FileInfo, error) { return r.lstat(name) }
func (r rawFS) ReadLink(name string) (string, error)   { return r.readLink(name) }

// isNotExist is true for errors that mean "there is nothing at this path".
func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// tree is the view of an image root the checks use.
type tree struct {
	ctx  context.Context
	fsys fs.FS
	// covers, for an image indexed with only what the lints read, says
	// whether a missing name is really missing (see imageNeeds).
	covers func(name string) bool
}

func newTree(ctx context.Context, fsys fs.FS) *tree {
	t := &tree{ctx: ctx, fsys: fsys}
	if img, ok := fsys.(*Image); ok && img.partial {
		t.covers = coveredByNeeds
	}
	return t
}

// absent is what a lookup of a missing name returns: nothing, or for a
// partial image index an error when the index cannot know (a lint reads a
// path that imageNeeds lacks), so that the omission is loud.
func (t *tree) absent(name string) error {
	if t.covers == nil || t.covers(name) {
		return nil
	}
	return fmt.Errorf("/%s is not in lint's image index: add it to imageNeeds in lint/image.go", name)
}

func (t *tree) rawLstat(name string) (fs.FileInfo, error) { return fs.Lstat(t.fsys, name) }
func (t *tree) rawReadLink(name string) (string, error)   { return fs.ReadLink(t.fsys, name) }

// resolve returns the symlink-free path of name inside the root.
func (t *tree) resolve(name string, followLast bool) (string, error) {
	return resolveIn(t.rawLstat, t.rawReadLink, name, followLast)
}

// lstat describes name without following a final symlink; ok is false when
// nothing is there. Symlinks in parent components are followed inside the root.
func (t *tree) lstat(name string) (fi fs.FileInfo, ok bool, err error) {
	p, err := t.resolve(name, false)
	if err == nil {
		fi, err = t.rawLstat(p)
	}
	if isNotExist(err) {
		return nil, false, t.absent(name)
	}
	if err != nil {
		return nil, false, fmt.Errorf("lstat /%s: %w", name, err)
	}
	return fi, true, nil
}

// stat describes name following symlinks inside the root.
func (t *tree) stat(name string) (fi fs.FileInfo, ok bool, err error) {
	p, err := t.resolve(name, true)
	if err == nil {
		fi, err = t.rawLstat(p)
	}
	if isNotExist(err) || errors.Is(err, syscall.ELOOP) {
		return nil, false, t.absent(name)
	}
	if err != nil {
		return nil, false, fmt.Errorf("stat /%s: %w", name, err)
	}
	return fi, true, nil
}

// readFile reads name following symlinks inside the root; ok is false when it is missing.
func (t *tree) readFile(name string) (data []byte, ok bool, err error) {
	p, err := t.resolve(name, true)
	if err == nil {
		data, err = fs.ReadFile(t.fsys, p)
	}
	if isNotExist(err) {
		return nil, false, t.absent(name)
	}
	if err != nil {
		return nil, false, fmt.Errorf("read /%s: %w", name, err)
	}
	return data, true, nil
}

// readDir lists the directory name (following symlinks), sorted by name.
func (t *tree) readDir(name string) ([]fs.DirEntry, error) {
	if err := t.ctx.Err(); err != nil {
		return nil, err
	}
	p, err := t.resolve(name, true)
	if err != nil {
		return nil, fmt.Errorf("read directory /%s: %w", name, err)
	}
	ents, err := fs.ReadDir(t.fsys, p)
	if err != nil {
		return nil, fmt.Errorf("read directory /%s: %w", name, err)
	}
	return ents, nil
}

// readLink returns the target of the symlink name.
func (t *tree) readLink(name string) (string, error) {
	p, err := t.resolve(name, false)
	if err == nil {
		var target string
		target, err = t.rawReadLink(p)
		if err == nil {
			return target, nil
		}
	}
	return "", fmt.Errorf("readlink /%s: %w", name, err)
}

// isMount reports whether name is a mount point; only live trees have them.
func (t *tree) isMount(name string) (bool, error) {
	m, ok := t.fsys.(MountFS)
	if !ok {
		return false, nil
	}
	mp, err := m.IsMountPoint(name)
	if err != nil {
		return false, fmt.Errorf("check mount point /%s: %w", name, err)
	}
	return mp, nil
}

// dirOpt reports whether name is (or links to) a directory; missing is false.
func (t *tree) isDir(name string) (bool, error) {
	fi, ok, err := t.stat(name)
	return ok && fi.IsDir(), err
}

// walk visits every entry below dir (a path inside the root) depth-first in
// name order, not following symlinks and not entering directory mount
// points. visit gets the entry's path relative to the root.
func (t *tree) walk(dir string, visit func(p string, d fs.DirEntry) error) error {
	real, err := t.resolve(dir, true)
	if err != nil {
		return fmt.Errorf("read directory /%s: %w", dir, err)
	}
	return t.walkReal(dir, real, visit)
}

// walkReal walks the symlink-free directory real, reporting paths under dir.
func (t *tree) walkReal(dir, real string, visit func(p string, d fs.DirEntry) error) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	ents, err := fs.ReadDir(t.fsys, real)
	if err != nil {
		return fmt.Errorf("read directory /%s: %w", dir, err)
	}
	for _, e := range ents {
		p := path.Join(dir, e.Name())
		if err := visit(p, e); err != nil {
			return err
		}
		if !e.IsDir() {
			continue
		}
		mp, err := t.isMount(path.Join(real, e.Name()))
		if err != nil {
			return err
		}
		if !mp {
			if err := t.walkReal(p, path.Join(real, e.Name()), visit); err != nil {
				return err
			}
		}
	}
	return nil
}
