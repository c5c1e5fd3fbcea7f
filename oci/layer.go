package oci

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
)

var (
	gzipMagic = []byte{0x1f, 0x8b}
	zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// Decompress returns the tar stream inside a layer blob of media type mt,
// which must say how it is compressed (gzip, zstd or uncompressed, OCI or
// Docker names). When the bytes do not start the way the media type says,
// the error names what (a layer, for messages) and what was expected.
func Decompress(r io.Reader, mt types.MediaType, what string) (io.ReadCloser, error) {
	want, err := layerCompression(mt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	br := bufio.NewReader(r)
	head, _ := br.Peek(4)
	got := "neither gzip nor zstd"
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		got = "gzip"
	case bytes.HasPrefix(head, zstdMagic):
		got = "zstd"
	}
	if got != want && (want != "uncompressed" || got != "neither gzip nor zstd") {
		if len(head) == 0 {
			return nil, fmt.Errorf("%s: the blob is empty; its media type %s wants %s data", what, mt, want)
		}
		return nil, fmt.Errorf("%s: media type %s wants %s data, but the blob starts with % x (%s)", what, mt, want, head, got)
	}
	switch want {
	case "gzip":
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", what, err)
		}
		return &errNamer{r: zr, c: zr, what: what + ": gzip"}, nil
	case "zstd":
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, fmt.Errorf("%s: zstd: %w", what, err)
		}
		return &errNamer{r: zr, c: closeFunc(func() error { zr.Close(); return nil }), what: what + ": zstd"}, nil
	}
	return io.NopCloser(br), nil
}

func layerCompression(mt types.MediaType) (string, error) {
	switch mt {
	case types.OCILayer, types.DockerLayer, types.OCIRestrictedLayer, types.DockerForeignLayer:
		return "gzip", nil
	case types.OCILayerZStd:
		return "zstd", nil
	case types.OCIUncompressedLayer, types.OCIUncompressedRestrictedLayer, types.DockerUncompressedLayer:
		return "uncompressed", nil
	}
	return "", fmt.Errorf("media type %q is not a layer (want %s, %s or %s)", mt, types.OCILayer, types.OCILayerZStd, types.OCIUncompressedLayer)
}

type closeFunc func() error

func (f closeFunc) Close() error { return f() }

// errNamer adds what was being decompressed to a decompression error
// ("unexpected EOF" alone names nothing).
type errNamer struct {
	r    io.Reader
	c    io.Closer
	what string
}

func (e *errNamer) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && !errors.Is(err, ErrDigest) {
		err = fmt.Errorf("%s: %w (truncated or corrupt)", e.what, err)
	}
	return n, err
}

func (e *errNamer) Close() error { return e.c.Close() }

// Entry is one entry of a layer tar, with the whiteout conventions of the
// OCI image spec decoded.
type Entry struct {
	// Name is the cleaned path relative to the root, never empty, "." or
	// starting with "/" or "..".
	Name   string
	Header *tar.Header
	// Whiteout is set for ".wh.NAME": NAME (in Name) is deleted from the
	// layers below. Opaque is set for ".wh..wh..opq": the directory Name
	// loses every entry from the layers below.
	Whiteout, Opaque bool
}

// LayerReader reads the entries of a layer tar. Reads return the content
// of the current entry.
type LayerReader struct {
	tr   *tar.Reader
	what string
	n    int
}

// NewLayerReader reads the uncompressed layer tar r; what names the layer
// in errors.
func NewLayerReader(r io.Reader, what string) *LayerReader {
	return &LayerReader{tr: tar.NewReader(r), what: what}
}

// Next returns the next entry that names a file (entries naming the root
// itself are skipped), or io.EOF after the last.
func (lr *LayerReader) Next() (*Entry, error) {
	for {
		hdr, err := lr.tr.Next()
		if err == io.EOF {
			return nil, io.EOF
		}
		if errors.Is(err, ErrDigest) {
			return nil, err
		}
		if err != nil {
			if lr.n == 0 {
				return nil, fmt.Errorf("%s: not a tar archive: %w", lr.what, err)
			}
			return nil, fmt.Errorf("%s: tar entry %d: %w", lr.what, lr.n+1, err)
		}
		lr.n++
		name := CleanName(hdr.Name)
		if name == "" {
			continue
		}
		e := &Entry{Name: name, Header: hdr}
		base, dir := path.Base(name), path.Dir(name)
		if base == ".wh..wh..opq" {
			e.Name, e.Opaque = dir, true
			if dir == "." {
				e.Name = "."
			}
		} else if hidden, ok := strings.CutPrefix(base, ".wh."); ok {
			if hidden == "" || hidden == "." || hidden == ".." {
				continue
			}
			e.Name, e.Whiteout = path.Join(dir, hidden), true
		}
		return e, nil
	}
}

// Read reads the current entry's content.
func (lr *LayerReader) Read(p []byte) (int, error) {
	n, err := lr.tr.Read(p)
	if err != nil && err != io.EOF && !errors.Is(err, ErrDigest) {
		err = fmt.Errorf("%s: tar entry %d: %w", lr.what, lr.n, err)
	}
	return n, err
}

// CleanName turns a tar entry name into a path relative to the root:
// leading "/" and "./" dropped, ".." kept inside the root. The root itself
// is "".
func CleanName(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}
