package apt

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

const debianKeyring = "/usr/share/keyrings/debian-archive-keyring.gpg"

// e2eCacheDir is the cache the gated e2e test fills; BenchmarkParsePackages
// reuses the index found there.
func e2eCacheDir() string {
	if d := os.Getenv("APT_OSTREE_TEST_CACHE"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "apt-ostree-e2e-cache")
}

func needFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (install debian-archive-keyring)", err)
		}
		t.Skipf("%v (install debian-archive-keyring)", err)
	}
	return b
}

// TestDebianKeyring loads the keyring as shipped by debian-archive-keyring,
// which holds Ed25519 keys that older OpenPGP libraries cannot read.
func TestDebianKeyring(t *testing.T) {
	el, err := ReadKeyring(needFile(t, debianKeyring))
	if err != nil {
		t.Fatal(err)
	}
	eddsa := 0
	for _, e := range el {
		if e.PrimaryKey.PubKeyAlgo == packet.PubKeyAlgoEdDSA || e.PrimaryKey.PubKeyAlgo == packet.PubKeyAlgoEd25519 {
			eddsa++
		}
	}
	if len(el) < 5 || eddsa == 0 {
		t.Errorf("loaded %d keys, %d Ed25519", len(el), eddsa)
	}
}

// TestE2EDebian loads the real trixie, trixie-updates and trixie-security
// main indexes from the host's mirror (or $APT_OSTREE_MIRROR) and verifies
// them with the installed Debian archive keyring.
func TestE2EDebian(t *testing.T) {
	if os.Getenv("APT_OSTREE_E2E") != "1" {
		t.Skip("set APT_OSTREE_E2E=1 to load the real Debian archive")
	}
	keyring := needFile(t, debianKeyring)
	host, hostErr := HostMirrors("/")
	archive, err := MirrorFor("trixie", host, "", os.Getenv(MirrorEnv))
	if err != nil {
		t.Fatalf("%v (host sources: %v)", err, hostErr)
	}
	security, err := MirrorFor("trixie-security", host, "", os.Getenv(MirrorEnv))
	if err != nil {
		t.Fatal(err)
	}
	src := func(url string, suites ...string) Source {
		return Source{URL: url, Suites: suites, Components: []string{"main"}, Arch: "amd64", Keyring: keyring, KeyringName: debianKeyring}
	}
	cache := e2eCacheDir()
	c := NewClient(Options{CacheDir: cache, Progress: os.Stderr})
	ctx := context.Background()
	pkgs, err := c.LoadIndexes(ctx, []Source{src(archive, "trixie", "trixie-updates"), src(security, "trixie-security")})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Package{}
	suites := map[string]int{}
	for _, p := range pkgs {
		byName[p.Name] = p
		suites[p.Repo.Suite]++
	}
	t.Logf("%d packages: %v (cache %s)", len(pkgs), suites, cache)
	for _, name := range []string{"systemd", "linux-image-amd64", "base-files", "bash"} {
		if byName[name] == nil {
			t.Errorf("%s not in the index", name)
		}
	}
	if suites["trixie"] < 50000 {
		t.Errorf("only %d packages in trixie", suites["trixie"])
	}
	// Download one small package through the pool.
	bf := byName["base-files"]
	paths, stats, err := c.Fetch(ctx, []*Package{bf})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("fetched %s to %s (%+v)", bf.ID(), paths[0], stats)
}
