package oci

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// memStore is a blob store in memory.
type memStore map[v1.Hash][]byte

func (m memStore) index() ([]byte, error) { return nil, io.EOF }
func (m memStore) blob(h v1.Hash) (io.ReadCloser, int64, error) {
	return io.NopCloser(bytes.NewReader(m[h])), int64(len(m[h])), nil
}
func (m memStore) Close() error { return nil }

// FuzzLayer indexes a one-layer image whose blob is the input (as gzip,
// zstd or a plain tar, by its first bytes), then walks the result and
// reads every file. Nothing may panic, hang or grow without bound;
// errors are fine.
func FuzzLayer(f *testing.F) {
	seed := makeTar(f,
		tarEntry{"etc/", tar.TypeDir, ""}, tarEntry{"etc/a", tar.TypeReg, "a"}, tarEntry{"./etc/.wh.b", tar.TypeReg, ""},
		tarEntry{"opq/.wh..wh..opq", tar.TypeReg, ""}, tarEntry{"/abs/../../x", tar.TypeReg, "x"},
		tarEntry{"l", tar.TypeSymlink, "../../etc/a"}, tarEntry{"h", tar.TypeLink, "etc/a"}, tarEntry{"h2", tar.TypeLink, "missing"},
		tarEntry{"loop", tar.TypeSymlink, "loop"}, tarEntry{".wh..wh..opq", tar.TypeReg, ""}, tarEntry{"d/.wh..", tar.TypeReg, ""})
	for _, comp := range []string{"gzip", "zstd", "none"} {
		f.Add(compress(f, seed, comp))
	}
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b})
	f.Fuzz(func(t *testing.T, data []byte) {
		mt := types.OCIUncompressedLayer
		switch {
		case bytes.HasPrefix(data, gzipMagic):
			mt = types.OCILayer
		case bytes.HasPrefix(data, zstdMagic):
			mt = types.OCILayerZStd
		}
		h := sha(data)
		img := &Image{ref: "fuzz", store: memStore{h: data}}
		img.layers = []*Layer{{img: img, desc: v1.Descriptor{MediaType: mt, Digest: h, Size: int64(len(data))}}}
		for _, sel := range []func(string, *tar.Header) Selection{nil, func(name string, _ *tar.Header) Selection {
			if strings.HasPrefix(name, "etc") {
				return Cache
			}
			return Skip
		}} {
			fsys, err := NewFS(t.Context(), img, FSOptions{Select: sel, MaxCache: 1 << 20, MaxCachedFile: 1 << 16})
			if err != nil {
				continue
			}
			files := 0
			fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
				if err != nil || files > 64 {
					return fs.SkipDir
				}
				fsys.Lstat(p)
				fsys.Stat(p)
				fsys.ReadLink(p)
				if d.Type().IsRegular() {
					files++
					if fh, err := fsys.Open(p); err == nil {
						io.Copy(io.Discard, io.LimitReader(fh, 1<<20))
						fh.Close()
					}
				}
				return nil
			})
		}
	})
}
