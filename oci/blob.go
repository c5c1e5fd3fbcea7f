package oci

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// blobStore reads index.json and blobs of an OCI layout.
type blobStore interface {
	index() ([]byte, error)
	// blob opens a blob's raw bytes; size is -1 when unknown.
	blob(h v1.Hash) (rc io.ReadCloser, size int64, err error)
	io.Closer
}

// dirStore is an OCI image layout directory.
type dirStore string

func (d dirStore) index() ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(string(d), "index.json"))
	if err != nil {
		return nil, fmt.Errorf("%w (an OCI layout directory has index.json, oci-layout and blobs/)", err)
	}
	return data, nil
}

func (d dirStore) blob(h v1.Hash) (io.ReadCloser, int64, error) {
	if !validHash(h) {
		return nil, 0, fmt.Errorf("unsupported digest %s", h)
	}
	f, err := os.Open(filepath.Join(string(d), "blobs", h.Algorithm, h.Hex))
	if err != nil {
		return nil, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, fi.Size(), nil
}

func (d dirStore) Close() error { return nil }

// validHash accepts the digests OCI images use; it also keeps a crafted
// digest from naming a path outside blobs/.
func validHash(h v1.Hash) bool {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return false
	}
	_, err := hex.DecodeString(h.Hex)
	return err == nil
}

// archiveStore reads an OCI layout from a tar file in place: one pass over
// the headers records where each file's bytes are.
type archiveStore struct {
	f     *os.File
	name  string
	files map[string][2]int64 // offset, size
}

func openArchive(name string) (*archiveStore, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("open OCI archive: %w", err)
	}
	a := &archiveStore{f: f, name: name, files: map[string][2]int64{}}
	tr := tar.NewReader(f)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			if n == 0 {
				f.Close()
				return nil, fmt.Errorf("read OCI archive %s: empty archive; want a tar of an OCI layout (as skopeo copy oci-archive: writes)", name)
			}
			break
		}
		if err != nil {
			f.Close()
			if n == 0 {
				return nil, fmt.Errorf("read OCI archive %s: not a tar archive (%v); want a tar of an OCI layout (as skopeo copy oci-archive: writes)", name, err)
			}
			return nil, fmt.Errorf("read OCI archive %s: entry %d: %w (truncated or corrupt tar)", name, n+1, err)
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

func (a *archiveStore) open(name string) (io.ReadCloser, int64, error) {
	loc, ok := a.files[name]
	if !ok {
		return nil, 0, fmt.Errorf("%s: no %s in the archive", a.name, name)
	}
	return io.NopCloser(io.NewSectionReader(a.f, loc[0], loc[1])), loc[1], nil
}

func (a *archiveStore) index() ([]byte, error) {
	rc, _, err := a.open("index.json")
	if err != nil {
		return nil, err
	}
	return io.ReadAll(rc)
}

func (a *archiveStore) blob(h v1.Hash) (io.ReadCloser, int64, error) {
	if !validHash(h) {
		return nil, 0, fmt.Errorf("unsupported digest %s", h)
	}
	return a.open(path.Join("blobs", h.Algorithm, h.Hex))
}

func (a *archiveStore) Close() error { return a.f.Close() }

// ErrDigest is returned (wrapped) when a blob's bytes do not match the
// digest or size that names it, or a layer's uncompressed bytes do not
// match its diff_id.
var ErrDigest = errors.New("digest mismatch")

// verifyReader hashes what passes through it and, at EOF, checks the
// digest and size; the error then replaces io.EOF.
type verifyReader struct {
	r    io.Reader
	h    hash.Hash
	want v1.Hash
	size int64 // -1: unknown
	n    int64
	what string // "blob sha256:… (layer 0)" or "uncompressed layer 0"
	done bool
	err  error
}

func newVerifyReader(r io.Reader, want v1.Hash, size int64, what string) *verifyReader {
	return &verifyReader{r: r, h: sha256.New(), want: want, size: size, what: what}
}

func (v *verifyReader) Read(p []byte) (int, error) {
	if v.done {
		return 0, v.eof()
	}
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.size >= 0 && v.n > v.size {
		v.done = true
		v.err = fmt.Errorf("%s: %w: more than the %d bytes its descriptor gives; want %s (the blob was changed or replaced)", v.what, ErrDigest, v.size, v.want)
		return n, v.err
	}
	if err == io.EOF {
		v.done = true
		return n, v.eof()
	}
	return n, err
}

func (v *verifyReader) eof() error {
	if v.err != nil {
		return v.err
	}
	switch got := "sha256:" + hex.EncodeToString(v.h.Sum(nil)); {
	case v.size >= 0 && v.n != v.size:
		v.err = fmt.Errorf("%s: %w: %d bytes, but its descriptor gives %d; want %s (the blob was changed or replaced)", v.what, ErrDigest, v.n, v.size, v.want)
	case got != v.want.String():
		v.err = fmt.Errorf("%s: %w: the content has digest %s, want %s (the blob was changed or replaced)", v.what, ErrDigest, got, v.want)
	default:
		v.err = io.EOF
	}
	return v.err
}

// readVerified reads a small blob (index, manifest, config) whole and
// checks it against its descriptor's digest and size.
func readVerified(s blobStore, h v1.Hash, size int64, what string) ([]byte, error) {
	const maxMetadataBlob = 16 << 20
	rc, _, err := s.blob(h)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, h, err)
	}
	defer rc.Close()
	if size > maxMetadataBlob {
		return nil, fmt.Errorf("%s %s: %d bytes is more than the %d a %s may have", what, h, size, maxMetadataBlob, what)
	}
	if size == 0 {
		size = -1 // some writers leave the size out
	}
	data, err := io.ReadAll(io.LimitReader(newVerifyReader(rc, h, size, what+" "+h.String()), maxMetadataBlob+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxMetadataBlob {
		return nil, fmt.Errorf("%s %s: more than %d bytes", what, h, maxMetadataBlob)
	}
	return bytes.Clone(data), nil
}
