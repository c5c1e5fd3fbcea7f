package lint

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

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/apt-ostree/apt-ostree/deb"
)

// ImageFS is the flattened root filesystem of an OCI image, indexed in memory
// from the layer tars (whiteouts applied) without unpacking anything to disk.
// Only metadata is kept for most files; the small configuration files the
// lints read are kept in memory, and any other file's content is read on
// demand by streaming its layer again. It implements fs.ReadLinkFS; FileInfo.Sys()
// implements Owner.
type ImageFS struct {
	root   *imageNode
	layers []v1.Layer
	closer io.Closer
}

var (
	_ fs.ReadLinkFS = (*ImageFS)(nil)
	_ fs.ReadDirFS  = (*ImageFS)(nil)
	_ fs.StatFS     = (*ImageFS)(nil)
)

type imageNode struct {
	name     string
	mode     fs.FileMode
	uid, gid uint32
	size     int64
	mtime    time.Time
	link     string // symlink target
	data     []byte // content, when cached
	cached   bool
	layer    int // where the content is, when not cached
	ordinal  int
	children map[string]*imageNode
}

// Content caching limits: only files under these paths, each at most
// maxCachedFile bytes (dpkg status files up to maxCachedStatus), and at
// most maxCachedTotal bytes in all. Other files are read lazily.
const (
	maxCachedFile   = 1 << 20
	maxCachedStatus = 64 << 20
	maxCachedTotal  = 256 << 20
)

var cachedPrefixes = []string{
	"etc/", "usr/etc/", "usr/lib/sysusers.d/", "usr/lib/tmpfiles.d/", "usr/lib/bootc/",
	"usr/lib/ostree/", "usr/share/doc/bootc/", "usr/lib/passwd", "usr/lib/group", "var/lib/dbus/machine-id",
}

func cacheLimit(name string) int64 {
	// The dpkg-db lint reads the database's status and arch files.
	for _, d := range deb.AdminDirs {
		switch name {
		case d + "/status":
			return maxCachedStatus
		case d + "/arch":
			return maxCachedFile
		}
	}
	for _, p := range cachedPrefixes {
		if strings.HasPrefix(name, p) {
			return maxCachedFile
		}
	}
	return -1
}

// imageStat is FileInfo.Sys() of ImageFS files.
type imageStat struct{ Uid, Gid uint32 }

func (s *imageStat) Owner() (uid, gid uint32) { return s.Uid, s.Gid }

// NewImageFS indexes the flattened filesystem of img's layers.
func NewImageFS(ctx context.Context, img v1.Image) (*ImageFS, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("list image layers: %w", err)
	}
	f := &ImageFS{layers: layers, root: &imageNode{name: ".", mode: fs.ModeDir | 0o755, children: map[string]*imageNode{}}}
	var budget int64 = maxCachedTotal
	for i, l := range layers {
		if err := f.addLayer(ctx, i, l, &budget); err != nil {
			d, _ := l.Digest()
			return nil, fmt.Errorf("index layer %d (%s): %w", i, d, err)
		}
	}
	return f, nil
}

type pendingEntry struct {
	name    string
	hdr     *tar.Header
	ordinal int
	data    []byte
	cached  bool
}

func cleanName(name string) string {
	name = path.Clean("/" + name)
	return strings.TrimPrefix(name, "/")
}

func (f *ImageFS) addLayer(ctx context.Context, idx int, l v1.Layer, budget *int64) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	var adds []pendingEntry
	var whiteouts, opaques []string
	for ordinal := 0; ; ordinal++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		name := cleanName(hdr.Name)
		if name == "" {
			continue
		}
		base, dir := path.Base(name), path.Dir(name)
		if base == ".wh..wh..opq" {
			opaques = append(opaques, dir)
			continue
		}
		if hidden, ok := strings.CutPrefix(base, ".wh."); ok {
			whiteouts = append(whiteouts, path.Join(dir, hidden))
			continue
		}
		p := pendingEntry{name: name, hdr: hdr, ordinal: ordinal}
		if hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA {
			if lim := cacheLimit(name); lim >= 0 && hdr.Size <= lim && hdr.Size <= *budget {
				p.data, err = io.ReadAll(tr)
				if err != nil {
					return fmt.Errorf("read %s: %w", name, err)
				}
				p.cached = true
				*budget -= hdr.Size
			}
		}
		adds = append(adds, p)
	}
	// Whiteouts hide lower layers only, so they go before this layer's entries.
	for _, d := range opaques {
		if n := f.lookup(d); n != nil && n.children != nil {
			clear(n.children)
		}
	}
	for _, w := range whiteouts {
		if parent := f.lookup(path.Dir(w)); parent != nil && parent.children != nil {
			delete(parent.children, path.Base(w))
		}
	}
	for _, p := range adds {
		f.add(idx, p)
	}
	return nil
}

