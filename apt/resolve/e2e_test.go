package resolve

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apt-ostree/apt-ostree/apt"
	"github.com/apt-ostree/apt-ostree/apt/lockfile"
	"github.com/apt-ostree/apt-ostree/treefile"
)

// examplePackages is the package list of examples/debian-trixie-minimal.yaml
// for amd64, as the treefile package merges it.
func examplePackages(tb testing.TB) []string {
	tb.Helper()
	tf, err := treefile.Load(context.Background(), "../../examples/debian-trixie-minimal.yaml", treefile.Options{Arch: "amd64"})
	if err != nil {
		tb.Fatal(err)
	}
	return tf.Packages
}

// aptDifferences lists packages where apt-get's choice legitimately
// differs from ours, with the rule that explains it. The trixie example
// needs none; the desktop case needs the x-terminal-emulator tie.
var aptDifferences = map[string]string{
	"alacritty": "x-terminal-emulator has ~30 providers of equal priority: we take the first by name, " +
		"apt the first by its cache's internal package ID",
	"zutty":        "apt's pick for the x-terminal-emulator tie (see alacritty)",
	"ncurses-term": "recommended by alacritty, our pick for the x-terminal-emulator tie",
}

// aptCases are the package sets compared with apt-get: the example with
// and without Recommends, a set that needs backtracking (libreoffice-base-core
// takes "libreoffice-core-nogui | libreoffice-core", which libreoffice-base
// later rules out), and a large desktop with Recommends.
var aptCases = []struct {
	name       string
	packages   []string
	recommends bool
}{
	{"example", nil, false}, // nil: the example treefile's packages
	{"example-recommends", nil, true},
	{"libreoffice", []string{"libreoffice"}, false},
	{"kde-standard-recommends", []string{"kde-standard"}, true},
}

type e2eSource struct {
	uri, suite string
}

// debianKeyring is where Debian (and the CI image) keep the archive keys.
const debianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// e2eSources returns the trixie, trixie-updates and trixie-security main
// sources: the mirror from APT_OSTREE_MIRROR, else the host's apt sources.
func e2eSources(t testing.TB) []e2eSource {
	host, hostErr := apt.HostMirrors("/")
	var out []e2eSource
	for _, suite := range []string{"trixie", "trixie-updates", "trixie-security"} {
		uri, err := apt.MirrorFor(suite, host, "", os.Getenv(apt.MirrorEnv))
		if err != nil {
			t.Fatalf("%v (host sources: %v)", err, hostErr)
		}
		out = append(out, e2eSource{uri, suite})
	}
	return out
}

// aptRoot is a throwaway apt configuration: its own sources, lists, cache
// and an empty dpkg status. The host's apt state is never read or written.
type aptRoot struct {
	dir     string
	sources []e2eSource
}

