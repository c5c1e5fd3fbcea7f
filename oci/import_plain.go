package oci

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/apt-ostree/apt-ostree/ostree"
)

// plainNode is a node of the merged tree of a plain image.
type plainNode struct {
	dir      bool
	meta     ostree.DirMeta  // directories
	sum      ostree.Checksum // files and symlinks: the content object
	layer    int             // the layer the entry comes from
	children map[string]*plainNode
}

func newPlainDir(layer int) *plainNode {
	return &plainNode{dir: true, meta: ostree.DirMeta{Mode: 0o40755}, layer: layer, children: map[string]*plainNode{}}
}

// plainTree merges layer entries.
type plainTree struct {
	root    *plainNode
	skipped int // device nodes, FIFOs: ostree stores none
	// etcToUsr stores every entry under etc/ under usr/etc/ (hard link
	// targets and whiteouts too), as ostree-ext's tar filter does.
	etcToUsr bool
}

// mapName applies etcToUsr to a cleaned entry name.
func (t *plainTree) mapName(name string) string {
	if t.etcToUsr && (name == "etc" || strings.HasPrefix(name, "etc/")) {
		return "usr/" + name
	}
	return name
}

// lookup returns the node at name ("." is the root), or nil.
func (t *plainTree) lookup(name string) *plainNode {
	n := t.root
	if name == "." {
		return n
	}
	for _, part := range strings.Split(name, "/") {
		if n == nil || !n.dir {
			return nil
		}
		n = n.children[part]
	}
	return n
}

// parent returns the directory that holds name, creating missing (or
// replacing non-directory) ancestors as 0:0 0755 directories.
func (t *plainTree) parent(name string, layer int) *plainNode {
	n := t.root
	dir := path.Dir(name)
	if dir == "." {
		return n
	}
	for _, part := range strings.Split(dir, "/") {
		c := n.children[part]
		if c == nil || !c.dir {
			c = newPlainDir(layer)
			n.children[part] = c
		}
		n = c
	}
	return n
}

// xattrsOf returns the SCHILY.xattr PAX records of a tar header, sorted.
func xattrsOf(hdr *tar.Header) []ostree.Xattr {
	var x []ostree.Xattr
	for k, v := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok && v != "" {
			x = append(x, ostree.Xattr{Name: name, Value: []byte(v)})
		}
	}
	sort.Slice(x, func(i, j int) bool { return x[i].Name < x[j].Name })
	return x
}

// importPlain commits the merged layers of an image without an embedded
// ostree commit (ostree-format.md §6.8).
func importPlain(ctx context.Context, img *Image, tx *ostree.Transaction, opts ImportOptions) (ostree.Checksum, error) {
	ts := opts.Timestamp
	if ts.IsZero() {
		ts = img.Config.Created.Time
	}
	if ts.IsZero() {
		return ostree.Checksum{}, errNoTimestamp
	}
	if err := ostree.CheckTimestamp(ts); err != nil {
		return ostree.Checksum{}, err
	}
	repo := tx.Staging()
	t := &plainTree{root: newPlainDir(-1), etcToUsr: opts.DeployLayout}
	for _, l := range img.Layers() {
		if err := t.addLayer(ctx, repo, l); err != nil {
			return ostree.Checksum{}, err
		}
	}
	if opts.DeployLayout {
		t.emptyMountPoints()
	}
	if t.skipped > 0 {
		slog.Warn("image entries ostree cannot store (devices, FIFOs) were left out", "image", img.Ref(), "count", t.skipped)
	}
	tree, meta, err := writePlainTree(ctx, repo, t.root, "/")
	if err != nil {
		return ostree.Checksum{}, err
	}
	cm := &ostree.Commit{
		Metadata:  map[string]any{"ostree.manifest-digest": img.ManifestDigest.String()},
		Timestamp: ts.UTC().Truncate(time.Second),
		RootTree:  tree,
		RootMeta:  meta,
	}
	return repo.WriteCommit(ctx, cm)
}

func (t *plainTree) addLayer(ctx context.Context, repo *ostree.Repo, l *Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	what := fmt.Sprintf("%s of %s", l, l.img.ref)
	lr := NewLayerReader(rc, what)
	li := l.Index()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		e, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		hdr := e.Header
		e.Name = t.mapName(e.Name)
		switch {
		case e.Opaque:
			if d := t.lookup(e.Name); d != nil && d.dir {
				for name, c := range d.children {
					if c.layer < li {
						delete(d.children, name)
					}
				}
			}
			continue
		case e.Whiteout:
			if e.Name != "." {
				if p := t.lookup(path.Dir(e.Name)); p != nil && p.dir {
					delete(p.children, path.Base(e.Name))
				}
			}
			continue
		}
		base := path.Base(e.Name)
		if e.Name != "." {
			if err := ostree.ValidateName(base); err != nil {
				return fmt.Errorf("%s: %s: %w", what, e.Name, err)
			}
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			meta := ostree.DirMeta{UID: uint32(hdr.Uid), GID: uint32(hdr.Gid), Mode: 0o40000 | uint32(hdr.Mode)&0o7777, Xattrs: xattrsOf(hdr)}
			if e.Name == "." {
				t.root.meta = meta
				continue
			}
			p := t.parent(e.Name, li)
			if c := p.children[base]; c != nil && c.dir {
				c.meta, c.layer = meta, li
			} else {
				d := newPlainDir(li)
				d.meta = meta
				p.children[base] = d
			}
		case tar.TypeReg, tar.TypeSymlink:
			h := &ostree.FileHeader{UID: uint32(hdr.Uid), GID: uint32(hdr.Gid), Xattrs: xattrsOf(hdr)}
			if hdr.Typeflag == tar.TypeReg {
				h.Mode = 0o100000 | uint32(hdr.Mode)&0o7777
				h.Size = uint64(hdr.Size)
			} else {
				h.Mode = 0o120777
				h.SymlinkTarget = hdr.Linkname
			}
			c, _, err := repo.WriteContent(ctx, h, lr)
			if err != nil {
				return fmt.Errorf("%s: %s: %w", what, e.Name, err)
			}
			t.parent(e.Name, li).children[base] = &plainNode{sum: c, layer: li}
		case tar.TypeLink:
			target := t.lookup(t.mapName(CleanName(hdr.Linkname)))
			if target == nil || target.dir {
				return fmt.Errorf("%s: %s: hard link to %s, which is no file of this or a lower layer", what, e.Name, hdr.Linkname)
			}
			t.parent(e.Name, li).children[base] = &plainNode{sum: target.sum, layer: li}
		default:
			// Character/block devices and FIFOs: ostree has no object for them.
			t.skipped++
			if p := t.lookup(path.Dir(e.Name)); p != nil && p.dir {
				delete(p.children, base)
			}
		}
	}
	// Read what is left so that the digest and diff_id are checked.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return err
	}
	return nil
}

