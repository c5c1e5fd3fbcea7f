package oci

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/apt-ostree/apt-ostree/bootc"
	"github.com/apt-ostree/apt-ostree/ostree"
	"github.com/apt-ostree/apt-ostree/ostree/gvariant"
)

// Chunk is one component layer of an encapsulated image: the content
// objects it holds and the components (packages) they belong to.
type Chunk struct {
	// Name is the layer's history entry (created_by).
	Name string
	// Components are recorded, sorted and comma-joined, in the layer's
	// "ostree.components" annotation.
	Components []string
	// Objects are content object checksums of the commit. An object named
	// by no chunk goes to the ostree layer; one named twice is an error.
	Objects []ostree.Checksum
}

// EncapsulateOptions control Encapsulate.
type EncapsulateOptions struct {
	// Chunks are the component layers, in layer order. nil puts every
	// content object into one chunk layer; an empty non-nil slice keeps all
	// content in the ostree layer (ostree-ext's unchunked image).
	Chunks []Chunk
	// Labels are merged last into the config labels and manifest
	// annotations (they override the ones derived from the commit).
	Labels map[string]string
	// Config is the base image config (Env, Entrypoint, ...); Labels and
	// Cmd are merged into it.
	Config *v1.Config
	// Cmd overrides the commit metadata "ostree.container-cmd".
	Cmd []string
	// Architecture is the OCI architecture; empty means this machine's.
	Architecture string
	// CopyMeta are commit metadata keys whose string values become labels
	// (an absent or non-string key is an error); CopyMetaOpt the same, but
	// absent keys are skipped.
	CopyMeta, CopyMetaOpt []string
	// Compression is "gzip" (the default, what every runtime reads) or
	// "zstd" (see Compressions).
	Compression string
}

// Encapsulated describes a written image.
type Encapsulated struct {
	ManifestDigest v1.Hash
	Manifest       *v1.Manifest
	Config         *v1.ConfigFile
}