func (r *aptRoot) run(ctx context.Context, t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "apt-get", append([]string{
		"-o", "Dir=" + r.dir + "/",
		"-o", "APT::Architecture=amd64",
		"-o", "Dir::State::status=" + filepath.Join(r.dir, "status"),
		"-o", "Debug::NoLocking=1",
	}, args...)...)
	cmd.Env = append(os.Environ(), "APT_CONFIG="+filepath.Join(r.dir, "apt.conf"), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func newAptRoot(t *testing.T, dir string, sources []e2eSource) *aptRoot {
	for _, d := range []string{"etc/apt/sources.list.d", "etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/trusted.gpg.d",
		"var/lib/apt/lists/partial", "var/cache/apt/archives/partial"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`Dir "%[1]s/";
Dir::State::status "%[1]s/status";
APT::Architecture "amd64";
APT::Architectures "amd64";
APT::Install-Recommends "false";
Acquire::Languages "none";
Acquire::GzipIndexes "false";
Debug::NoLocking "true";
`, dir)
	var list strings.Builder
	for _, s := range sources {
		fmt.Fprintf(&list, "Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n\n", s.uri, s.suite, debianKeyring)
	}
	for name, data := range map[string]string{
		"apt.conf": conf, "status": "", "etc/apt/sources.list.d/e2e.sources": list.String(),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &aptRoot{dir: dir, sources: sources}
}

// listFile is the name apt gives the Packages index of a source in its
// lists directory.
func (r *aptRoot) listFile(s e2eSource) string {
	u := s.uri
	if _, rest, ok := strings.Cut(u, "://"); ok {
		u = rest
	}
	return filepath.Join(r.dir, "var/lib/apt/lists",
		strings.ReplaceAll(u+"/dists/"+s.suite+"/main/binary-amd64/Packages", "/", "_"))
}

// e2eCacheDir is shared by the gated test and the benchmark so the
// archive is downloaded once per machine.
func e2eCacheDir() string {
	if d := os.Getenv("APT_OSTREE_TEST_CACHE"); d != "" {
		return filepath.Join(d, "resolve-apt")
	}
	return filepath.Join(os.TempDir(), "apt-ostree-test-cache", "resolve-apt")
}

// loadUniverse loads the same sources as the apt root through the apt
// package's client (signature and hash checks included).
func loadUniverse(ctx context.Context, t testing.TB, sources []e2eSource) []*apt.Package {
	keyring, err := os.ReadFile(debianKeyring)
	if err != nil {
		t.Fatalf("Debian archive keyring: %v", err)
	}
	var srcs []apt.Source
	for _, s := range sources {
		srcs = append(srcs, apt.Source{URL: s.uri, Suites: []string{s.suite}, Arch: "amd64", Keyring: keyring, KeyringName: debianKeyring})
	}
	c := apt.NewClient(apt.Options{CacheDir: filepath.Join(e2eCacheDir(), "client"), Logger: slog.New(slog.DiscardHandler)})
	u, err := c.LoadIndexes(ctx, srcs)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

var instLine = regexp.MustCompile(`(?m)^Inst (\S+) (?:\[\S*\] )?\((\S+) `)

// TestResolveLikeAptGet resolves the trixie example against the real
// archive and compares the set with apt-get install --simulate.
func TestResolveLikeAptGet(t *testing.T) {
	if os.Getenv("APT_OSTREE_E2E") != "1" {
		t.Skip("set APT_OSTREE_E2E=1 to resolve against the real Debian archive")
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("apt-get is required in CI")
		}
		t.Skip("apt-get not installed")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	sources := e2eSources(t)
	root := newAptRoot(t, e2eCacheDir(), sources)
	root.run(ctx, t, "update")
	universe := loadUniverse(ctx, t, sources)

	var res *Result
	for _, c := range aptCases {
		t.Run(c.name, func(t *testing.T) {
			pkgs := c.packages
			if pkgs == nil {
				pkgs = examplePackages(t)
			}
			r := compareWithAptGet(ctx, t, root, universe, pkgs, c.recommends)
			if c.name == "example" {
				res = r
			}
		})
	}
	if res == nil {
		t.FailNow()
	}

	// Every Pre-Depends is unpacked before its dependent (trixie has no
	// Pre-Depends cycles).
	order := res.InstallOrder()
	at := map[string]int{}
	for i, p := range order {
		at[p.Name] = i
	}
	g := res.depGraph()
	for v, pre := range g.pre {
		for w := range pre {
			if a, b := res.Packages[v], res.Packages[w]; at[b.Name] > at[a.Name] {
				t.Errorf("install order puts %s after %s, which pre-depends on it", b.Name, a.Name)
			}
		}
	}

	// Layering onto the example as a frozen base agrees with apt-get
	// installing into a root whose dpkg status holds the example.
	t.Run("onto-example", func(t *testing.T) {
		compareOntoBase(ctx, t, root, universe, res.Packages, []string{"htop", "curl", "vim"})
	})

	// The lockfile of the result pins the same set on a second resolution.
	path := filepath.Join(t.TempDir(), "lock.json")
	if err := lockfile.Write(path, res.Packages); err != nil {
		t.Fatal(err)
	}
	lock, err := lockfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Resolve(universe, Request{Arch: "amd64", Packages: examplePackages(t), Lock: lock})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Packages, again.Packages) {
		t.Errorf("resolution with the lockfile differs: %v vs %v", names(res.Packages), names(again.Packages))
	}
}

// compareWithAptGet resolves the example and checks that apt-get
// install --simulate in the throwaway root installs the same versions.
func compareWithAptGet(ctx context.Context, t *testing.T, root *aptRoot, universe []*apt.Package, packages []string, recommends bool) *Result {
	res, err := Resolve(universe, Request{Arch: "amd64", Packages: packages, Recommends: recommends})
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]string{}
	for _, p := range res.Packages {
		ours[p.Name] = p.Version
	}
	// apt-get gets the same packages plus the base set we add implicitly.
	args := []string{"install", "--simulate", "-y", "--no-install-recommends"}
	if recommends {
		args[len(args)-1] = "--install-recommends"
	}
	args = append(args, packages...)
	idx := newIndex(universe, "amd64", nil)
	goals, _ := topGoals(idx, Request{Arch: "amd64"}, nil)
	for _, g := range goals {
		args = append(args, g.group[0].Name)
	}
	out := root.run(ctx, t, args...)
	theirs := map[string]string{}
	for _, m := range instLine.FindAllStringSubmatch(out, -1) {
		theirs[m[1]] = m[2]
	}
	if len(theirs) == 0 {
		t.Fatalf("no Inst lines in apt-get output:\n%s", out)
	}
	for _, name := range slices.Sorted(maps.Keys(mergeKeys(ours, theirs))) {
		if ours[name] == theirs[name] {
			continue
		}
		if why, ok := aptDifferences[name]; ok {
			t.Logf("%s: ours %q, apt-get %q: allowed (%s)", name, ours[name], theirs[name], why)
			continue
		}
		t.Errorf("%s: ours %q, apt-get %q", name, ours[name], theirs[name])
	}
	if !t.Failed() {
		t.Logf("%d packages, agreeing with apt-get", len(res.Packages))
	}
	return res
}

// compareOntoBase writes base as a dpkg status file, reads it back with
// apt.InstalledPackage, resolves packages onto it as a frozen base and
// compares with apt-get install --simulate against that status.
func compareOntoBase(ctx context.Context, t *testing.T, root *aptRoot, universe, base []*apt.Package, packages []string) {
	var status strings.Builder
	for _, p := range base {
		// apt merges an installed version with the archive's only when
		// the fields of its version hash (Installed-Size and the
		// relations) are the same; otherwise it sees an upgrade.
		fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nVersion: %s\nArchitecture: %s\nInstalled-Size: %d\n",
			p.Name, p.Version, p.Architecture, p.InstalledSize)
		for _, f := range [][2]string{{"Multi-Arch", p.MultiArch}, {"Priority", p.Priority}, {"Source", p.Source}, {"Pre-Depends", p.PreDepends},
			{"Depends", p.Depends}, {"Recommends", p.Recommends}, {"Suggests", p.Suggests}, {"Conflicts", p.Conflicts},
			{"Breaks", p.Breaks}, {"Provides", p.Provides}, {"Replaces", p.Replaces}} {
			if f[1] != "" {
				fmt.Fprintf(&status, "%s: %s\n", f[0], f[1])
			}
		}
		if p.Essential {
			status.WriteString("Essential: yes\n")
		}
		status.WriteString("\n")
	}
	statusPath := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(statusPath, []byte(status.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var installed []*apt.Package
	for _, stanza := range strings.Split(strings.TrimSpace(status.String()), "\n\n") {
		fields := map[string]string{}
		for _, line := range strings.Split(stanza, "\n") {
			k, v, _ := strings.Cut(line, ": ")
			fields[k] = v
		}
		p, err := apt.InstalledPackage(func(k string) string { return fields[k] })
		if err != nil {
			t.Fatal(err)
		}
		installed = append(installed, p)
	}
	res, err := Resolve(universe, Request{Arch: "amd64", Packages: packages, Installed: installed})
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]string{}
	for _, p := range res.Packages {
		ours[p.Name] = p.Version
	}
	args := append([]string{"-o", "Dir::State::status=" + statusPath, "install", "--simulate", "-y", "--no-install-recommends"}, packages...)
	out := root.run(ctx, t, args...)
	if m := regexp.MustCompile(`(?m)^Inst \S+ \[.*$`).FindString(out); m != "" {
		t.Fatalf("apt-get upgrades a base package, so the comparison is void (status file not like dpkg's?): %s", m)
	}
	theirs := map[string]string{}
	for _, m := range instLine.FindAllStringSubmatch(out, -1) {
		theirs[m[1]] = m[2]
	}
	for _, name := range slices.Sorted(maps.Keys(mergeKeys(ours, theirs))) {
		if ours[name] != theirs[name] {
			t.Errorf("%s: ours %q, apt-get %q", name, ours[name], theirs[name])
		}
	}
	if !t.Failed() {
		t.Logf("%d packages added to a base of %d, agreeing with apt-get", len(res.Packages), len(base))
	}
}

func mergeKeys(a, b map[string]string) map[string]string {
	m := maps.Clone(a)
	maps.Copy(m, b)
	return m
}

// benchIndex is the full trixie main amd64 Packages index:
// $APT_OSTREE_BENCH_INDEX, or the one TestResolveLikeAptGet downloaded.
func benchIndex(b *testing.B) string {
	if p := os.Getenv("APT_OSTREE_BENCH_INDEX"); p != "" {
		return p
	}
	matches, _ := filepath.Glob(filepath.Join(e2eCacheDir(), "var/lib/apt/lists/*_dists_trixie_main_binary-amd64_Packages"))
	if len(matches) == 0 {
		b.Skip("no trixie Packages index: set APT_OSTREE_BENCH_INDEX to an uncompressed index, or run the tests once with APT_OSTREE_E2E=1")
	}
	return matches[0]
}

func loadBenchIndex(b *testing.B, path string) []*apt.Package {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	u, err := apt.ReadPackages(f, "amd64", &apt.RepoRef{URL: "http://127.0.0.1/debian", Suite: "trixie"})
	if err != nil {
		b.Fatal(err)
	}
	return u
}

// BenchmarkParseAndResolve parses the full trixie main index and resolves
// the example. Target: well under 1.5 s per iteration.
func BenchmarkParseAndResolve(b *testing.B) {
	path := benchIndex(b)
	pkgs := examplePackages(b)
	for b.Loop() {
		u := loadBenchIndex(b, path)
		if _, err := Resolve(u, Request{Arch: "amd64", Packages: pkgs}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResolve is the resolver's share alone.
func BenchmarkResolve(b *testing.B) {
	u := loadBenchIndex(b, benchIndex(b))
	pkgs := examplePackages(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Resolve(u, Request{Arch: "amd64", Packages: pkgs}); err != nil {
			b.Fatal(err)
		}
	}
}
