package oci

import (
	"archive/tar"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func openFS(t *testing.T, ref string, opts FSOptions) (*FS, error) {
	t.Helper()
	img, err := Open(t.Context(), ref)
	if err != nil {
		return nil, err
	}
	f, err := NewFS(t.Context(), img, opts)
	if err != nil {
		img.Close()
		return nil, err
	}
	t.Cleanup(func() { f.Close() })
	return f, nil
}

func readAll(t *testing.T, fsys fs.FS, name string) string {
	t.Helper()
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// Layers of every compression, whiteouts, and the Select/Cache choices.
func TestFSLayersAndWhiteouts(t *testing.T) {
	lower := makeTar(t,
		tarEntry{"etc/", tar.TypeDir, ""}, tarEntry{"etc/a", tar.TypeReg, "lower a"}, tarEntry{"etc/b", tar.TypeReg, "b"},
		tarEntry{"opq/", tar.TypeDir, ""}, tarEntry{"opq/old", tar.TypeReg, "old"},
		tarEntry{"big/skipped", tar.TypeReg, "skipped"}, tarEntry{"link", tar.TypeSymlink, "etc/a"})
	middle := makeTar(t, tarEntry{"etc/.wh.b", tar.TypeReg, ""}, tarEntry{"opq/.wh..wh..opq", tar.TypeReg, ""},
		tarEntry{"opq/new", tar.TypeReg, "new"}, tarEntry{"big", tar.TypeReg, "now a file"})
	upper := makeTar(t, tarEntry{"etc/a", tar.TypeReg, "upper a"}, tarEntry{"hard", tar.TypeLink, "etc/a"})
	for _, comp := range []string{"gzip", "zstd", "none"} {
		t.Run(comp, func(t *testing.T) {
			ti := writeLayout(t, testLayer{tar: lower, comp: comp}, testLayer{tar: middle, comp: comp}, testLayer{tar: upper, comp: comp})
			sel := func(name string, hdr *tar.Header) Selection {
				switch {
				case strings.HasPrefix(name, "etc/"):
					return Cache
				case name == "big/skipped":
					return Skip
				}
				return Index
			}
			f, err := openFS(t, "oci:"+ti.dir, FSOptions{Select: sel})
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]string{"etc/a": "upper a", "link": "upper a", "hard": "upper a", "opq/new": "new", "big": "now a file"} {
				if got := readAll(t, f, name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			for _, gone := range []string{"etc/b", "opq/old", "big/skipped"} {
				if _, err := f.Lstat(gone); err == nil {
					t.Errorf("%s: %v, want it gone", gone, err)
				}
			}
		})
	}
}

func TestFSSkipStillHidesLower(t *testing.T) {
	lower := makeTar(t, tarEntry{"d/", tar.TypeDir, ""}, tarEntry{"d/x", tar.TypeReg, "x"})
	upper := makeTar(t, tarEntry{"d", tar.TypeReg, "file now"}, tarEntry{"deep/er/file", tar.TypeReg, "x"})
	ti := writeLayout(t, testLayer{tar: lower, comp: "gzip"}, testLayer{tar: upper, comp: "gzip"})
	f, err := openFS(t, "oci:"+ti.dir, FSOptions{Select: func(name string, _ *tar.Header) Selection {
		if name == "d/x" {
			return Index
		}
		return Skip
	}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Lstat("d"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("d: %v; want the skipped file to have replaced the directory", err)
	}
	if fi, err := f.Lstat("deep/er"); err != nil || !fi.IsDir() {
		t.Errorf("deep/er: %v; want the skipped file's parents", err)
	}
}

// Issue 10, defect 8: every blob is checked against its digest, and each
// layer's uncompressed stream against its diff_id.
func TestDigestsVerified(t *testing.T) {
	layer := makeTar(t, tarEntry{"etc/a", tar.TypeReg, "a"})
	other := makeTar(t, tarEntry{"etc/a", tar.TypeReg, "evil"})
	for _, tc := range []struct {
		name   string
		tamper func(t *testing.T, ti testImage)
		want   []string // in the error
	}{
		{"replaced layer blob", func(t *testing.T, ti testImage) {
			if err := os.WriteFile(ti.blobPath(ti.layers[0]), compress(t, other, "gzip"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{"blob " + "%layer", "want " + "%layer", "layer 0"}},
		{"truncated layer blob", func(t *testing.T, ti testImage) {
			data, _ := os.ReadFile(ti.blobPath(ti.layers[0]))
			os.WriteFile(ti.blobPath(ti.layers[0]), data[:len(data)-1], 0o644)
		}, []string{"%layer"}},
		{"replaced config", func(t *testing.T, ti testImage) {
			os.WriteFile(ti.blobPath(ti.config), []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`), 0o644)
		}, []string{"config %config", "want %config"}},
		{"replaced manifest", func(t *testing.T, ti testImage) {
			os.WriteFile(ti.blobPath(ti.manifest), []byte(`{"schemaVersion":2}`), 0o644)
		}, []string{"manifest %manifest"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ti := writeLayout(t, testLayer{tar: layer, comp: "gzip"})
			tc.tamper(t, ti)
			f, err := openFS(t, "oci:"+ti.dir, FSOptions{})
			if err == nil {
				t.Fatalf("no error; etc/a = %q", readAll(t, f, "etc/a"))
			}
			for _, w := range tc.want {
				w = strings.NewReplacer("%layer", ti.layers[0].String(), "%config", ti.config.String(), "%manifest", ti.manifest.String()).Replace(w)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !errors.Is(err, ErrDigest) && !strings.Contains(err.Error(), "gzip") {
				t.Errorf("error %q is not ErrDigest", err)
			}
		})
	}
	t.Run("same-size change", func(t *testing.T) {
		ti := writeLayout(t, testLayer{tar: layer, comp: "none"})
		if err := os.WriteFile(ti.blobPath(ti.layers[0]), other[:len(layer)], 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := openFS(t, "oci:"+ti.dir, FSOptions{})
		if !errors.Is(err, ErrDigest) || !strings.Contains(err.Error(), "blob "+ti.layers[0].String()) || !strings.Contains(err.Error(), "want "+ti.layers[0].String()) {
			t.Errorf("got %v, want a digest mismatch naming the blob", err)
		}
	})
	t.Run("diff_id", func(t *testing.T) {
		// The blob matches the manifest, but holds another tar than the
		// config's diff_id says.
		ti := writeLayout(t, testLayer{tar: layer, comp: "gzip", blob: compress(t, other, "gzip")})
		_, err := openFS(t, "oci:"+ti.dir, FSOptions{})
		if !errors.Is(err, ErrDigest) || !strings.Contains(err.Error(), "diff_id "+sha(layer).String()) || !strings.Contains(err.Error(), "layer 0 ("+ti.layers[0].String()+")") {
			t.Errorf("got %v, want a diff_id mismatch naming the layer", err)
		}
	})
}

// Issue 10, defect 12: a blob that is not what its media type says, or an
// archive that is not a tar, is named, with what was expected.
func TestWrongFormatsNamed(t *testing.T) {
	layer := makeTar(t, tarEntry{"etc/a", tar.TypeReg, "a"})
	for _, tc := range []struct {
		name string
		l    testLayer
		want string
	}{
		{"plain tar as gzip", testLayer{tar: layer, comp: "none", mt: mediaTypes["gzip"]}, "wants gzip data, but the blob starts with"},
		{"gzip as zstd", testLayer{tar: layer, comp: "gzip", mt: mediaTypes["zstd"]}, "wants zstd data"},
		{"gzip of no tar", testLayer{tar: []byte(strings.Repeat("not a tar ", 100)), comp: "gzip"}, "not a tar archive"},
		{"corrupt gzip", testLayer{tar: layer, comp: "gzip", blob: compress(t, layer, "gzip")[:30]}, "gzip"},
		{"not a layer", testLayer{tar: layer, comp: "gzip", mt: "application/json"}, "is not a layer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ti := writeLayout(t, tc.l)
			_, err := openFS(t, "oci:"+ti.dir, FSOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), ti.layers[0].String()) {
				t.Errorf("got %v, want an error naming the layer and containing %q", err, tc.want)
			}
		})
	}
	junk := filepath.Join(t.TempDir(), "image.tar")
	os.WriteFile(junk, []byte(strings.Repeat("junk", 300)), 0o644)
	if _, err := Open(t.Context(), "oci-archive:"+junk); err == nil || !strings.Contains(err.Error(), junk) || !strings.Contains(err.Error(), "not a tar archive") {
		t.Errorf("oci-archive of junk: %v", err)
	}
	if _, err := Open(t.Context(), "oci:"+t.TempDir()); err == nil || !strings.Contains(err.Error(), "index.json") {
		t.Errorf("empty layout: %v", err)
	}
}

func TestBadDigestNamesNoPath(t *testing.T) {
	for _, h := range []string{"sha256:../../../etc/passwd", "sha512:" + strings.Repeat("a", 128)} {
		if _, _, err := dirStore(t.TempDir()).blob(mustHash(t, h)); err == nil || !strings.Contains(err.Error(), "unsupported digest") {
			t.Errorf("%s: %v", h, err)
		}
	}
}

func mustHash(t *testing.T, s string) v1.Hash {
	alg, hex, _ := strings.Cut(s, ":")
	return v1.Hash{Algorithm: alg, Hex: hex}
}

// Reading a file of an unselected-content entry streams its layer again.
func TestFSLazyContent(t *testing.T) {
	var entries []tarEntry
	entries = append(entries, tarEntry{"a", tar.TypeReg, "first"}, tarEntry{"b", tar.TypeReg, "second"})
	ti := writeLayout(t, testLayer{tar: makeTar(t, entries...), comp: "zstd"})
	f, err := openFS(t, "oci:"+ti.dir, FSOptions{Select: func(string, *tar.Header) Selection { return Index }})
	if err != nil {
		t.Fatal(err)
	}
	file, err := f.Open("b")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	data, _ := io.ReadAll(file)
	if string(data) != "second" {
		t.Errorf("b = %q", data)
	}
}
