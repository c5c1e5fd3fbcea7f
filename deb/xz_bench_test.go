package deb

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"

	ulxz "github.com/ulikunitz/xz"
	xi2xz "github.com/xi2/xz"
)

// xzInputs returns data.tar.xz members to decode: the largest .debs of
// $APT_OSTREE_BENCH_DEBS (a directory of .debs, e.g. a package pool) when
// set, else one generated stream.
func xzInputs(b *testing.B) map[string][]byte {
	out := map[string][]byte{}
	if dir := os.Getenv("APT_OSTREE_BENCH_DEBS"); dir != "" {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
		type cand struct {
			name string
			data []byte
		}
		var all []cand
		for _, p := range paths {
			pkg, err := OpenFile(p)
			if err != nil || pkg.dataComp != ".xz" || pkg.dataSize > 32<<20 {
				if pkg != nil {
					pkg.Close()
				}
				continue
			}
			data := make([]byte, pkg.dataSize)
			_, err = pkg.ra.ReadAt(data, pkg.dataOff)
			all = append(all, cand{pkg.Name(), data})
			pkg.Close()
			if err != nil {
				b.Fatal(err)
			}
		}
		sort.Slice(all, func(i, j int) bool { return len(all[i].data) > len(all[j].data) })
		for _, c := range all[:min(3, len(all))] {
			out[c.name] = c.data
		}
		if len(out) > 0 {
			return out
		}
		b.Fatalf("APT_OSTREE_BENCH_DEBS=%s holds no .deb with a data.tar.xz", dir)
	}
	// Generated: 16 MiB of text-like data, compressed about 4:1.
	r := rand.New(rand.NewSource(1))
	words := []string{"usr", "lib", "share", "doc", "x86_64", "linux", "gnu", "debian", "package", "copyright", "\n", " ", "\x00\x00\x00"}
	var raw bytes.Buffer
	for raw.Len() < 16<<20 {
		raw.WriteString(words[r.Intn(len(words))])
		if r.Intn(8) == 0 {
			fmt.Fprintf(&raw, "%x", r.Uint32())
		}
	}
	var z bytes.Buffer
	w, err := ulxz.NewWriter(&z)
	if err != nil {
		b.Fatal(err)
	}
	w.Write(raw.Bytes())
	w.Close()
	out["generated"] = z.Bytes()
	return out
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkXZ compares the two xz decoders the module has had on
// data.tar.xz members; b.SetBytes is the compressed size.
func BenchmarkXZ(b *testing.B) {
	decoders := []struct {
		name string
		open func(io.Reader) (io.Reader, error)
	}{
		{"xi2", func(r io.Reader) (io.Reader, error) { return xi2xz.NewReader(bufio.NewReaderSize(r, 64<<10), 0) }},
		{"ulikunitz", func(r io.Reader) (io.Reader, error) { return ulxz.NewReader(bufio.NewReaderSize(r, 64<<10)) }},
	}
	inputs := xzInputs(b)
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		data := inputs[n]
		for _, d := range decoders {
			b.Run(n+"/"+d.name, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				// CPU time, unlike wall time, does not depend on what else
				// the machine runs.
				cpu0 := cpuTime()
				for b.Loop() {
					r, err := d.open(bytes.NewReader(data))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, r); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			})
		}
	}
}
