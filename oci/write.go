package oci

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/apt-ostree/apt-ostree/internal/atomicfile"
)

// Dest is a parsed image destination: "oci:DIR[:TAG]" or "oci-archive:FILE[:TAG]".
type Dest struct {
	Transport string // "oci" or "oci-archive"
	Path      string
	Tag       string // empty: the image is written untagged
}

func (d Dest) String() string {
	s := d.Transport + ":" + d.Path
	if d.Tag != "" {
		s += ":" + d.Tag
	}
	return s
}

// ParseDest parses an image destination. Only the oci: and oci-archive:
// transports are written; any other is refused with the supported list.
func ParseDest(ref string) (Dest, error) {
	transport, rest, ok := strings.Cut(ref, ":")
	if !ok {
		return Dest{}, fmt.Errorf("image destination %q: want oci:DIR[:TAG] or oci-archive:FILE[:TAG]", ref)
	}
	switch transport {
	case "oci", "oci-archive":
	default:
		return Dest{}, fmt.Errorf("image destination %q: transport %q is not supported; write oci:DIR[:TAG] or oci-archive:FILE[:TAG] and copy it elsewhere with skopeo copy", ref, transport)
	}
	loc, tag, _ := strings.Cut(rest, ":")
	if loc == "" {
		return Dest{}, fmt.Errorf("image destination %q: missing path after %s:", ref, transport)
	}
	if strings.ContainsAny(tag, "/@ ") {
		return Dest{}, fmt.Errorf("image destination %q: invalid tag %q", ref, tag)
	}
	return Dest{Transport: transport, Path: loc, Tag: tag}, nil
}

// staging is an OCI layout being built in a temporary directory beside its
// destination, so that the final renames stay on one file system.
type staging struct {
	dir string
}

func newStaging(dest Dest) (*staging, error) {
	parent := filepath.Dir(filepath.Clean(dest.Path))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("image destination %s: %w", dest, err)
	}
	dir, err := os.MkdirTemp(parent, "."+filepath.Base(dest.Path)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("create temporary layout beside %s: %w (is the parent directory writable?)", dest.Path, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &staging{dir: dir}, nil
}

func (s *staging) remove() { os.RemoveAll(s.dir) }

func (s *staging) blobPath(h v1.Hash) string {
	return filepath.Join(s.dir, "blobs", h.Algorithm, h.Hex)
}

// writeBlob stores data as a blob and returns its descriptor.
func (s *staging) writeBlob(mt types.MediaType, data []byte) (v1.Descriptor, error) {
	sum := sha256.Sum256(data)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	if err := atomicfile.Write(s.blobPath(h), data, 0o644); err != nil {
		return v1.Descriptor{}, err
	}
	return v1.Descriptor{MediaType: mt, Size: int64(len(data)), Digest: h}, nil
}

// layerBlob is a gzip-compressed layer being written: Write takes the
// uncompressed tar stream.
type layerBlob struct {
	s        *staging
	f        *os.File
	mt       types.MediaType
	gz       io.WriteCloser
	diffHash hash.Hash
	blobHash hash.Hash
	size     int64
	w        io.Writer
}

// gzipLevel is ostree-ext's (flate2's default); klauspost's gzip at a fixed
// level, single-threaded, gives the same bytes for the same input, as does
// its zstd encoder at a fixed level with one goroutine.
const gzipLevel = 6

// Compressions are the layer compressions Encapsulate writes.
var Compressions = []string{"gzip", "zstd"}

func (s *staging) newLayer(compression string) (*layerBlob, error) {
	f, err := os.CreateTemp(s.dir, "layer-")
	if err != nil {
		return nil, err
	}
	l := &layerBlob{s: s, f: f, diffHash: sha256.New(), blobHash: sha256.New()}
	w := io.MultiWriter(f, l.blobHash, (*counter)(&l.size))
	switch compression {
	case "", "gzip":
		l.mt = types.OCILayer
		l.gz, err = gzip.NewWriterLevel(w, gzipLevel)
	case "zstd":
		l.mt = types.OCILayerZStd
		l.gz, err = zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	default:
		err = fmt.Errorf("unknown layer compression %q (use %s)", compression, strings.Join(Compressions, " or "))
	}
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	l.w = io.MultiWriter(l.gz, l.diffHash)
	return l, nil
}

type counter int64

func (c *counter) Write(p []byte) (int, error) { *c += counter(len(p)); return len(p), nil }

func (l *layerBlob) Write(p []byte) (int, error) { return l.w.Write(p) }

// finish closes the compressed stream and moves the blob to its digest name.
func (l *layerBlob) finish() (desc v1.Descriptor, diffID v1.Hash, err error) {
	defer func() {
		if err != nil {
			l.f.Close()
			os.Remove(l.f.Name())
		}
	}()
	if err := l.gz.Close(); err != nil {
		return desc, diffID, err
	}
	if err := l.f.Chmod(0o644); err != nil {
		return desc, diffID, err
	}
	if err := l.f.Close(); err != nil {
		return desc, diffID, err
	}
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(l.blobHash.Sum(nil))}
	if err := os.Rename(l.f.Name(), l.s.blobPath(h)); err != nil {
		return desc, diffID, err
	}
	diffID = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(l.diffHash.Sum(nil))}
	return v1.Descriptor{MediaType: l.mt, Size: l.size, Digest: h}, diffID, nil
}

