package lint

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// IsImageRef reports whether ref names an image OpenImage can read.
func IsImageRef(ref string) bool {
	return strings.HasPrefix(ref, "oci:") || strings.HasPrefix(ref, "oci-archive:")
}

// OpenImage indexes the image "oci:DIR[:TAG]" (an OCI image layout directory)
// or "oci-archive:FILE[:TAG]" (a tar of one) straight from its layers. Without
// TAG the layout must hold exactly one image. The caller must Close the result.
func OpenImage(ctx context.Context, ref string) (*ImageFS, error) {
	transport, rest, _ := strings.Cut(ref, ":")
	loc, tag, _ := strings.Cut(rest, ":")
	if loc == "" {
		return nil, fmt.Errorf("image reference %q: missing path after %s:", ref, transport)
	}
	var blobs blobStore
	var closer io.Closer
	switch transport {
	case "oci":
		p, err := layout.FromPath(loc)
		if err != nil {
			return nil, fmt.Errorf("open OCI layout %s: %w", loc, err)
		}
		blobs = layoutBlobs{p}
	case "oci-archive":
		a, err := openArchive(loc)
		if err != nil {
			return nil, err
		}
		blobs, closer = a, a
	default:
		return nil, fmt.Errorf("image reference %q: unknown transport %q (use oci: or oci-archive:)", ref, transport)
	}
	img, err := imageFromBlobs(blobs, tag)
	if err == nil {
		var f *ImageFS
		if f, err = NewImageFS(ctx, img); err == nil {
			f.closer = closer
			return f, nil
		}
	}
	if closer != nil {
		closer.Close()
	}
	return nil, fmt.Errorf("image %s: %w", ref, err)
}

// blobStore reads index.json and blobs of an OCI layout.
type blobStore interface {
	index() ([]byte, error)
	blob(h v1.Hash) (io.ReadCloser, int64, error)
}

type layoutBlobs struct{ p layout.Path }

func (l layoutBlobs) index() ([]byte, error) {
	return os.ReadFile(filepath.Join(string(l.p), "index.json"))
}

func (l layoutBlobs) blob(h v1.Hash) (io.ReadCloser, int64, error) {
	rc, err := l.p.Blob(h)
	if err != nil {
		return nil, 0, err
	}
	size := int64(-1)
	if fi, err := os.Stat(filepath.Join(string(l.p), "blobs", h.Algorithm, h.Hex)); err == nil {
		size = fi.Size()
	}
	return rc, size, nil
}

// archiveBlobs reads an OCI layout from a tar file in place: one pass over
// the headers records where each file's bytes are.
type archiveBlobs struct {
	f     *os.File
	name  string
	files map[string][2]int64 // offset, size
}

func openArchive(name string) (*archiveBlobs, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open OCI archive: %w", err)
	}
	a := &archiveBlobs{f: f, name: name, files: map[string][2]int64{}}
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read OCI archive %s: %w", name, err)
		}
		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		// archive/tar reads headers straight from f, so f's offset is where the data starts.
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("read OCI archive %s: %w", name, err)
		}
		a.files[strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")] = [2]int64{off, hdr.Size}
	}
	return a, nil
}

func (a *archiveBlobs) open(name string) (io.ReadCloser, int64, error) {
	loc, ok := a.files[name]
	if !ok {
		return nil, 0, fmt.Errorf("%s: no %s in the archive", a.name, name)
	}
	return io.NopCloser(io.NewSectionReader(a.f, loc[0], loc[1])), loc[1], nil
}

func (a *archiveBlobs) index() ([]byte, error) {
	rc, _, err := a.open("index.json")
	if err != nil {
		return nil, err
	}
	return io.ReadAll(rc)
}

func (a *archiveBlobs) blob(h v1.Hash) (io.ReadCloser, int64, error) {
	return a.open(path.Join("blobs", h.Algorithm, h.Hex))
}

func (a *archiveBlobs) Close() error { return a.f.Close() }

func readBlob(b blobStore, h v1.Hash) ([]byte, error) {
	rc, _, err := b.blob(h)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	return data, nil
}

const refNameAnnotation = "org.opencontainers.image.ref.name"

// imageFromBlobs picks the image named tag (or the only one) from the
// layout's index, descending into a nested index for this machine's platform.
func imageFromBlobs(b blobStore, tag string) (v1.Image, error) {
	data, err := b.index()
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
		if depth > 4 {
			return nil, errors.New("image indexes nest too deeply")
		}
		data, err := readBlob(b, desc.Digest)
		if err != nil {
			return nil, err
		}
		sub, err := v1.ParseIndexManifest(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("parse index %s: %w", desc.Digest, err)
		}
		parent := desc.Digest
		desc, err = pickPlatform(sub.Manifests)
		if err != nil {
			return nil, fmt.Errorf("index %s: %w", parent, err)
		}
	}
	manifest, err := readBlob(b, desc.Digest)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(manifest))
	if err != nil {
		return nil, fmt.Errorf("parse manifest %s: %w", desc.Digest, err)
	}
	mt := desc.MediaType
	if mt == "" {
		mt = m.MediaType
	}
	return partial.CompressedToImage(&blobImage{b: b, raw: manifest, m: m, mt: mt})
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

// blobImage is a partial.CompressedImageCore over a blob store.
type blobImage struct {
	b   blobStore
	raw []byte
	m   *v1.Manifest
	mt  types.MediaType
}

func (i *blobImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *blobImage) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *blobImage) RawConfigFile() ([]byte, error)      { return readBlob(i.b, i.m.Config.Digest) }

func (i *blobImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.m.Layers {
		if l.Digest == h {
			return &blobLayer{b: i.b, desc: l}, nil
		}
	}
	if i.m.Config.Digest == h {
		return &blobLayer{b: i.b, desc: i.m.Config}, nil
	}
	return nil, fmt.Errorf("blob %s is not in the manifest", h)
}

type blobLayer struct {
	b    blobStore
	desc v1.Descriptor
}

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *blobLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error) {
	rc, _, err := l.b.blob(l.desc.Digest)
	return rc, err
}