// Encapsulate writes the commit rev of repo as an ostree-ext format v1 image
// (§6 of the ostree format notes) to dest ("oci:DIR[:TAG]" or
// "oci-archive:FILE[:TAG]"): layer 0 is the ostree layer (commit, all
// metadata objects, directories, and the content no chunk claims), then one
// layer per chunk. Entries are in a fixed order with owners numeric and
// mtimes the commit timestamp, layers gzip at a fixed level, and the config
// carries no wall-clock time, so the same commit and options give the same
// manifest digest anywhere.
func Encapsulate(ctx context.Context, repo *ostree.Repo, rev, dest string, opts EncapsulateOptions) (*Encapsulated, error) {
	d, err := ParseDest(dest)
	if err != nil {
		return nil, err
	}
	if opts.Compression != "" && !slices.Contains(Compressions, opts.Compression) {
		return nil, fmt.Errorf("unknown layer compression %q (use %s)", opts.Compression, strings.Join(Compressions, " or "))
	}
	csum, err := repo.ResolveRev(rev)
	if err != nil {
		return nil, fmt.Errorf("encapsulate %s of %s: %w", rev, repo.Path(), err)
	}
	e, err := newEncapsulation(repo, csum)
	if err != nil {
		return nil, fmt.Errorf("encapsulate commit %s of %s: %w", csum, repo.Path(), err)
	}
	chunks, remainder, err := e.partition(opts.Chunks)
	if err != nil {
		return nil, fmt.Errorf("encapsulate commit %s: %w", csum, err)
	}
	st, err := newStaging(d)
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			st.remove()
		}
	}()

	n := 1 + len(chunks)
	descs := make([]v1.Descriptor, n)
	diffIDs := make([]v1.Hash, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	for i := range n {
		g.Go(func() error {
			l, err := st.newLayer(opts.Compression)
			if err != nil {
				return err
			}
			if i == 0 {
				err = e.writeOstreeLayer(gctx, l, remainder)
			} else {
				err = e.writeChunkLayer(gctx, l, chunks[i-1].Objects)
			}
			if err != nil {
				l.abort()
				return fmt.Errorf("layer %d of commit %s: %w", i, csum, err)
			}
			descs[i], diffIDs[i], err = l.finish()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, c := range chunks {
		descs[i+1].Annotations = map[string]string{"ostree.components": strings.Join(c.Components, ",")}
	}

	labels, cmd := e.labels(diffIDs[n-1])
	if err := e.copyMeta(labels, opts.CopyMeta, opts.CopyMetaOpt); err != nil {
		return nil, err
	}
	maps.Copy(labels, opts.Labels)
	cfg := v1.Config{}
	if opts.Config != nil {
		cfg = *opts.Config
	}
	cfg.Labels = maps.Clone(cfg.Labels) // the caller's map stays as it was
	if cfg.Labels == nil {
		cfg.Labels = map[string]string{}
	}
	maps.Copy(cfg.Labels, labels)
	if opts.Cmd != nil {
		cmd = opts.Cmd
	}
	if cmd != nil {
		cfg.Cmd = cmd
	}
	arch := opts.Architecture
	if arch == "" {
		arch = runtime.GOARCH
	}
	created := v1.Time{Time: e.commit.Timestamp.UTC()}
	subject := e.commit.Subject
	if subject == "" {
		subject = "ostree export of commit " + csum.String()
	}
	history := []v1.History{{Created: created, CreatedBy: subject}}
	for _, c := range chunks {
		history = append(history, v1.History{Created: created, CreatedBy: c.Name})
	}
	cf := &v1.ConfigFile{
		Architecture: arch,
		OS:           "linux",
		Created:      created,
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: diffIDs},
		History:      history,
	}
	cfgData, err := json.Marshal(cf)
	if err != nil {
		return nil, err
	}
	cfgDesc, err := st.writeBlob(types.OCIConfigJSON, cfgData)
	if err != nil {
		return nil, err
	}
	m := &v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		Config:        cfgDesc,
		Layers:        descs,
		Annotations:   labels,
	}
	mData, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	mDesc, err := st.writeBlob(types.OCIManifestSchema1, mData)
	if err != nil {
		return nil, err
	}
	mDesc.Platform = &v1.Platform{Architecture: arch, OS: "linux"}
	if err := st.commit(d, mDesc); err != nil {
		return nil, err
	}
	ok = true
	return &Encapsulated{ManifestDigest: mDesc.Digest, Manifest: m, Config: cf}, nil
}

// labels returns the labels ostree-ext derives from the commit (§6.5) and
// the commit's ostree.container-cmd.
func (e *encapsulation) labels(finalDiffID v1.Hash) (map[string]string, []string) {
	md := e.commit.Metadata
	l := map[string]string{
		"ostree.commit":       e.csum.String(),
		"ostree.final-diffid": finalDiffID.String(),
	}
	if v, ok := md["version"].(string); ok {
		l["org.opencontainers.image.version"] = v
	}
	kver, _ := md["ostree.linux"].(string)
	if b, ok := md["ostree.bootable"].(bool); ok {
		// bootc's labels for a bootable tree; ostree-ext adds
		// containers.bootc whenever ostree.bootable is present.
		if b {
			maps.Copy(l, bootc.ImageLabels(kver))
		}
		l["ostree.bootable"] = strconv.FormatBool(b)
		l["containers.bootc"] = "1"
	}
	if kver != "" {
		l["ostree.linux"] = kver
	}
	cmd, _ := md["ostree.container-cmd"].([]string)
	return l, cmd
}

func (e *encapsulation) copyMeta(labels map[string]string, keys, optKeys []string) error {
	for i, k := range append(slices.Clone(keys), optKeys...) {
		v, ok := e.commit.Metadata[k]
		if !ok && i >= len(keys) {
			continue
		}
		s, isString := v.(string)
		if !ok || !isString {
			return fmt.Errorf("commit %s: metadata key %q to copy as a label is missing or not a string (use --copymeta-opt for optional keys)", e.csum, k)
		}
		labels[k] = s
	}
	return nil
}

// encapsulation is the walked commit.
type encapsulation struct {
	repo      *ostree.Repo
	csum      ostree.Checksum
	commit    *ostree.Commit
	raw       []byte // the commit object
	detached  []byte // the .commitmeta object, nil if none
	mtime     time.Time
	metaOrder []metaEntry                  // ostree layer entries of §6.3 step 7
	paths     map[ostree.Checksum][]string // content object → checkout paths
	order     []ostree.Checksum            // content objects, sorted
	hasVarTmp bool
}

// metaEntry is a metadata object or a checkout directory of the ostree layer.
type metaEntry struct {
	typ  ostree.ObjectType
	csum ostree.Checksum
	data []byte
	dir  string // non-empty: a directory entry with meta
	meta *ostree.DirMeta
}

func newEncapsulation(repo *ostree.Repo, csum ostree.Checksum) (*encapsulation, error) {
	raw, err := repo.ReadObject(ostree.ObjectCommit, csum)
	if err != nil {
		return nil, err
	}
	cm, err := ostree.ParseCommit(raw)
	if err != nil {
		return nil, err
	}
	e := &encapsulation{repo: repo, csum: csum, commit: cm, raw: raw, mtime: cm.Timestamp.UTC(), paths: map[ostree.Checksum][]string{}}
	if ok, err := repo.HasObject(ostree.ObjectCommitMeta, csum); err != nil {
		return nil, err
	} else if ok {
		if e.detached, err = repo.ReadObject(ostree.ObjectCommitMeta, csum); err != nil {
			return nil, err
		}
	}
	seen := map[ostree.Checksum]bool{}
	rootMeta, err := e.addMeta(ostree.ObjectDirMeta, cm.RootMeta, seen)
	if err != nil {
		return nil, err
	}
	e.metaOrder = append(e.metaOrder, metaEntry{dir: "./", meta: rootMeta})
	if err := e.walk(cm.RootTree, "", seen); err != nil {
		return nil, err
	}
	e.order = slices.SortedFunc(maps.Keys(e.paths), func(a, b ostree.Checksum) int { return strings.Compare(string(a[:]), string(b[:])) })
	return e, nil
}

// addMeta queues a metadata object (once per checksum) and, for dirmeta,
// returns it parsed.
func (e *encapsulation) addMeta(t ostree.ObjectType, c ostree.Checksum, seen map[ostree.Checksum]bool) (*ostree.DirMeta, error) {
	data, err := e.repo.ReadObject(t, c)
	if err != nil {
		return nil, err
	}
	if !seen[c] {
		seen[c] = true
		e.metaOrder = append(e.metaOrder, metaEntry{typ: t, csum: c, data: data})
	}
	if t != ostree.ObjectDirMeta {
		return nil, nil
	}
	return ostree.ParseDirMeta(data)
}

// checkoutPath maps a commit path to the image path: usr/etc is /etc.
func checkoutPath(p string) string {
	if p == "usr/etc" {
		return "etc"
	}
	if rest, ok := strings.CutPrefix(p, "usr/etc/"); ok {
		return "etc/" + rest
	}
	return p
}

// walk is ostree-ext's append_dirtree: the dirtree object, then for each
// subdirectory its dirmeta, its directory entry and its contents. The
// top-level sysroot is not checked out (the embedded repo lives there), but
// its objects are still collected, or the embedded commit would be
// incomplete.
func (e *encapsulation) walk(tree ostree.Checksum, dir string, seen map[ostree.Checksum]bool) error {
	checkout := dir != "sysroot/" && !strings.HasPrefix(dir, "sysroot/")
	if _, err := e.addMeta(ostree.ObjectDirTree, tree, seen); err != nil {
		return err
	}
	t, err := e.repo.ReadDirTree(tree)
	if err != nil {
		return err
	}
	for _, f := range t.Files {
		paths := e.paths[f.Checksum]
		if checkout {
			paths = append(paths, checkoutPath(dir+f.Name))
		}
		e.paths[f.Checksum] = paths
	}
	for _, sub := range t.Dirs {
		p := dir + sub.Name
		if p == "var/tmp" {
			e.hasVarTmp = true
		}
		meta, err := e.addMeta(ostree.ObjectDirMeta, sub.MetaChecksum, seen)
		if err != nil {
			return err
		}
		if checkout && p != "sysroot" {
			e.metaOrder = append(e.metaOrder, metaEntry{dir: "./" + checkoutPath(p), meta: meta})
		}
		if err := e.walk(sub.TreeChecksum, p+"/", seen); err != nil {
			return err
		}
	}
	return nil
}

// partition resolves the chunk list: nil → one chunk of every content
// object. It returns the chunks and the objects left for the ostree layer.
func (e *encapsulation) partition(in []Chunk) ([]Chunk, []ostree.Checksum, error) {
	if in == nil {
		if len(e.order) == 0 {
			return nil, nil, nil
		}
		return []Chunk{{Name: fmt.Sprintf("%d objects", len(e.order)), Objects: e.order}}, nil, nil
	}
	owner := map[ostree.Checksum]int{}
	out := make([]Chunk, len(in))
	for i, c := range in {
		if len(c.Objects) == 0 {
			return nil, nil, fmt.Errorf("chunk %d (%s) holds no objects", i, c.Name)
		}
		objs := slices.Clone(c.Objects)
		slices.SortFunc(objs, func(a, b ostree.Checksum) int { return strings.Compare(string(a[:]), string(b[:])) })
		for _, o := range objs {
			if _, ok := e.paths[o]; !ok {
				return nil, nil, fmt.Errorf("chunk %d (%s): %s is not a content object of the commit", i, c.Name, o)
			}
			if j, dup := owner[o]; dup {
				return nil, nil, fmt.Errorf("content object %s is in chunks %d and %d", o, j, i)
			}
			owner[o] = i
		}
		comps := slices.Clone(c.Components)
		slices.Sort(comps)
		out[i] = Chunk{Name: c.Name, Components: comps, Objects: objs}
	}
	var rest []ostree.Checksum
	for _, o := range e.order {
		if _, ok := owner[o]; !ok {
			rest = append(rest, o)
		}
	}
	return out, rest, nil
}

const repoPrefix = "sysroot/ostree/repo/"

func objectName(c ostree.Checksum, ext string) string {
	s := c.String()
	return repoPrefix + "objects/" + s[:2] + "/" + s[2:] + "." + ext
}

var extensions = map[ostree.ObjectType]string{
	ostree.ObjectDirTree:    "dirtree",
	ostree.ObjectDirMeta:    "dirmeta",
	ostree.ObjectCommit:     "commit",
	ostree.ObjectCommitMeta: "commitmeta",
}

type layerTar struct {
	tw    *tar.Writer
	mtime time.Time
}

func (t *layerTar) dir(name string, uid, gid uint32, mode int64) error {
	return t.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode, Uid: int(uid), Gid: int(gid), ModTime: t.mtime})
}

