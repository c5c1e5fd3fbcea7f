package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/apt-ostree/apt-ostree/ostree"
	"golang.org/x/sync/errgroup"
)

// Labels of an ostree-ext encapsulated image (ostree-format.md §6.5).
const (
	importLabelCommit      = "ostree.commit"
	importLabelFinalDiffID = "ostree.final-diffid"
	// embeddedRepo is the directory of the embedded bare-split-xattrs repo.
	embeddedRepo = "sysroot/ostree/repo/"
	// maxXattrsObject bounds a .file-xattrs object, as ostree-ext does.
	maxXattrsObject = 1 << 20
	// spoolInMemory is the content size up to which an object is verified
	// in memory; bigger ones go through an unlinked temp file in the
	// transaction's staging directory (the repo's filesystem).
	spoolInMemory = 1 << 20
)

// ImportOptions control Import.
type ImportOptions struct {
	// Ref, when set, is pointed at the imported commit once every object
	// is in the repository (e.g. "ostree/container/image/NAME").
	Ref string
	// Timestamp is the time of the commit Import makes: for an image
	// without an embedded commit (ostree-format.md §6.8), or the merge
	// commit of derived layers. Zero: the image config's "created" (then,
	// for a merge commit, the base commit's time); a plain image with
	// neither is refused, so that the same image always gives the same
	// commit. An embedded commit keeps its own time.
	Timestamp time.Time
	// DeployLayout applies to an image without an embedded commit what
	// ostree-ext's tar filter does before deploying it (§6.8): /etc is
	// stored as /usr/etc, and the contents of /run, /tmp, /proc, /sys and
	// /dev are dropped (the directories kept). Without it the commit's tree
	// is exactly the merged layers.
	DeployLayout bool
}

// Import stores img in repo and returns the commit checksum.
//
// An ostree-ext image (config label ostree.final-diffid) is read as
// ostree-format.md §6.7 says: the chunk layers as object sets, then the
// ostree layer (commit, commitmeta, dirtree, dirmeta and the remaining
// content objects). Every object is checked against its name before it is
// written (content objects: the ostree content checksum of header and
// data; metadata: sha256 of the bytes) and every layer blob against its
// digest and diff_id. Objects are staged (ostree.Transaction) and moved
// into the repo only when all are in and verified, the commit last, then
// the ref is set: a failed import leaves no object, commit or ref.
// Layers after the final ostree layer (derived layers, e.g. from a
// Containerfile FROM the image) are applied on the base commit's tree
// (whiteouts applied, etc/ stored as usr/etc/, the contents of /run /tmp
// /proc /sys /dev dropped) and committed as a merge commit whose parent
// is the base commit, with metadata ostree.manifest-digest and the
// timestamp from opts, the config's created or the base commit; Import
// then returns the merge commit.
//
// An image without that label (§6.8) is committed as the merge of its
// layers (whiteouts applied), with metadata ostree.manifest-digest and the
// timestamp from opts or the config, so the same image gives the same commit.
//
// Import holds the repository's writer lock throughout.
func Import(ctx context.Context, img *Image, repo *ostree.Repo, opts ImportOptions) (ostree.Checksum, error) {
	if opts.Ref != "" {
		if err := ostree.ValidateRef(opts.Ref); err != nil {
			return ostree.Checksum{}, fmt.Errorf("import %s: %w", img.Ref(), err)
		}
	}
	unlock, err := repo.Lock(ctx)
	if err != nil {
		return ostree.Checksum{}, err
	}
	defer unlock()
	tx, err := repo.BeginTransaction(ctx)
	if err != nil {
		return ostree.Checksum{}, err
	}
	defer tx.Abort()
	var c ostree.Checksum
	if final, ok := img.Config.Config.Labels[importLabelFinalDiffID]; ok {
		c, err = importEncapsulated(ctx, img, tx, final, opts)
	} else {
		c, err = importPlain(ctx, img, tx, opts)
	}
	if err == nil {
		err = tx.Commit(ctx)
	}
	if err != nil {
		return ostree.Checksum{}, fmt.Errorf("import %s into %s: %w", img.Ref(), repo.Path(), err)
	}
	if opts.Ref != "" {
		if err := repo.SetRef(ctx, opts.Ref, c); err != nil {
			return ostree.Checksum{}, err
		}
	}
	slog.Debug("oci import", "image", img.Ref(), "repo", repo.Path(), "commit", c.String(), "ref", opts.Ref)
	return c, nil
}

