package oci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// IsRef reports whether ref names an image Open can read.
func IsRef(ref string) bool {
	return strings.HasPrefix(ref, "oci:") || strings.HasPrefix(ref, "oci-archive:")
}

// Image is one image of an OCI layout: its verified manifest and config,
// and its layers, whose blobs are read (and verified) only when streamed.
type Image struct {
	ref            string
	store          blobStore
	ManifestDigest v1.Hash
	Manifest       *v1.Manifest
	Config         *v1.ConfigFile
	layers         []*Layer
}

// Open reads the image "oci:DIR[:TAG]" (an OCI image layout directory) or
// "oci-archive:FILE[:TAG]" (a tar of one). Without TAG the layout must hold
// exactly one image; an index is descended for this machine's platform.
// The index's manifest and the config are verified against their digests
// here; layers when they are read. The caller must Close the image.
func Open(ctx context.Context, ref string) (*Image, error) {
	transport, rest, _ := strings.Cut(ref, ":")
	loc, tag, _ := strings.Cut(rest, ":")
	if loc == "" {
		return nil, fmt.Errorf("image reference %q: missing path after %s:", ref, transport)
	}
	var store blobStore
	switch transport {
	case "oci":
		store = dirStore(loc)
	case "oci-archive":
		a, err := openArchive(loc)
		if err != nil {
			return nil, err
		}
		store = a
	default:
		return nil, fmt.Errorf("image reference %q: unknown transport %q (use oci: or oci-archive:)", ref, transport)
	}
	img, err := openImage(ctx, ref, store, tag)
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	return img, nil
}

// Close releases the image source (an open oci-archive file).
func (img *Image) Close() error { return img.store.Close() }

// Ref is the reference the image was opened with.
func (img *Image) Ref() string { return img.ref }

// Layers returns the layers, lowest first.
func (img *Image) Layers() []*Layer { return img.layers }

const refNameAnnotation = "org.opencontainers.image.ref.name"

func openImage(ctx context.Context, ref string, store blobStore, tag string) (*Image, error) {
	data, err := store.index()
	if err != nil {
		return nil, fmt.Errorf("read index.json: %w", err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse index.json: %w", err)
	}
	var cands []v1.Descriptor
	var tags []string
	for _, d := range idx.Manifests {
		name := d.Annotations[refNameAnnotation]
		if name != "" {
			tags = append(tags, name)
		}
		if tag == "" || name == tag {
			cands = append(cands, d)
		}
	}
	switch {
	case len(cands) == 0 && tag != "":
		return nil, fmt.Errorf("no image tagged %q in the layout (tags: %s)", tag, strings.Join(tags, ", "))
	case len(cands) == 0:
		return nil, errors.New("the layout holds no image")
	case len(cands) > 1:
		return nil, fmt.Errorf("the layout holds %d images; name one as :TAG (tags: %s)", len(cands), strings.Join(tags, ", "))
	}
	desc := cands[0]
	for depth := 0; desc.MediaType.IsIndex(); depth++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if depth > 4 {
			return nil, errors.New("image indexes nest too deeply")
		}
		data, err := readVerified(store, desc.Digest, desc.Size, "index")
		if err != nil {
			return nil, err
		}
		sub, err := v1.ParseIndexManifest(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("parse index %s: %w", desc.Digest, err)
		}
		parent := desc.Digest
		if desc, err = pickPlatform(sub.Manifests); err != nil {
			return nil, fmt.Errorf("index %s: %w", parent, err)
		}
	}
	if desc.MediaType != "" && !desc.MediaType.IsImage() {
		return nil, fmt.Errorf("manifest %s has media type %s, not an image manifest", desc.Digest, desc.MediaType)
	}
	raw, err := readVerified(store, desc.Digest, desc.Size, "manifest")
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parse manifest %s: %w", desc.Digest, err)
	}
	cfgRaw, err := readVerified(store, m.Config.Digest, m.Config.Size, "config")
	if err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgRaw))
	if err != nil {
		return nil, fmt.Errorf("parse config %s: %w", m.Config.Digest, err)
	}
	diffIDs := cfg.RootFS.DiffIDs
	if len(diffIDs) != 0 && len(diffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("config %s lists %d diff_ids for %d layers", m.Config.Digest, len(diffIDs), len(m.Layers))
	}
	img := &Image{ref: ref, store: store, ManifestDigest: desc.Digest, Manifest: m, Config: cfg}
	for i, d := range m.Layers {
		l := &Layer{img: img, index: i, desc: d}
		if len(diffIDs) > 0 {
			l.diffID = diffIDs[i]
		}
		img.layers = append(img.layers, l)
	}
	return img, nil
}