func (t *layerTar) file(name string, data []byte) error {
	if err := t.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), ModTime: t.mtime}); err != nil {
		return err
	}
	_, err := t.tw.Write(data)
	return err
}

// skeleton writes §6.3 steps 2 and 3: the embedded repo's directories and config.
func (t *layerTar) skeleton() error {
	for _, d := range []string{"sysroot", "sysroot/ostree", "sysroot/ostree/repo", "sysroot/ostree/repo/objects"} {
		if err := t.dir(d, 0, 0, 0o755); err != nil {
			return err
		}
	}
	for i := range 256 {
		if err := t.dir(fmt.Sprintf("%sobjects/%02x", repoPrefix, i), 0, 0, 0o755); err != nil {
			return err
		}
	}
	for _, d := range []string{"extensions", "refs", "refs/heads", "refs/mirrors", "refs/remotes", "state", "tmp", "tmp/cache"} {
		if err := t.dir(repoPrefix+d, 0, 0, 0o755); err != nil {
			return err
		}
	}
	return t.file(repoPrefix+"config", []byte("[core]\nrepo_version=1\nmode=bare-split-xattrs\n"))
}

func (e *encapsulation) newTar(w io.Writer) *layerTar {
	return &layerTar{tw: tar.NewWriter(w), mtime: e.mtime}
}