// abort drops an unfinished layer.
func (l *layerBlob) abort() {
	l.f.Close()
	os.Remove(l.f.Name())
}

const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// commit puts the staged blobs and the manifest descriptor md at dest:
// a new layout directory is renamed into place; an existing one gets the
// blobs and an index.json (written to a temporary file and renamed) in
// which md replaces any image of the same tag; an archive is written as a
// temporary file and renamed over FILE. The staging directory is consumed.
func (s *staging) commit(dest Dest, md v1.Descriptor) error {
	if dest.Tag != "" {
		md.Annotations = map[string]string{refNameAnnotation: dest.Tag}
	}
	if dest.Transport == "oci" {
		fi, err := os.Stat(dest.Path)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return s.commitNewDir(dest, md)
		case err != nil:
			return fmt.Errorf("image destination %s: %w", dest, err)
		case !fi.IsDir():
			return fmt.Errorf("image destination %s: %s exists and is not a directory", dest, dest.Path)
		}
		if _, err := os.Stat(filepath.Join(dest.Path, "oci-layout")); err != nil {
			ents, rerr := os.ReadDir(dest.Path)
			if rerr == nil && len(ents) == 0 {
				return s.commitNewDir(dest, md)
			}
			return fmt.Errorf("image destination %s: %s exists and is not an OCI image layout (no oci-layout file); remove it or choose another directory", dest, dest.Path)
		}
		return s.commitExistingDir(dest, md)
	}
	if err := s.writeIndex(s.dir, nil, md); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.dir, "oci-layout"), []byte(ociLayoutFile), 0o644); err != nil {
		return err
	}
	if err := writeArchive(s.dir, dest.Path); err != nil {
		return fmt.Errorf("image destination %s: %w", dest, err)
	}
	s.remove()
	return nil
}

func (s *staging) commitNewDir(dest Dest, md v1.Descriptor) error {
	if err := s.writeIndex(s.dir, nil, md); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.dir, "oci-layout"), []byte(ociLayoutFile), 0o644); err != nil {
		return err
	}
	if err := os.Rename(s.dir, dest.Path); err != nil {
		return fmt.Errorf("image destination %s: move the new layout into place: %w", dest, err)
	}
	return nil
}

func (s *staging) commitExistingDir(dest Dest, md v1.Descriptor) error {
	data, err := os.ReadFile(filepath.Join(dest.Path, "index.json"))
	if err != nil {
		return fmt.Errorf("image destination %s: read the existing index.json: %w", dest, err)
	}
	old, err := v1.ParseIndexManifest(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("image destination %s: the existing index.json is not an OCI index (%v); remove the directory or choose another", dest, err)
	}
	blobs := filepath.Join(dest.Path, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(filepath.Join(s.dir, "blobs", "sha256"))
	if err != nil {
		return err
	}
	for _, e := range ents {
		to := filepath.Join(blobs, e.Name())
		if _, err := os.Stat(to); err == nil {
			continue // content-addressed: the same bytes are already there
		}
		if err := os.Rename(filepath.Join(s.dir, "blobs", "sha256", e.Name()), to); err != nil {
			return fmt.Errorf("image destination %s: %w", dest, err)
		}
	}
	if err := s.writeIndex(dest.Path, old.Manifests, md); err != nil {
		return fmt.Errorf("image destination %s: %w", dest, err)
	}
	s.remove()
	return nil
}

// writeIndex writes dir/index.json (temporary file + rename) holding the
// manifests of keep that do not carry md's tag (untagged ones are dropped
// when md is untagged), then md.
func (s *staging) writeIndex(dir string, keep []v1.Descriptor, md v1.Descriptor) error {
	tag := md.Annotations[refNameAnnotation]
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for _, d := range keep {
		if d.Annotations[refNameAnnotation] == tag {
			continue
		}
		idx.Manifests = append(idx.Manifests, d)
	}
	idx.Manifests = append(idx.Manifests, md)
	data, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "index.json"), data, 0o644)
}

// writeArchive writes the layout in dir as a tar at path (temporary file +
// rename): oci-layout, index.json, then the blobs in name order, all with
// mtime 0 and owner 0:0, so that the archive bytes depend only on the layout.
func writeArchive(dir, path string) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	tw := tar.NewWriter(f)
	epoch := time.Unix(0, 0)
	addFile := func(name string) error {
		src, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		defer src.Close()
		fi, err := src.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: fi.Size(), ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err = io.Copy(tw, src)
		return err
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		return err
	}
	names := []string{"oci-layout", "index.json"}
	for _, e := range ents {
		names = append(names, "blobs/sha256/"+e.Name())
	}
	slices.Sort(names[2:])
	for _, n := range names {
		if err := addFile(n); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	ok = true
	return nil
}
