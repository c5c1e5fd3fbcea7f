package ostree

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

// FileStat is what FileInfo.Sys returns for files of a commit's fs.FS.
type FileStat struct {
	Uid, Gid uint32
	Mode     uint32 // full st_mode: type and permission bits
	Xattrs   map[string][]byte
}

// FS returns a read-only view of a commit's tree. It implements fs.FS,
// fs.ReadDirFS, fs.StatFS and fs.ReadLinkFS; Open and Stat follow symlinks
// inside the commit (absolute targets resolve from the commit root).
// FileInfo.Sys() returns *FileStat. Modification times are the epoch, as in
// a checkout.
func (r *Repo) FS(ctx context.Context, rev string) (fs.FS, error) {
	c, err := r.ResolveRev(rev)
	if err != nil {
		return nil, err
	}
	cm, err := r.ReadCommit(c)
	if err != nil {
		return nil, err
	}
	return &commitFS{ctx: ctx, r: r, rootTree: cm.RootTree, rootMeta: cm.RootMeta, trees: map[Checksum]*DirTree{}}, nil
}

type commitFS struct {
	ctx                context.Context
	r                  *Repo
	rootTree, rootMeta Checksum

	mu    sync.Mutex
	trees map[Checksum]*DirTree
}

// fsNode is a resolved name: a directory (tree+meta) or a content object.
type fsNode struct {
	name       string
	dir        bool
	tree, meta Checksum
	content    Checksum
}

func (f *commitFS) dirTree(c Checksum) (*DirTree, error) {
	f.mu.Lock()
	t := f.trees[c]
	f.mu.Unlock()
	if t != nil {
		return t, nil
	}
	t, err := f.r.ReadDirTree(c)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.trees[c] = t
	f.mu.Unlock()
	return t, nil
}

func (f *commitFS) child(dir *fsNode, name string) (*fsNode, error) {
	t, err := f.dirTree(dir.tree)
	if err != nil {
		return nil, err
	}
	if i, ok := slices.BinarySearchFunc(t.Files, name, func(e DirTreeFile, n string) int { return strings.Compare(e.Name, n) }); ok {
		return &fsNode{name: name, content: t.Files[i].Checksum}, nil
	}
	if i, ok := slices.BinarySearchFunc(t.Dirs, name, func(e DirTreeDir, n string) int { return strings.Compare(e.Name, n) }); ok {
		return &fsNode{name: name, dir: true, tree: t.Dirs[i].TreeChecksum, meta: t.Dirs[i].MetaChecksum}, nil
	}
	return nil, fs.ErrNotExist
}

func (f *commitFS) header(n *fsNode) (*FileHeader, error) {
	return f.r.ReadContentHeader(n.content)
}

// resolve walks name from the root. Symlinks in directory components are
// always followed; the last component's symlink only when followLast.
func (f *commitFS) resolve(op, name string, followLast bool) (*fsNode, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if err := f.ctx.Err(); err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	root := &fsNode{name: ".", dir: true, tree: f.rootTree, meta: f.rootMeta}
	var stack []*fsNode // resolved ancestors of cur, for ".."
	cur := root
	todo := splitPath(name)
	hops := 0
	for len(todo) > 0 {
		elem := todo[0]
		todo = todo[1:]
		switch elem {
		case ".":
			continue
		case "..":
			if len(stack) > 0 {
				cur, stack = stack[len(stack)-1], stack[:len(stack)-1]
			}
			continue
		}
		if !cur.dir {
			return nil, &fs.PathError{Op: op, Path: name, Err: errors.New("not a directory")}
		}
		next, err := f.child(cur, elem)
		if err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		if !next.dir && (len(todo) > 0 || followLast) {
			h, err := f.header(next)
			if err != nil {
				return nil, &fs.PathError{Op: op, Path: name, Err: err}
			}
			if h.IsSymlink() {
				if hops++; hops > 40 {
					return nil, &fs.PathError{Op: op, Path: name, Err: errors.New("too many levels of symbolic links")}
				}
				target := h.SymlinkTarget
				if strings.HasPrefix(target, "/") {
					cur, stack = root, nil
				}
				todo = append(splitPath(target), todo...)
				continue
			}
		}
		stack = append(stack, cur)
		cur = next
	}
	if cur == root {
		return root, nil
	}
	return cur, nil
}

