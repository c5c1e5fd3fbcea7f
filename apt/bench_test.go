package apt

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xi2/xz"
)

// benchIndex returns a real Packages index: $APT_OSTREE_BENCH_INDEX (plain
// or .xz), else the trixie main index the gated e2e test cached.
func benchIndex(b *testing.B) []byte {
	p := os.Getenv("APT_OSTREE_BENCH_INDEX")
	if p == "" {
		matches, _ := filepath.Glob(filepath.Join(e2eCacheDir(), "lists", "*_dists_trixie_main_binary-amd64_Packages"))
		if len(matches) == 0 {
			b.Skip("no real index: set APT_OSTREE_BENCH_INDEX to a Packages or Packages.xz file, or run the gated e2e test (APT_OSTREE_E2E=1) once to fill " + e2eCacheDir())
		}
		p = matches[0]
	}
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	if strings.HasSuffix(p, ".xz") {
		r, err := xz.NewReader(bytes.NewReader(data), 0)
		if err != nil {
			b.Fatal(err)
		}
		if data, err = io.ReadAll(r); err != nil {
			b.Fatal(err)
		}
	}
	return data
}

func BenchmarkParsePackages(b *testing.B) {
	data := benchIndex(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var n int
	for b.Loop() {
		pkgs, err := ParsePackages(data, "amd64", nil)
		if err != nil {
			b.Fatal(err)
		}
		n = len(pkgs)
	}
	b.ReportMetric(float64(n), "pkgs")
}

// BenchmarkLoadIndexesCached measures a whole offline LoadIndexes of the
// real trixie + trixie-updates + trixie-security main indexes from the
// cache the gated e2e test filled: signature and date checks, SHA256 of
// the cached indexes, parsing.
func BenchmarkLoadIndexesCached(b *testing.B) {
	keyring, err := os.ReadFile(debianKeyring)
	if err != nil {
		b.Skip(err)
	}
	host, _ := HostMirrors("/")
	archive, err1 := MirrorFor("trixie", host, "", os.Getenv(MirrorEnv))
	security, err2 := MirrorFor("trixie-security", host, "", os.Getenv(MirrorEnv))
	if err1 != nil || err2 != nil {
		b.Skip("no mirror:", err1, err2)
	}
	src := func(url string, suites ...string) Source {
		return Source{URL: url, Suites: suites, Components: []string{"main"}, Arch: "amd64", Keyring: keyring}
	}
	sources := []Source{src(archive, "trixie", "trixie-updates"), src(security, "trixie-security")}
	c := NewClient(Options{CacheDir: e2eCacheDir(), Offline: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if _, err := c.LoadIndexes(b.Context(), sources); err != nil {
		b.Skip("run the gated e2e test (APT_OSTREE_E2E=1) first to fill the cache: ", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.LoadIndexes(b.Context(), sources); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyPool measures what hashing every pool file on use costs
// (Fetch's checkPool), on the .debs the gated e2e test cached (the
// example's package set, about 163 MB), with the page cache warm.
func BenchmarkVerifyPool(b *testing.B) {
	dir := filepath.Join(e2eCacheDir(), "pool")
	matches, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	var pkgs []*Package
	var total int64
	for _, m := range matches {
		sum := strings.TrimSuffix(filepath.Base(m), ".deb")
		st, err := os.Stat(m)
		if err != nil || len(sum) != 64 {
			continue
		}
		pkgs = append(pkgs, &Package{Name: sum[:12], Version: "0", Architecture: "amd64", SHA256: sum, Size: st.Size()})
		total += st.Size()
	}
	if len(pkgs) == 0 {
		b.Skip("no cached .debs: run the gated e2e test (APT_OSTREE_E2E=1) once to fill " + dir)
	}
	c := NewClient(Options{CacheDir: e2eCacheDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	b.SetBytes(total)
	b.ReportMetric(float64(len(pkgs)), "debs")
	for b.Loop() {
		ok, err := c.checkPool(b.Context(), pkgs)
		if err != nil {
			b.Fatal(err)
		}
		for i, good := range ok {
			if !good {
				b.Fatalf("pool file %s does not match its name", pkgs[i].SHA256)
			}
		}
	}
}