// lookup finds a node by its exact (unresolved) path.
func (f *ImageFS) lookup(name string) *imageNode {
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
func (f *ImageFS) parentOf(name string) *imageNode {
	n := f.root
	dir := path.Dir(name)
	if dir == "." {
		return n
	}
	for _, c := range strings.Split(dir, "/") {
		child := n.children[c]
		if child == nil || child.children == nil {
			child = &imageNode{name: c, mode: fs.ModeDir | 0o755, children: map[string]*imageNode{}}
			n.children[c] = child
		}
		n = child
	}
	return n
}

func (f *ImageFS) add(layer int, p pendingEntry) {
	hdr := p.hdr
	node := &imageNode{
		name: path.Base(p.name), uid: uint32(hdr.Uid), gid: uint32(hdr.Gid),
		mtime: hdr.ModTime, layer: layer, ordinal: p.ordinal, size: hdr.Size,
		data: p.data, cached: p.cached,
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
		node.mode = fs.ModeDir | perm
		node.size = 0
	case tar.TypeSymlink:
		node.mode = fs.ModeSymlink | perm
		node.link = hdr.Linkname
		node.size = int64(len(hdr.Linkname))
	case tar.TypeLink:
		// A hard link shares the content (and metadata) of its target.
		node.mode = perm
		node.size = 0
		node.cached = true
		if target := f.lookup(cleanName(hdr.Linkname)); target != nil && target.mode.IsRegular() {
			node.size, node.data, node.cached = target.size, target.data, target.cached
			node.layer, node.ordinal = target.layer, target.ordinal
		}
	case tar.TypeChar:
		node.mode = fs.ModeDevice | fs.ModeCharDevice | perm
	case tar.TypeBlock:
		node.mode = fs.ModeDevice | perm
	case tar.TypeFifo:
		node.mode = fs.ModeNamedPipe | perm
	case tar.TypeReg, tar.TypeRegA:
		node.mode = perm
	default:
		return // PAX/GNU metadata entries are consumed by archive/tar; others carry no file.
	}
	parent := f.parentOf(p.name)
	if old := parent.children[node.name]; old != nil && old.children != nil && node.mode.IsDir() {
		node.children = old.children
	}
	if node.mode.IsDir() && node.children == nil {
		node.children = map[string]*imageNode{}
	}
	parent.children[node.name] = node
}

// Close releases the image source (an open oci-archive file).
func (f *ImageFS) Close() error {
	if f.closer != nil {
		return f.closer.Close()
	}
	return nil
}

func (f *ImageFS) rawLstat(name string) (fs.FileInfo, error) {
	n := f.lookup(name)
	if n == nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
	}
	return imageInfo{n}, nil
}

func (f *ImageFS) rawReadLink(name string) (string, error) {
	n := f.lookup(name)
	if n == nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrNotExist}
	}
	if n.mode&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	return n.link, nil
}

func (f *ImageFS) node(op, name string, followLast bool) (*imageNode, error) {
	if !validName(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	p, err := resolveIn(f.rawLstat, f.rawReadLink, name, followLast)
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
func (f *ImageFS) Lstat(name string) (fs.FileInfo, error) {
	n, err := f.node("lstat", name, false)
	if err != nil {
		return nil, err
	}
	return imageInfo{n}, nil
}

// Stat describes name, following symlinks inside the image.
func (f *ImageFS) Stat(name string) (fs.FileInfo, error) {
	n, err := f.node("stat", name, true)
	if err != nil {
		return nil, err
	}
	return imageInfo{n}, nil
}

// ReadLink returns a symlink's target.
func (f *ImageFS) ReadLink(name string) (string, error) {
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
func (f *ImageFS) ReadDir(name string) ([]fs.DirEntry, error) {
	n, err := f.node("readdir", name, true)
	if err != nil {
		return nil, err
	}
	if n.children == nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.New("not a directory")}
	}
	return n.entries(), nil
}

func (n *imageNode) entries() []fs.DirEntry {
	out := make([]fs.DirEntry, 0, len(n.children))
	for _, c := range n.children {
		out = append(out, fs.FileInfoToDirEntry(imageInfo{c}))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Open opens name, following symlinks inside the image.
func (f *ImageFS) Open(name string) (fs.File, error) {
	n, err := f.node("open", name, true)
	if err != nil {
		return nil, err
	}
	if n.children != nil {
		return &imageDir{info: imageInfo{n}, ents: n.entries()}, nil
	}
	if !n.mode.IsRegular() {
		return &imageFile{info: imageInfo{n}, r: bytes.NewReader(nil)}, nil
	}
	if n.cached {
		return &imageFile{info: imageInfo{n}, r: bytes.NewReader(n.data)}, nil
	}
	rc, err := f.layerEntry(n.layer, n.ordinal)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return &imageFile{info: imageInfo{n}, r: io.LimitReader(rc, n.size), c: rc}, nil
}

// layerEntry streams layer i again up to its ordinal-th tar entry.
func (f *ImageFS) layerEntry(i, ordinal int) (io.ReadCloser, error) {
	rc, err := f.layers[i].Uncompressed()
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(rc)
	for k := 0; k <= ordinal; k++ {
		if _, err := tr.Next(); err != nil {
			rc.Close()
			return nil, fmt.Errorf("layer %d entry %d: %w", i, ordinal, err)
		}
	}
	return struct {
		io.Reader
		io.Closer
	}{tr, rc}, nil
}

type imageInfo struct{ n *imageNode }

func (i imageInfo) Name() string       { return i.n.name }
func (i imageInfo) Size() int64        { return i.n.size }
func (i imageInfo) Mode() fs.FileMode  { return i.n.mode }
func (i imageInfo) ModTime() time.Time { return i.n.mtime }
func (i imageInfo) IsDir() bool        { return i.n.mode.IsDir() }
func (i imageInfo) Sys() any           { return &imageStat{Uid: i.n.uid, Gid: i.n.gid} }

type imageFile struct {
	info imageInfo
	r    io.Reader
	c    io.Closer
}

func (f *imageFile) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *imageFile) Read(p []byte) (int, error) { return f.r.Read(p) }
func (f *imageFile) Close() error {
	if f.c != nil {
		return f.c.Close()
	}
	return nil
}

type imageDir struct {
	info imageInfo
	ents []fs.DirEntry
	pos  int
}

func (d *imageDir) Stat() (fs.FileInfo, error) { return d.info, nil }
func (d *imageDir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.info.Name(), Err: errors.New("is a directory")}
}
func (d *imageDir) Close() error { return nil }
func (d *imageDir) ReadDir(count int) ([]fs.DirEntry, error) {
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
