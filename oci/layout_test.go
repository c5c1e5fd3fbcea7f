package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
)

// tarEntry is one entry of a test layer: typ is tar's type flag.
type tarEntry struct {
	name string
	typ  byte
	body string // content, or link target
}

func makeTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: 0o644}
		switch e.typ {
		case tar.TypeReg:
			h.Size = int64(len(e.body))
		case tar.TypeDir:
			h.Mode = 0o755
		case tar.TypeSymlink, tar.TypeLink:
			h.Linkname = e.body
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if e.typ == tar.TypeReg {
			w.Write([]byte(e.body))
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func compress(t testing.TB, data []byte, how string) []byte {
	t.Helper()
	var b bytes.Buffer
	switch how {
	case "gzip":
		w := gzip.NewWriter(&b)
		w.Write(data)
		w.Close()
	case "zstd":
		w, err := zstd.NewWriter(&b)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
		w.Close()
	default:
		return data
	}
	return b.Bytes()
}

var mediaTypes = map[string]types.MediaType{"gzip": types.OCILayer, "zstd": types.OCILayerZStd, "none": types.OCIUncompressedLayer}

// testLayer is a layer of a test image: an uncompressed tar, how to
// compress it, and optionally a different blob or media type than that.
type testLayer struct {
	tar  []byte
	comp string
	blob []byte          // written instead of the compressed tar when set
	mt   types.MediaType // instead of comp's when set
}

func sha(data []byte) v1.Hash {
	s := sha256.Sum256(data)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

// testImage describes a layout written by writeLayout: where each blob is.
type testImage struct {
	dir              string
	manifest, config v1.Hash
	layers           []v1.Hash
}

func (ti testImage) blobPath(h v1.Hash) string {
	return filepath.Join(ti.dir, "blobs", h.Algorithm, h.Hex)
}

func writeBlob(t testing.TB, dir string, data []byte) v1.Descriptor {
	t.Helper()
	h := sha(data)
	p := filepath.Join(dir, "blobs", h.Algorithm, h.Hex)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return v1.Descriptor{Digest: h, Size: int64(len(data))}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// writeLayout writes an OCI layout holding one image of the layers.
func writeLayout(t testing.TB, layers ...testLayer) testImage {
	t.Helper()
	ti := testImage{dir: t.TempDir()}
	cfg := v1.ConfigFile{OS: "linux", Architecture: runtime.GOARCH, RootFS: v1.RootFS{Type: "layers"}}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1}
	for _, l := range layers {
		blob := l.blob
		if blob == nil {
			blob = compress(t, l.tar, l.comp)
		}
		d := writeBlob(t, ti.dir, blob)
		d.MediaType = mediaTypes[l.comp]
		if l.mt != "" {
			d.MediaType = l.mt
		}
		m.Layers = append(m.Layers, d)
		ti.layers = append(ti.layers, d.Digest)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, sha(l.tar))
	}
	m.Config = writeBlob(t, ti.dir, mustJSON(t, cfg))
	m.Config.MediaType = types.OCIConfigJSON
	ti.config = m.Config.Digest
	md := writeBlob(t, ti.dir, mustJSON(t, m))
	md.MediaType = types.OCIManifestSchema1
	md.Annotations = map[string]string{refNameAnnotation: "latest"}
	ti.manifest = md.Digest
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{md}}
	if err := os.WriteFile(filepath.Join(ti.dir, "index.json"), mustJSON(t, idx), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ti.dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return ti
}