func (e *encapsulation) writeOstreeLayer(ctx context.Context, w io.Writer, remainder []ostree.Checksum) error {
	t := e.newTar(w)
	root := e.metaOrder[1] // [0] is the root dirmeta object, [1] its "./" entry
	if err := t.dir("./", root.meta.UID, root.meta.GID, int64(root.meta.Mode&0o7777)); err != nil {
		return err
	}
	if err := t.skeleton(); err != nil {
		return err
	}
	if err := t.file(objectName(e.csum, "commit"), e.raw); err != nil {
		return err
	}
	if e.detached != nil {
		if err := t.file(objectName(e.csum, "commitmeta"), e.detached); err != nil {
			return err
		}
	}
	for i, m := range e.metaOrder {
		if i == 1 {
			continue
		}
		if m.dir != "" {
			if err := t.dir(m.dir, m.meta.UID, m.meta.GID, int64(m.meta.Mode&0o7777)); err != nil {
				return err
			}
			continue
		}
		if err := t.file(objectName(m.csum, extensions[m.typ]), m.data); err != nil {
			return err
		}
	}
	if !e.hasVarTmp {
		if err := t.dir("var/tmp", 0, 0, 0o1777); err != nil {
			return err
		}
	}
	if err := e.writeContent(ctx, t, remainder); err != nil {
		return err
	}
	return t.tw.Close()
}