// importEncapsulated imports an ostree-ext image whose last ostree layer
// has diff_id final.
func importEncapsulated(ctx context.Context, img *Image, tx *ostree.Transaction, final string, opts ImportOptions) (ostree.Checksum, error) {
	layers := img.Layers()
	last := -1
	for i, d := range img.Config.RootFS.DiffIDs {
		if d.String() == final {
			last = i
			break
		}
	}
	if last < 0 {
		return ostree.Checksum{}, fmt.Errorf("label %s=%s names no diff_id of the image config", importLabelFinalDiffID, final)
	}
	// Objects are read in stream order and written by up to NumCPU
	// goroutines.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	im := &objImporter{tx: tx, g: g, xattrs: map[ostree.Checksum][]ostree.Xattr{}}
	err := func() error {
		// Chunk layers first, as ostree-ext does, then the ostree layer.
		for i := 1; i <= last; i++ {
			if err := im.layer(gctx, layers[i], false); err != nil {
				return err
			}
		}
		return im.layer(gctx, layers[0], true)
	}()
	if werr := g.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		return ostree.Checksum{}, err
	}
	if im.commit == nil {
		return ostree.Checksum{}, fmt.Errorf("%s holds no commit object under %s", layers[0], embeddedRepo)
	}
	if want := img.Config.Config.Labels[importLabelCommit]; want != "" && want != im.commitSum.String() {
		return ostree.Checksum{}, fmt.Errorf("label %s=%s but the ostree layer holds commit %s", importLabelCommit, want, im.commitSum)
	}
	cm, err := ostree.ParseCommit(im.commit)
	if err != nil {
		return ostree.Checksum{}, fmt.Errorf("commit %s: %w", im.commitSum, err)
	}
	if err := checkTree(tx, cm.RootTree, cm.RootMeta, "/"); err != nil {
		return ostree.Checksum{}, fmt.Errorf("commit %s is incomplete: %w", im.commitSum, err)
	}
	stage := tx.Staging()
	if im.commitMeta != nil {
		if err := stage.WriteCommitMeta(ctx, im.commitSum, im.commitMeta); err != nil {
			return ostree.Checksum{}, err
		}
	}
	c, _, err := stage.WriteObject(ctx, ostree.ObjectCommit, im.commit)
	if err != nil || last == len(layers)-1 {
		return c, err
	}
	return mergeDerived(ctx, img, tx, c, cm, layers[last+1:], opts)
}

// checkTree checks that every object reachable from a dirtree is present
// (dirtree and dirmeta objects are read, which verifies them).
func checkTree(tx *ostree.Transaction, tree, meta ostree.Checksum, path string) error {
	if _, err := tx.Source(ostree.ObjectDirMeta, meta).ReadDirMeta(meta); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	t, err := tx.Source(ostree.ObjectDirTree, tree).ReadDirTree(tree)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, f := range t.Files {
		ok, err := tx.HasObject(ostree.ObjectFile, f.Checksum)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s%s: content object %s is in no layer", path, f.Name, f.Checksum)
		}
	}
	for _, d := range t.Dirs {
		if err := checkTree(tx, d.TreeChecksum, d.MetaChecksum, path+d.Name+"/"); err != nil {
			return err
		}
	}
	return nil
}

// objImporter reads the embedded-repo entries of ostree-ext layers.
type objImporter struct {
	tx *ostree.Transaction
	g  *errgroup.Group // writes content objects
	// xattrs are the .file-xattrs objects seen, by their checksum.
	xattrs map[ostree.Checksum][]ostree.Xattr

	commit     []byte // the commit object, written last
	commitSum  ostree.Checksum
	commitMeta map[string]any
}

// importObjectName splits "sysroot/ostree/repo/objects/XX/62HEX.EXT".
func importObjectName(name string) (c ostree.Checksum, ext string, ok bool) {
	rest, ok := strings.CutPrefix(name, embeddedRepo+"objects/")
	if !ok || len(rest) < 2+1+62+1 || rest[2] != '/' {
		return c, "", false
	}
	hexsum, ext, ok := strings.Cut(rest[3:], ".")
	if !ok {
		return c, "", false
	}
	c, err := ostree.ParseChecksum(rest[:2] + hexsum)
	if err != nil {
		return c, "", false
	}
	return c, ext, true
}