// writePlainTree writes the dirtree and dirmeta objects of n, bottom-up.
func writePlainTree(ctx context.Context, repo *ostree.Repo, n *plainNode, p string) (tree, meta ostree.Checksum, err error) {
	var dt ostree.DirTree
	for name, c := range n.children {
		if !c.dir {
			dt.Files = append(dt.Files, ostree.DirTreeFile{Name: name, Checksum: c.sum})
			continue
		}
		ct, cmeta, err := writePlainTree(ctx, repo, c, p+name+"/")
		if err != nil {
			return tree, meta, err
		}
		dt.Dirs = append(dt.Dirs, ostree.DirTreeDir{Name: name, TreeChecksum: ct, MetaChecksum: cmeta})
	}
	mb, err := n.meta.MarshalBinary()
	if err != nil {
		return tree, meta, fmt.Errorf("%s: %w", p, err)
	}
	if meta, _, err = repo.WriteObject(ctx, ostree.ObjectDirMeta, mb); err != nil {
		return tree, meta, err
	}
	tb, err := dt.MarshalBinary()
	if err != nil {
		return tree, meta, fmt.Errorf("%s: %w", p, err)
	}
	tree, _, err = repo.WriteObject(ctx, ostree.ObjectDirTree, tb)
	return tree, meta, err
}

// emptyMountPoints empties /run, /tmp, /proc, /sys and /dev (the
// directories are kept), as ostree-ext's tar filter does.
func (t *plainTree) emptyMountPoints() {
	for _, d := range []string{"run", "tmp", "proc", "sys", "dev"} {
		if n := t.root.children[d]; n != nil && n.dir {
			n.children = map[string]*plainNode{}
		}
	}
}

// loadTree reads a commit's tree (from the transaction's staging
// repository or the repo) as the lowest layer, index -1.
func loadTree(tx *ostree.Transaction, tree, meta ostree.Checksum) (*plainNode, error) {
	dm, err := tx.Source(ostree.ObjectDirMeta, meta).ReadDirMeta(meta)
	if err != nil {
		return nil, err
	}
	dt, err := tx.Source(ostree.ObjectDirTree, tree).ReadDirTree(tree)
	if err != nil {
		return nil, err
	}
	n := newPlainDir(-1)
	n.meta = *dm
	for _, f := range dt.Files {
		n.children[f.Name] = &plainNode{sum: f.Checksum, layer: -1}
	}
	for _, d := range dt.Dirs {
		c, err := loadTree(tx, d.TreeChecksum, d.MetaChecksum)
		if err != nil {
			return nil, err
		}
		n.children[d.Name] = c
	}
	return n, nil
}

// mergeDerived commits the derived layers on top of the base commit.
func mergeDerived(ctx context.Context, img *Image, tx *ostree.Transaction, base ostree.Checksum, bc *ostree.Commit, derived []*Layer, opts ImportOptions) (ostree.Checksum, error) {
	ts := opts.Timestamp
	if ts.IsZero() {
		ts = img.Config.Created.Time
	}
	if ts.IsZero() {
		ts = bc.Timestamp
	}
	if err := ostree.CheckTimestamp(ts); err != nil {
		return ostree.Checksum{}, err
	}
	root, err := loadTree(tx, bc.RootTree, bc.RootMeta)
	if err != nil {
		return ostree.Checksum{}, fmt.Errorf("base commit %s: %w", base, err)
	}
	repo := tx.Staging()
	t := &plainTree{root: root, etcToUsr: true}
	for _, l := range derived {
		if err := t.addLayer(ctx, repo, l); err != nil {
			return ostree.Checksum{}, err
		}
	}
	t.emptyMountPoints()
	if t.skipped > 0 {
		slog.Warn("derived-layer entries ostree cannot store (devices, FIFOs) were left out", "image", img.Ref(), "count", t.skipped)
	}
	tree, meta, err := writePlainTree(ctx, repo, t.root, "/")
	if err != nil {
		return ostree.Checksum{}, err
	}
	return repo.WriteCommit(ctx, &ostree.Commit{
		Metadata:  map[string]any{"ostree.manifest-digest": img.ManifestDigest.String()},
		Parent:    &base,
		Timestamp: ts.UTC().Truncate(time.Second),
		RootTree:  tree,
		RootMeta:  meta,
	})
}
