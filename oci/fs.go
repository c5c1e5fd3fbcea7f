package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/apt-ostree/apt-ostree/internal/rootpath"
)

// Selection is what an FS keeps of one layer entry.
type Selection int

const (
	// Skip leaves the entry out: the FS does not show it, but it still
	// replaces what lower layers had at its path, and its parent
	// directories exist.
	Skip Selection = iota
	// Index keeps the entry's metadata; its content is read on demand by
	// streaming its layer again.
	Index
	// Cache keeps the content in memory too, within FSOptions.MaxCache.
	Cache
)

// FSOptions tune NewFS.
type FSOptions struct {
	// Select decides for every entry that is not a directory or a symlink
	// (those are always indexed, so paths resolve). Nil indexes everything.
	// name is the entry's cleaned path.
	Select func(name string, hdr *tar.Header) Selection
	// MaxCache bounds the bytes of content kept in memory (default 256 MiB);
	// past it, selected files are read on demand.
	MaxCache int64
	// MaxCachedFile bounds one cached file (default 64 MiB).
	MaxCachedFile int64
}

// FS is the flattened root filesystem of an Image, indexed from its layer
// tars (whiteouts applied) in one streaming pass, without unpacking
// anything: the memory it holds is that of the directories, symlinks and
// the entries FSOptions.Select keeps. Every layer's digest and diff_id are
// verified while it is indexed. FS implements fs.ReadLinkFS, fs.ReadDirFS
// and fs.StatFS; FileInfo.Sys() has an Owner() (uid, gid uint32) method.
// Names need not be UTF-8.
type FS struct {
	img    *Image
	root   *node
	budget int64
	opts   FSOptions
	// wanted are hard link targets that Select skipped but a selected
	// link needs: NewFS indexes the layers again to find them.
	wanted map[string]Selection
}

var (
	_ fs.ReadLinkFS = (*FS)(nil)
	_ fs.ReadDirFS  = (*FS)(nil)
	_ fs.StatFS     = (*FS)(nil)
)

type node struct {
	name     string
	mode     fs.FileMode
	uid, gid uint32
	size     int64
	mtime    int64
	link     string // symlink target; for an unresolved hard link, its target
	data     []byte // content, when cached
	cached   bool
	layer    int32 // the layer the entry comes from, and where its content is
	ordinal  int32 // tar entry number in that layer
	children map[string]*node
}

// NewFS indexes img's layers, lowest first.
func NewFS(ctx context.Context, img *Image, opts FSOptions) (*FS, error) {
	if opts.MaxCache == 0 {
		opts.MaxCache = 256 << 20
	}
	if opts.MaxCachedFile == 0 {
		opts.MaxCachedFile = 64 << 20
	}
	f, err := indexFS(ctx, img, opts, nil)
	if err != nil || len(f.wanted) == 0 || opts.Select == nil {
		return f, err
	}
	// Hard links (ostree-ext images link every file to its object) whose
	// targets were skipped: index once more, keeping those targets.
	return indexFS(ctx, img, opts, f.wanted)
}

func indexFS(ctx context.Context, img *Image, opts FSOptions, want map[string]Selection) (*FS, error) {
	f := &FS{img: img, opts: opts, budget: opts.MaxCache, root: newDir(".", -1)}
	for _, l := range img.layers {
		if err := f.addLayer(ctx, l, want); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func newDir(name string, layer int32) *node {
	return &node{name: name, mode: fs.ModeDir | 0o755, layer: layer, children: map[string]*node{}}
}

func (f *FS) selection(name string, hdr *tar.Header, want map[string]Selection) Selection {
	if hdr.Typeflag == tar.TypeDir || hdr.Typeflag == tar.TypeSymlink || f.opts.Select == nil {
		return Index
	}
	return max(f.opts.Select(name, hdr), want[name])
}

func (f *FS) addLayer(ctx context.Context, l *Layer, want map[string]Selection) (err error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	what := fmt.Sprintf("%s of %s", l, l.img.ref)
	lr := NewLayerReader(rc, what)
	layer := int32(l.index)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := lr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		switch {
		case e.Opaque:
			if n := f.lookup(e.Name); n != nil && n.children != nil {
				pruneBelow(n, layer)
			}
			continue
		case e.Whiteout:
			if parent := f.lookup(path.Dir(e.Name)); parent != nil && parent.children != nil {
				if n := parent.children[path.Base(e.Name)]; n != nil && n.layer < layer {
					delete(parent.children, n.name)
				}
			}
			continue
		}
		sel := f.selection(e.Name, e.Header, want)
		if sel == Skip {
			parent := f.parentOf(e.Name, layer)
			delete(parent.children, path.Base(e.Name))
			continue
		}
		var data []byte
		cached := false
		if hdr := e.Header; sel == Cache && (hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA) &&
			hdr.Size <= f.opts.MaxCachedFile && hdr.Size <= f.budget {
			if data, err = io.ReadAll(lr); err != nil {
				return fmt.Errorf("read %s: %w", e.Name, err)
			}
			cached = true
			f.budget -= hdr.Size
		}
		f.add(layer, int32(lr.n), e, data, cached)
	}
	// The tar's end marker may leave padding unread: read the stream to
	// its end so that the diff_id and the blob digest are checked.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return err
	}
	return nil
}