// layer imports one layer's objects; metadata objects are allowed only in
// the ostree layer (commit true), whose first object must be the commit.
func (im *objImporter) layer(ctx context.Context, l *Layer, commitLayer bool) (err error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	what := fmt.Sprintf("%s of %s", l, l.img.ref)
	tr := tar.NewReader(rc)
	seen := map[string]bool{}
	var armed *ostree.Checksum
	var armedXattrs []ostree.Xattr
	objects := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		name := CleanName(hdr.Name)
		if hdr.Typeflag == tar.TypeDir || !strings.HasPrefix(name, embeddedRepo+"objects/") {
			continue // checkout paths, repo config, refs, directories
		}
		c, ext, ok := importObjectName(name)
		if !ok {
			return fmt.Errorf("%s: %s: not an ostree object name", what, name)
		}
		objects++
		if seen[name] {
			return fmt.Errorf("%s: object %s.%s appears twice", what, c, ext)
		}
		seen[name] = true
		if commitLayer && objects == 1 && ext != "commit" {
			return fmt.Errorf("%s: the first object is %s.%s, not the commit", what, c, ext)
		}
		switch ext {
		case "file-xattrs":
			data, err := readObject(tr, hdr, maxXattrsObject)
			if err != nil {
				return fmt.Errorf("%s: object %s.%s: %w", what, c, ext, err)
			}
			if got := ostree.Checksum(sha256.Sum256(data)); got != c {
				return fmt.Errorf("%s: object %s.%s: its content hashes to %s: the object was changed", what, c, ext, got)
			}
			x, err := ostree.ParseXattrs(data)
			if err != nil {
				return fmt.Errorf("%s: object %s.%s: %w", what, c, ext, err)
			}
			im.xattrs[c] = x
		case "file-xattrs-link":
			if armed != nil {
				return fmt.Errorf("%s: dangling xattrs: %s.file-xattrs-link is not followed by its object", what, *armed)
			}
			var x []ostree.Xattr
			switch hdr.Typeflag {
			case tar.TypeLink:
				xc, xext, ok := importObjectName(CleanName(hdr.Linkname))
				cached, seen := im.xattrs[xc]
				if !ok || xext != "file-xattrs" || !seen {
					return fmt.Errorf("%s: %s.%s links to %s, which is no .file-xattrs object read before", what, c, ext, hdr.Linkname)
				}
				x = cached
			case tar.TypeReg:
				data, err := readObject(tr, hdr, maxXattrsObject)
				if err != nil {
					return fmt.Errorf("%s: object %s.%s: %w", what, c, ext, err)
				}
				if x, err = ostree.ParseXattrs(data); err != nil {
					return fmt.Errorf("%s: object %s.%s: %w", what, c, ext, err)
				}
			default:
				return fmt.Errorf("%s: object %s.%s: tar type %q, want a hard link or a regular file", what, c, ext, hdr.Typeflag)
			}
			armed, armedXattrs = &c, x
		case "file":
			if armed == nil || *armed != c {
				return fmt.Errorf("%s: content object %s has no .file-xattrs-link right before it", what, c)
			}
			if err := im.content(ctx, tr, hdr, c, armedXattrs); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			armed, armedXattrs = nil, nil
		case "commit", "commitmeta", "dirtree", "dirmeta":
			if !commitLayer {
				return fmt.Errorf("%s: metadata object %s.%s in a chunk layer (only the ostree layer, layer 0, may hold metadata)", what, c, ext)
			}
			if err := im.metadata(ctx, tr, hdr, c, ext); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
		default:
			return fmt.Errorf("%s: object %s.%s: unknown object type", what, c, ext)
		}
	}
	if armed != nil {
		return fmt.Errorf("%s: dangling xattrs: %s.file-xattrs-link is not followed by its object", what, *armed)
	}
	// Read what is left so that the digest and diff_id are checked.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return err
	}
	return nil
}

func readObject(r io.Reader, hdr *tar.Header, limit int64) ([]byte, error) {
	if hdr.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("tar type %q, want a regular file", hdr.Typeflag)
	}
	if hdr.Size > limit {
		return nil, fmt.Errorf("%d bytes, more than the %d allowed", hdr.Size, limit)
	}
	return io.ReadAll(r)
}

