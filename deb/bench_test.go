package deb

import (
	"archive/tar"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
)

func genPackages(b testing.TB, n, files int, comp string) []*Package {
	var out []*Package
	for i := 0; i < n; i++ {
		p := testdeb.Package{Name: fmt.Sprintf("gen%d", i), Compression: comp}
		for j := 0; j < files; j++ {
			body := strings.Repeat(fmt.Sprintf("package %d file %d\n", i, j), 200+j)
			p.Files = append(p.Files, testdeb.File{Path: fmt.Sprintf("usr/share/gen%d/d%d/f%d", i, j%7, j), Body: body})
		}
		p.Files = append(p.Files, testdeb.File{Path: fmt.Sprintf("usr/bin/gen%d", i), Type: tar.TypeSymlink, Link: fmt.Sprintf("../share/gen%d/d0/f0", i)})
		out = append(out, build(b, p))
	}
	return out
}

// BenchmarkUnpack unpacks generated packages; with APT_OSTREE_BENCH_DEBS set
// to a directory of .debs it unpacks those too.
func BenchmarkUnpack(b *testing.B) {
	needRoot(b)
	for _, comp := range []string{"gz", "xz", "zst"} {
		pkgs := genPackages(b, 16, 200, comp)
		b.Run("generated-"+comp, func(b *testing.B) { benchUnpack(b, pkgs) })
	}
	dir := os.Getenv("APT_OSTREE_BENCH_DEBS")
	if dir == "" {
		return
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	if len(paths) == 0 {
		b.Fatalf("APT_OSTREE_BENCH_DEBS=%s holds no .deb", dir)
	}
	var pkgs []*Package
	for _, p := range paths {
		pkg, err := OpenFile(p)
		if err != nil {
			b.Fatal(err)
		}
		defer pkg.Close()
		pkgs = append(pkgs, pkg)
	}
	b.Run(fmt.Sprintf("real-%d-debs", len(pkgs)), func(b *testing.B) { benchUnpack(b, pkgs) })
	if xzCommand() != "" {
		// The same with the in-process decoder only, for comparison.
		b.Run(fmt.Sprintf("real-%d-debs-xi2", len(pkgs)), func(b *testing.B) {
			withXZCommand(b, "")
			benchUnpack(b, pkgs)
		})
	}
}

// withXZCommand makes data.tar.xz decoding use the xz program at path ("":
// the in-process decoder) until the test ends.
func withXZCommand(tb testing.TB, path string) {
	saved := xzCommand
	xzCommand = func() string { return path }
	tb.Cleanup(func() { xzCommand = saved })
}

func benchUnpack(b *testing.B, pkgs []*Package) {
	var size int64
	for _, p := range pkgs {
		size += p.dataSize
	}
	b.SetBytes(size)
	for b.Loop() {
		root := b.TempDir()
		if _, err := Unpack(context.Background(), root, pkgs, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen reads the control.tar of every .deb in
// APT_OSTREE_BENCH_DEBS (what compose does before unpacking).
func BenchmarkOpen(b *testing.B) {
	dir := os.Getenv("APT_OSTREE_BENCH_DEBS")
	if dir == "" {
		b.Skip("set APT_OSTREE_BENCH_DEBS to a directory of .debs")
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	if len(paths) == 0 {
		b.Fatalf("APT_OSTREE_BENCH_DEBS=%s holds no .deb", dir)
	}
	for b.Loop() {
		for _, p := range paths {
			pkg, err := OpenFile(p)
			if err != nil {
				b.Fatal(err)
			}
			pkg.Close()
		}
	}
}
