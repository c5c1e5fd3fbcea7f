package ostree

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// genBenchTree writes n files (≈ n×40 KB, half compressible text, half
// random) spread over n/50 directories.
func genBenchTree(b *testing.B, root string, n int) int64 {
	rng := rand.New(rand.NewPCG(1, 2))
	var total int64
	words := []string{"lorem ", "ipsum ", "dolor ", "sit ", "amet\n", "debian ", "ostree ", "usr/lib "}
	for i := range n {
		d := filepath.Join(root, fmt.Sprintf("d%02d", i%(n/50+1)), fmt.Sprintf("s%d", i%7))
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		size := rng.IntN(80 << 10)
		if i%500 == 0 {
			size = 4 << 20
		}
		data := make([]byte, 0, size+8)
		if i%2 == 0 {
			for len(data) < size {
				data = append(data, words[rng.IntN(len(words))]...)
			}
		} else {
			for len(data) < size {
				data = append(data, byte(rng.Uint32()))
			}
		}
		if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%d", i)), data, 0o644); err != nil {
			b.Fatal(err)
		}
		total += int64(len(data))
	}
	return total
}

func BenchmarkCommitArchive(b *testing.B) {
	tree := filepath.Join(b.TempDir(), "tree")
	size := genBenchTree(b, tree, 3000)
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		r, err := Init(b.Context(), filepath.Join(b.TempDir(), fmt.Sprint("repo", i)), ModeArchive)
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, _, err := r.CommitDir(b.Context(), tree, CommitOptions{Ref: "bench", WriteRef: true, OwnerUID: -1, OwnerGID: -1}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecommitArchive measures committing an unchanged tree again
// (every object already present: hashing only).
func BenchmarkRecommitArchive(b *testing.B) {
	tree := filepath.Join(b.TempDir(), "tree")
	size := genBenchTree(b, tree, 3000)
	r, err := Init(b.Context(), filepath.Join(b.TempDir(), "repo"), ModeArchive)
	if err != nil {
		b.Fatal(err)
	}
	opts := CommitOptions{Ref: "bench", WriteRef: true, OwnerUID: -1, OwnerGID: -1}
	if _, _, err := r.CommitDir(b.Context(), tree, opts); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ResetTimer()
	for range b.N {
		if _, _, err := r.CommitDir(b.Context(), tree, opts); err != nil {
			b.Fatal(err)
		}
	}
}