func splitPath(p string) []string {
	var out []string
	for _, e := range strings.Split(p, "/") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

func (f *commitFS) info(n *fsNode, name string) (*fileInfo, error) {
	fi := &fileInfo{name: path.Base(name)}
	if n.dir {
		m, err := f.r.ReadDirMeta(n.meta)
		if err != nil {
			return nil, err
		}
		fi.stat = FileStat{Uid: m.UID, Gid: m.GID, Mode: m.Mode, Xattrs: xattrMap(m.Xattrs)}
		return fi, nil
	}
	h, err := f.header(n)
	if err != nil {
		return nil, err
	}
	fi.stat = FileStat{Uid: h.UID, Gid: h.GID, Mode: h.Mode, Xattrs: xattrMap(h.Xattrs)}
	fi.size = int64(h.Size)
	if h.IsSymlink() {
		fi.size = int64(len(h.SymlinkTarget))
	}
	return fi, nil
}

func xattrMap(x []Xattr) map[string][]byte {
	m := make(map[string][]byte, len(x))
	for _, a := range x {
		m[a.Name] = a.Value
	}
	return m
}

func (f *commitFS) Open(name string) (fs.File, error) {
	n, err := f.resolve("open", name, true)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(n, name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if n.dir {
		return &dirFile{fs: f, node: n, info: fi, path: name}, nil
	}
	_, rc, err := f.r.OpenContent(n.content)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &regFile{rc: rc, info: fi}, nil
}

func (f *commitFS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.resolve("stat", name, true)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(n, name)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return fi, nil
}

// Lstat implements fs.ReadLinkFS.
func (f *commitFS) Lstat(name string) (fs.FileInfo, error) {
	n, err := f.resolve("lstat", name, false)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(n, name)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return fi, nil
}

// ReadLink implements fs.ReadLinkFS.
func (f *commitFS) ReadLink(name string) (string, error) {
	n, err := f.resolve("readlink", name, false)
	if err != nil {
		return "", err
	}
	if !n.dir {
		h, err := f.header(n)
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
		}
		if h.IsSymlink() {
			return h.SymlinkTarget, nil
		}
	}
	return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
}

func (f *commitFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.resolve("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	ents, err := f.readDir(n, name)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return ents, nil
}

// readDir lists a directory sorted by name, as fs.ReadDir requires.
func (f *commitFS) readDir(n *fsNode, name string) ([]fs.DirEntry, error) {
	t, err := f.dirTree(n.tree)
	if err != nil {
		return nil, err
	}
	ents := make([]fs.DirEntry, 0, len(t.Files)+len(t.Dirs))
	for _, e := range t.Files {
		ents = append(ents, &dirEntryInfo{fs: f, node: &fsNode{name: e.Name, content: e.Checksum}, path: path.Join(name, e.Name)})
	}
	for _, e := range t.Dirs {
		ents = append(ents, &dirEntryInfo{fs: f, node: &fsNode{name: e.Name, dir: true, tree: e.TreeChecksum, meta: e.MetaChecksum}, path: path.Join(name, e.Name)})
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return ents, nil
}

type fileInfo struct {
	name string
	size int64
	stat FileStat
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return unixToFileMode(fi.stat.Mode) }
func (fi *fileInfo) ModTime() time.Time { return time.Unix(0, 0) }
func (fi *fileInfo) IsDir() bool        { return fi.stat.Mode&modeTypeMask == modeDir }
func (fi *fileInfo) Sys() any           { return &fi.stat }

func unixToFileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & modeTypeMask {
	case modeDir:
		mode |= fs.ModeDir
	case modeSymlink:
		mode |= fs.ModeSymlink
	}
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

type dirEntryInfo struct {
	fs   *commitFS
	node *fsNode
	path string
}

func (d *dirEntryInfo) Name() string { return d.node.name }
func (d *dirEntryInfo) IsDir() bool  { return d.node.dir }
func (d *dirEntryInfo) Type() fs.FileMode {
	if d.node.dir {
		return fs.ModeDir
	}
	fi, err := d.Info()
	if err != nil {
		return 0
	}
	return fi.Mode().Type()
}
func (d *dirEntryInfo) Info() (fs.FileInfo, error) { return d.fs.info(d.node, d.path) }

type regFile struct {
	rc   io.ReadCloser
	info *fileInfo
}

func (f *regFile) Read(p []byte) (int, error) { return f.rc.Read(p) }
func (f *regFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *regFile) Close() error               { return f.rc.Close() }

type dirFile struct {
	fs   *commitFS
	node *fsNode
	info *fileInfo
	path string
	ents []fs.DirEntry
	read bool
}

func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.path, Err: errors.New("is a directory")}
}
func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Close() error               { return nil }

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		ents, err := d.fs.readDir(d.node, d.path)
		if err != nil {
			return nil, fmt.Errorf("readdir %s: %w", d.path, err)
		}
		d.ents, d.read = ents, true
	}
	if n <= 0 {
		out := d.ents
		d.ents = nil
		return out, nil
	}
	if len(d.ents) == 0 {
		return nil, io.EOF
	}
	n = min(n, len(d.ents))
	out := d.ents[:n]
	d.ents = d.ents[n:]
	return out, nil
}
