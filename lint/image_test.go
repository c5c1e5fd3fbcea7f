package lint

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestMatchNeed(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"var/**", "var", true},
		{"var/**", "var/log/x", true},
		{"var/**", "varx", false},
		{"usr/lib/modules/*/vmlinuz", "usr/lib/modules/6.1/vmlinuz", true},
		{"usr/lib/modules/*/vmlinuz", "usr/lib/modules/6.1/x/vmlinuz", false},
		{"usr/lib/modules/*", "usr/lib/modules", false},
		{"etc/passwd", "etc/passwd", true},
		{"etc/passwd", "etc/passwd/x", false},
		{"usr/lib/*/libostree-1.so.1*", "usr/lib/x86_64-linux-gnu/libostree-1.so.1.0.0", true},
		{"usr/lib/*/libostree-1.so.1*", "usr/lib/x86_64-linux-gnu/libostree-1.so.2", false},
	} {
		if got := matchNeed(tc.pattern, tc.name); got != tc.want {
			t.Errorf("matchNeed(%q, %q) = %v", tc.pattern, tc.name, got)
		}
	}
}

// bulk returns n files that no lint reads, in directories of 100.
func bulk(n int) []node {
	var out []node
	for i := range n {
		out = append(out, file(fmt.Sprintf("usr/share/bulk/d%04d/file%06d", i/100, i), "x"))
	}
	return out
}

// The image index keeps only what the lints read, and lints exactly as
// the directory does, including a non-UTF-8 name deep in an unread tree.
func TestImageIndexKeepsOnlyNeeded(t *testing.T) {
	s := baseSpec().with(bulk(300)...).with(file("usr/share/bulk/d0001/bad\xffname", "x"),
		// Debian's usual links, which must not make the whole image indexed.
		link("lib", "usr/lib"), link("bin", "usr/bin"), link("sbin", "usr/sbin"),
		file("usr/lib/x86_64-linux-gnu/libostree-1.so.1.0.0", "ELF"), link("usr/lib/x86_64-linux-gnu/libostree-1.so.1", "libostree-1.so.1.0.0"),
		file("usr/lib/x86_64-linux-gnu/libother.so.1", "ELF"), link("etc/resolv.conf", "../run/systemd/resolve/stub-resolv.conf"))
	img := openImage(t, "oci:"+buildImage(t, s.resolved()))
	if !img.partial {
		t.Fatal("the whole image was indexed")
	}
	for name, want := range map[string]bool{
		"lib/x86_64-linux-gnu/libostree-1.so.1": true, "usr/lib/x86_64-linux-gnu/libother.so.1": false,
		"etc/passwd": true, "usr/lib/modules/6.1.0-1-amd64/vmlinuz": true, "usr/share/bulk/d0001": true,
		"usr/share/bulk/d0001/file000100": false, "usr/share/bulk/d0001/bad\xffname": true,
	} {
		_, err := img.Lstat(name)
		if got := err == nil; got != want || err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%q in the index: %v (%v), want %v", name, got, err, want)
		}
	}
	if diff := cmp.Diff(run(t, DirFS(buildDir(t, s)), Options{}), run(t, img, Options{})); diff != "" {
		t.Errorf("image differs from directory (-dir +oci):\n%s", diff)
	}
}