// writeChunkLayer writes a component layer. Its entries have mtime 0, as
// ostree-ext's, not the commit time: the layer then depends only on its
// objects, so an unchanged chunk of the next build has the same digest.
func (e *encapsulation) writeChunkLayer(ctx context.Context, w io.Writer, objs []ostree.Checksum) error {
	t := &layerTar{tw: tar.NewWriter(w), mtime: time.Unix(0, 0)}
	if err := t.skeleton(); err != nil {
		return err
	}
	if err := e.writeContent(ctx, t, objs); err != nil {
		return err
	}
	return t.tw.Close()
}

var typeXattrs = gvariant.MustParseType("a(ayay)")

// xattrsBytes is the normal-form a(ayay) of x (names with their trailing NUL).
func xattrsBytes(x []ostree.Xattr) ([]byte, error) {
	v := make([]any, len(x))
	for i, a := range x {
		v[i] = []any{append([]byte(a.Name), 0), a.Value}
	}
	return gvariant.MarshalType(typeXattrs, v)
}

// writeContent is §6.4 for objs (sorted): per object its xattrs link, the
// object (with PAX xattrs for container runtimes), then its checkout paths.
func (e *encapsulation) writeContent(ctx context.Context, t *layerTar, objs []ostree.Checksum) error {
	for _, c := range objs {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, rc, err := e.repo.OpenContent(c)
		if err != nil {
			return err
		}
		err = e.writeObject(t, c, h, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("content object %s: %w", c, err)
		}
	}
	return nil
}

func (e *encapsulation) writeObject(t *layerTar, c ostree.Checksum, h *ostree.FileHeader, content io.Reader) error {
	x, err := xattrsBytes(h.Xattrs)
	if err != nil {
		return err
	}
	if err := t.file(objectName(c, "file-xattrs-link"), x); err != nil {
		return err
	}
	obj := objectName(c, "file")
	hdr := &tar.Header{Name: obj, Uid: int(h.UID), Gid: int(h.GID), ModTime: t.mtime}
	for _, a := range h.Xattrs {
		if a.Name == "security.selinux" {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+a.Name] = string(a.Value)
	}
	if h.IsSymlink() {
		hdr.Typeflag, hdr.Linkname, hdr.Mode = tar.TypeSymlink, h.SymlinkTarget, 0o777
	} else {
		hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, int64(h.Mode&0o7777), int64(h.Size)
	}
	if err := t.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !h.IsSymlink() {
		if n, err := io.Copy(t.tw, content); err != nil {
			return err
		} else if n != int64(h.Size) {
			return fmt.Errorf("content is %d bytes, header says %d", n, h.Size)
		}
	}
	for _, p := range e.paths[c] {
		ph := &tar.Header{Name: p, Uid: hdr.Uid, Gid: hdr.Gid, Mode: hdr.Mode, ModTime: t.mtime}
		if !h.IsSymlink() && h.Size == 0 {
			// A separate inode: it needs its own xattrs.
			ph.Typeflag, ph.PAXRecords = tar.TypeReg, hdr.PAXRecords
		} else {
			ph.Typeflag, ph.Linkname = tar.TypeLink, obj
		}
		if err := t.tw.WriteHeader(ph); err != nil {
			return err
		}
	}
	return nil
}