func pickPlatform(ds []v1.Descriptor) (v1.Descriptor, error) {
	if len(ds) == 1 {
		return ds[0], nil
	}
	for _, d := range ds {
		if d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == runtime.GOARCH {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("no image for linux/%s among %d", runtime.GOARCH, len(ds))
}

// Layer is one layer of an Image. It implements go-containerregistry's
// v1.Layer; both of its streams are verified when read to the end.
type Layer struct {
	img    *Image
	index  int
	desc   v1.Descriptor
	diffID v1.Hash // zero when the config lists none
}

var _ v1.Layer = (*Layer)(nil)

func (l *Layer) String() string {
	return fmt.Sprintf("layer %d (%s)", l.index, l.desc.Digest)
}

// Index is the layer's position, 0 for the lowest.
func (l *Layer) Index() int { return l.index }

// Digest is the digest of the (compressed) blob.
func (l *Layer) Digest() (v1.Hash, error) { return l.desc.Digest, nil }

// DiffID is the digest of the uncompressed tar from the image config.
func (l *Layer) DiffID() (v1.Hash, error) {
	if l.diffID == (v1.Hash{}) {
		return v1.Hash{}, fmt.Errorf("%s: the image config lists no diff_id", l)
	}
	return l.diffID, nil
}

// Size is the blob's size from the manifest.
func (l *Layer) Size() (int64, error) { return l.desc.Size, nil }

// MediaType is the layer's media type from the manifest.
func (l *Layer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

// Compressed streams the blob; reading it to the end checks its digest
// and size (the error replaces io.EOF).
func (l *Layer) Compressed() (io.ReadCloser, error) {
	rc, _, err := l.img.store.blob(l.desc.Digest)
	if err != nil {
		return nil, fmt.Errorf("%s of %s: %w", l, l.img.ref, err)
	}
	size := l.desc.Size
	if size == 0 {
		size = -1
	}
	return readCloser{newVerifyReader(rc, l.desc.Digest, size, fmt.Sprintf("blob %s (layer %d of %s)", l.desc.Digest, l.index, l.img.ref)), rc}, nil
}

// Uncompressed streams the layer's tar, decompressed as its media type
// says (gzip, zstd or none). Reading it to the end checks the diff_id and
// the blob's digest.
func (l *Layer) Uncompressed() (io.ReadCloser, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("%s of %s", l, l.img.ref)
	d, err := Decompress(rc, l.desc.MediaType, what)
	if err != nil {
		rc.Close()
		return nil, err
	}
	var r io.Reader = d
	if l.diffID != (v1.Hash{}) {
		r = newVerifyReader(d, l.diffID, -1, fmt.Sprintf("uncompressed %s (diff_id %s)", what, l.diffID))
	}
	return readCloser{&drainReader{r: r, raw: rc}, multiCloser{d, rc}}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var errs []error
	for _, c := range m {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// drainReader, at the end of the uncompressed stream, reads what is left
// of the raw blob (bytes after the compressed stream) so that the blob's
// digest is checked too.
type drainReader struct {
	r   io.Reader
	raw io.Reader
}

func (d *drainReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err == io.EOF {
		if _, derr := io.Copy(io.Discard, d.raw); derr != nil {
			return n, derr
		}
	}
	return n, err
}