// pruneBelow removes from dir everything that lower layers than layer
// put there (an opaque whiteout), keeping what layer itself added.
func pruneBelow(dir *node, layer int32) {
	for name, c := range dir.children {
		switch {
		case c.layer < layer:
			delete(dir.children, name)
		case c.children != nil:
			pruneBelow(c, layer)
		}
	}
}

// lookup finds a node by its exact (unresolved) path.
func (f *FS) lookup(name string) *node {
	n := f.root
	if name == "." || name == "" {
		return n
	}
	for _, c := range strings.Split(name, "/") {
		if n.children == nil {
			return nil
		}
		if n = n.children[c]; n == nil {
			return nil
		}
	}
	return n
}

// parentOf returns the directory node for name's parent, creating missing
// directories (tars may omit them) and replacing non-directories.
func (f *FS) parentOf(name string, layer int32) *node {
	n := f.root
	dir := path.Dir(name)
	if dir == "." {
		return n
	}
	for _, c := range strings.Split(dir, "/") {
		child := n.children[c]
		if child == nil || child.children == nil {
			child = newDir(c, layer)
			n.children[c] = child
		}
		n = child
	}
	return n
}

func (f *FS) add(layer, ordinal int32, e *Entry, data []byte, cached bool) {
	hdr := e.Header
	n := &node{
		name: path.Base(e.Name), uid: uint32(hdr.Uid), gid: uint32(hdr.Gid),
		mtime: hdr.ModTime.Unix(), layer: layer, ordinal: ordinal, size: hdr.Size,
		data: data, cached: cached,
	}
	perm := fs.FileMode(hdr.Mode).Perm()
	if hdr.Mode&0o4000 != 0 {
		perm |= fs.ModeSetuid
	}
	if hdr.Mode&0o2000 != 0 {
		perm |= fs.ModeSetgid
	}
	if hdr.Mode&0o1000 != 0 {
		perm |= fs.ModeSticky
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		n.mode = fs.ModeDir | perm
		n.size = 0
	case tar.TypeSymlink:
		n.mode = fs.ModeSymlink | perm
		n.link = hdr.Linkname
		n.size = int64(len(hdr.Linkname))
	case tar.TypeLink:
		// A hard link shares the content (and metadata) of its target.
		n.mode = perm
		n.size = 0
		n.cached = true
		target := CleanName(hdr.Linkname)
		if t := f.lookup(target); t != nil && t.mode.IsRegular() {
			n.size, n.data, n.cached = t.size, t.data, t.cached
			n.layer, n.ordinal = t.layer, t.ordinal
		} else if t != nil && t.mode&fs.ModeSymlink != 0 {
			// link(2) does not follow symlinks: a hard link to a symlink
			// is that symlink (ostree-ext images are full of them).
			n.mode, n.link, n.size = t.mode, t.link, t.size
		} else if t == nil && f.opts.Select != nil {
			if f.wanted == nil {
				f.wanted = map[string]Selection{}
			}
			f.wanted[target] = max(f.wanted[target], f.opts.Select(e.Name, hdr), Index)
		}
	case tar.TypeChar:
		n.mode = fs.ModeDevice | fs.ModeCharDevice | perm
	case tar.TypeBlock:
		n.mode = fs.ModeDevice | perm
	case tar.TypeFifo:
		n.mode = fs.ModeNamedPipe | perm
	case tar.TypeReg, tar.TypeRegA:
		n.mode = perm
	default:
		return // PAX/GNU metadata entries are consumed by archive/tar; others carry no file.
	}
	parent := f.parentOf(e.Name, layer)
	if old := parent.children[n.name]; old != nil && old.children != nil && n.mode.IsDir() {
		n.children = old.children
	}
	if n.mode.IsDir() && n.children == nil {
		n.children = map[string]*node{}
	}
	parent.children[n.name] = n
}

