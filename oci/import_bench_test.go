package oci

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apt-ostree/apt-ostree/ostree"
)

// BenchmarkImport imports an encapsulated commit of 600 files (32 MiB,
// some over the 1 MiB in-memory limit) into a fresh bare-user repo.
func BenchmarkImport(b *testing.B) {
	tree := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	var total int64
	for i := range 600 {
		size := 16 << 10
		if i%60 == 0 {
			size = 2 << 20
		}
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(rng.Uint32())
		}
		p := filepath.Join(tree, fmt.Sprintf("d%02d", i%20), fmt.Sprintf("f%03d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(size)
	}
	src, err := ostree.Init(b.Context(), b.TempDir(), ostree.ModeBareUser)
	if err != nil {
		b.Fatal(err)
	}
	commit, _, err := src.CommitDir(b.Context(), tree, ostree.CommitOptions{Ref: "src", WriteRef: true, OwnerUID: 0, OwnerGID: 0, Timestamp: time.Unix(1, 0)})
	if err != nil {
		b.Fatal(err)
	}
	ref := "oci:" + filepath.Join(b.TempDir(), "layout")
	if _, err := Encapsulate(b.Context(), src, "src", ref, EncapsulateOptions{}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(total)
	for b.Loop() {
		b.StopTimer()
		dst, err := ostree.Init(b.Context(), b.TempDir(), ostree.ModeBareUser)
		if err != nil {
			b.Fatal(err)
		}
		img, err := Open(b.Context(), ref)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		c, err := Import(b.Context(), img, dst, ImportOptions{Ref: "img"})
		b.StopTimer()
		img.Close()
		if err != nil || c != commit {
			b.Fatalf("import: %s, %v; want %s", c, err, commit)
		}
		b.StartTimer()
	}
}