// content verifies and writes the content object c from its tar entry.
func (im *objImporter) content(ctx context.Context, r io.Reader, hdr *tar.Header, c ostree.Checksum, x []ostree.Xattr) error {
	h := &ostree.FileHeader{UID: uint32(hdr.Uid), GID: uint32(hdr.Gid), Xattrs: x}
	switch hdr.Typeflag {
	case tar.TypeReg:
		h.Mode = 0o100000 | uint32(hdr.Mode)&0o7777
		h.Size = uint64(hdr.Size)
	case tar.TypeSymlink:
		h.Mode = 0o120777
		h.SymlinkTarget = hdr.Linkname
	default:
		return fmt.Errorf("content object %s: tar type %q, want a regular file or a symlink", c, hdr.Typeflag)
	}
	if ok, err := im.tx.HasObject(ostree.ObjectFile, c); err != nil || ok {
		return err // already stored (by an earlier layer or import)
	}
	sum, err := ostree.NewContentHash(h)
	if err != nil {
		return fmt.Errorf("content object %s: %w", c, err)
	}
	var data io.Reader = bytes.NewReader(nil)
	var spooled *os.File
	if h.SymlinkTarget == "" {
		if hdr.Size <= spoolInMemory {
			b, err := io.ReadAll(r)
			if err != nil {
				return fmt.Errorf("content object %s: %w", c, err)
			}
			sum.Write(b)
			data = bytes.NewReader(b)
		} else {
			f, err := spool(filepath.Join(im.tx.Staging().Path(), "tmp"), io.TeeReader(r, sum))
			if err != nil {
				return fmt.Errorf("content object %s: %w", c, err)
			}
			data, spooled = f, f
		}
	}
	if got := ostree.Checksum(sum.Sum(nil)); got != c {
		if spooled != nil {
			spooled.Close()
		}
		return fmt.Errorf("content object %s: its header and data hash to %s: the object was changed", c, got)
	}
	im.g.Go(func() error {
		if spooled != nil {
			defer spooled.Close()
		}
		wrote, _, err := im.tx.Staging().WriteContent(ctx, h, data)
		if err != nil {
			return fmt.Errorf("content object %s: %w", c, err)
		}
		if wrote != c {
			return fmt.Errorf("content object %s: stored as %s", c, wrote)
		}
		return nil
	})
	return nil
}

// spool copies r into an unlinked temp file in dir and returns it rewound.
func spool(dir string, r io.Reader) (*os.File, error) {
	f, err := os.CreateTemp(dir, "spool-")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// metadata verifies and writes (or, for the commit, keeps) a metadata object.
func (im *objImporter) metadata(ctx context.Context, r io.Reader, hdr *tar.Header, c ostree.Checksum, ext string) error {
	data, err := readObject(r, hdr, 64<<20)
	if err != nil {
		return fmt.Errorf("object %s.%s: %w", c, ext, err)
	}
	if ext == "commitmeta" {
		// Named after its commit, not its own hash.
		if im.commit == nil || c != im.commitSum {
			return fmt.Errorf("object %s.commitmeta does not belong to the commit %s", c, im.commitSum)
		}
		md, err := ostree.ParseMetadata(data)
		if err != nil {
			return fmt.Errorf("object %s.commitmeta: %w", c, err)
		}
		im.commitMeta = md
		return nil
	}
	if got := ostree.Checksum(sha256.Sum256(data)); got != c {
		return fmt.Errorf("object %s.%s: its content hashes to %s: the object was changed", c, ext, got)
	}
	var t ostree.ObjectType
	switch ext {
	case "commit":
		if im.commit != nil {
			return fmt.Errorf("object %s.commit: a second commit (the first is %s)", c, im.commitSum)
		}
		if _, err := ostree.ParseCommit(data); err != nil {
			return fmt.Errorf("object %s.commit: %w", c, err)
		}
		im.commit, im.commitSum = data, c
		return nil
	case "dirtree":
		if _, err = ostree.ParseDirTree(data); err != nil {
			return fmt.Errorf("object %s.dirtree: %w", c, err)
		}
		t = ostree.ObjectDirTree
	case "dirmeta":
		if _, err = ostree.ParseDirMeta(data); err != nil {
			return fmt.Errorf("object %s.dirmeta: %w", c, err)
		}
		t = ostree.ObjectDirMeta
	}
	if _, _, err := im.tx.Staging().WriteObject(ctx, t, data); err != nil {
		return err
	}
	return nil
}

var errNoTimestamp = errors.New("the image config has no created time: pass ImportOptions.Timestamp")

// ContainerImageRef is the ref where ostree-ext keeps an imported image:
// "ostree/container/image/" and the image reference escaped as its
// refescape does (alphanumerics and "-" kept, "/" kept between two
// alphanumerics, "_" doubled, anything else "_XX_" in hex), e.g.
// "docker://quay.io/example/os:latest" →
// "ostree/container/image/docker_3A__2F__2F_quay_2E_io/example/os_3A_latest".
func ContainerImageRef(imageRef string) string {
	alnum := func(c rune) bool {
		return c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9')
	}
	rs := []rune(imageRef)
	var b strings.Builder
	b.WriteString("ostree/container/image/")
	for i, c := range rs {
		switch {
		case alnum(c) || c == '-':
			b.WriteRune(c)
		case c == '_':
			b.WriteString("__")
		case c == '/' && i > 0 && i+1 < len(rs) && alnum(rs[i-1]) && alnum(rs[i+1]):
			b.WriteRune(c)
		default:
			fmt.Fprintf(&b, "_%02X_", c)
		}
	}
	return b.String()
}