// Close releases the image.
func (f *FS) Close() error { return f.img.Close() }

func (f *FS) rawLstat(name string) (fs.FileInfo, error) {
	n := f.lookup(name)
	if n == nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
	}
	return info{n}, nil
}

func (f *FS) rawReadLink(name string) (string, error) {
	n := f.lookup(name)
	if n == nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrNotExist}
	}
	if n.mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.link, nil
}

type rawFS struct{ f *FS }

func (r rawFS) Lstat(name string) (fs.FileInfo, error) { return r.f.rawLstat(name) }
func (r rawFS) ReadLink(name string) (string, error)   { return r.f.rawReadLink(name) }

// ValidName is fs.ValidPath without the UTF-8 requirement: images and
// trees may hold names that are not UTF-8, which the lints report.
func ValidName(name string) bool {
	if name == "." {
		return true
	}
	for _, elem := range strings.Split(name, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return false
		}
	}
	return true
}

func (f *FS) node(op, name string, followLast bool) (*node, error) {
	if !ValidName(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	resolve := rootpath.ResolveFS
	if followLast {
		resolve = rootpath.ResolveFollowFS
	}
	p, err := resolve(rawFS{f}, name)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	n := f.lookup(p)
	if n == nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return n, nil
}

// Lstat describes name without following a final symlink.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	n, err := f.node("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return info{n}, nil
}

// Stat describes name, following symlinks inside the image.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.node("stat", name, true)
	if err != nil {
		return nil, err
	}
	return info{n}, nil
}

// ReadLink returns a symlink's target.
func (f *FS) ReadLink(name string) (string, error) {
	n, err := f.node("readlink", name, false)
	if err != nil {
		return "", err
	}
	if n.mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.link, nil
}

// ReadDir lists a directory sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.node("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if n.children == nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return n.entries(), nil
}

func (n *node) entries() []fs.DirEntry {
	out := make([]fs.DirEntry, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, fs.FileInfoToDirEntry(info{c}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Open opens name, following symlinks inside the image.
func (f *FS) Open(name string) (fs.File, error) {
	n, err := f.node("open", name, true)
	if err != nil {
		return nil, err
	}
	if n.children != nil {
		return &dirFile{info: info{n}, ents: n.entries()}, nil
	}
	if !n.mode.IsRegular() {
		return &file{info: info{n}, r: bytes.NewReader(nil)}, nil
	}
	if n.cached {
		return &file{info: info{n}, r: bytes.NewReader(n.data)}, nil
	}
	rc, err := f.layerEntry(n.layer, n.ordinal)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &file{info: info{n}, r: io.LimitReader(rc, n.size), c: rc}, nil
}

// layerEntry streams layer i again up to its ordinal-th tar entry. (The
// digests were checked when the layer was indexed; this read stops early.)
func (f *FS) layerEntry(i, ordinal int32) (io.ReadCloser, error) {
	l := f.img.layers[i]
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	lr := NewLayerReader(rc, l.String())
	for lr.n < int(ordinal) {
		if _, err := lr.Next(); err != nil {
			rc.Close()
			return nil, fmt.Errorf("%s entry %d: %w", l, ordinal, err)
		}
	}
	return readCloser{lr, rc}, nil
}

type info struct{ n *node }

func (i info) Name() string       { return i.n.name }
func (i info) Size() int64        { return i.n.size }
func (i info) Mode() fs.FileMode  { return i.n.mode }
func (i info) ModTime() time.Time { return time.Unix(i.n.mtime, 0) }
func (i info) IsDir() bool        { return i.n.mode.IsDir() }
func (i info) Sys() any           { return owner{i.n.uid, i.n.gid} }

// owner is FileInfo.Sys() of FS files.
type owner struct{ uid, gid uint32 }

func (o owner) Owner() (uid, gid uint32) { return o.uid, o.gid }

type file struct {
	info info
	r    io.Reader
	c    io.Closer
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *file) Close() error {
	if f.c != nil {
		return f.c.Close()
	}
	return nil
}

type dirFile struct {
	info info
	ents []fs.DirEntry
	pos  int
}

func (d *dirFile) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *dirFile) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: errors.New("is a directory")}
}
func (d *dirFile) Close() error { return nil }
func (d *dirFile) ReadDir(count int) ([]fs.DirEntry, error) {
	rest := d.ents[d.pos:]
	if count <= 0 {
		d.pos = len(d.ents)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	n := min(count, len(rest))
	d.pos += n
	return rest[:n], nil
}