// When a symlink leads a path the lints read to one the index leaves out,
// the image is indexed whole and lints as the directory does.
func TestImageIndexFollowsRedirectingSymlink(t *testing.T) {
	s := baseSpec().without("usr/lib/ostree/prepare-root.conf").with(
		file("usr/share/ostree-conf/prepare-root.conf", "[composefs]\nenabled = no\n"),
		link("usr/lib/ostree", "../share/ostree-conf"))
	img := openImage(t, "oci:"+buildImage(t, s.resolved()))
	if img.partial {
		t.Error("the image was indexed partially although a symlink leads a linted path elsewhere")
	}
	dirRep := run(t, DirFS(buildDir(t, s)), Options{})
	want := map[string][]string{"baseimage-composefs": {"ostree/prepare-root.conf does not have composefs enabled"}}
	if diff := cmp.Diff(want, failed(dirRep)); diff != "" {
		t.Errorf("directory (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(dirRep, run(t, img, Options{})); diff != "" {
		t.Errorf("image differs from directory (-dir +oci):\n%s", diff)
	}
}

// ostree-ext images hard-link every file to its object under
// sysroot/ostree/repo/objects: the lints read the content through the link.
func TestImageHardLinkedFiles(t *testing.T) {
	s := baseSpec().with(file("etc/machine-id", "0123456789abcdef\n"))
	var layer []node
	for _, n := range s.resolved() {
		if n.kind == 'f' && n.path != "usr/bin/dpkg" {
			obj := fmt.Sprintf("sysroot/ostree/repo/objects/%02x/%s.file", len(layer), n.path[len(n.path)-3:])
			layer = append(layer, node{path: obj, kind: 'f', data: n.data, mode: n.mode}, node{path: n.path, kind: 'h', data: obj, mode: n.mode})
			continue
		}
		layer = append(layer, n)
	}
	img := openImage(t, "oci:"+buildImage(t, layer))
	want := map[string][]string{
		"machine-id": {"/etc/machine-id is not empty; every system booted from this image would share its machine ID"},
	}
	if diff := cmp.Diff(want, failed(run(t, img, Options{}))); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// BenchmarkImageIndexMemory measures the heap an indexed image holds per
// file: "all" indexes every file (as lint did before), "needed" only what
// the lints read.
func BenchmarkImageIndexMemory(b *testing.B) {
	const n = 100_000
	ref := "oci:" + buildImage(b, slices.Concat(baseSpec().resolved(), bulk(n)))
	for _, mode := range []string{"all", "needed"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				var before, after runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&before)
				peak := samplePeakHeap()
				fsys, err := openImageWith(b.Context(), ref, mode == "all")
				if err != nil {
					b.Fatal(err)
				}
				top := peak()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/n, "alloc-bytes/file")
				b.ReportMetric(float64(int64(top)-int64(before.HeapAlloc))/n, "peak-heap-bytes/file")
				runtime.GC()
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "heap-bytes/file")
				runtime.KeepAlive(fsys)
				fsys.Close()
			}
		})
	}
}

// samplePeakHeap samples the live heap every few milliseconds until the
// returned function is called, which returns the highest sample.
func samplePeakHeap() func() uint64 {
	stop := make(chan struct{})
	done := make(chan uint64)
	go func() {
		var top uint64
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			top = max(top, ms.HeapAlloc)
			select {
			case <-stop:
				done <- top
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(stop); return <-done }
}

// A lint that looks up a path imageNeeds lacks fails loudly on a partial
// image index instead of seeing it as missing.
func TestImageIndexGuard(t *testing.T) {
	saved := registry
	t.Cleanup(func() { registry = saved })
	registry = append(slices.Clone(registry), lintDef{Info{Name: "reads-elsewhere", Type: Warning}, func(t *tree, _ *config) ([]string, error) {
		if _, ok, err := t.lstat("usr/bin/not-read-by-lints"); err != nil || ok {
			return nil, err
		}
		return fail("missing")
	}})
	img := openImage(t, "oci:"+buildImage(t, baseSpec().resolved()))
	if _, err := Run(t.Context(), img, Options{}); err == nil || !strings.Contains(err.Error(), "/usr/bin/not-read-by-lints is not in lint's image index: add it to imageNeeds") {
		t.Errorf("got %v, want the guard's error", err)
	}
	if rep := run(t, DirFS(buildDir(t, baseSpec())), Options{}); len(failed(rep)) != 1 {
		t.Errorf("directory: %v", failed(rep))
	}
}
