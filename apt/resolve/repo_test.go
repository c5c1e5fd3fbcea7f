package resolve

import (
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/apt-ostree/apt-ostree/apt"
	"github.com/apt-ostree/apt-ostree/apt/lockfile"
	"github.com/apt-ostree/apt-ostree/internal/testdeb"
	"github.com/apt-ostree/apt-ostree/internal/testrepo"
)

// fetchUniverse loads the amd64 main indexes of suites from a signed test
// repository on 127.0.0.1 through the apt client.
func fetchUniverse(t *testing.T, repo *testrepo.Repo, suites ...string) []*apt.Package {
	t.Helper()
	c := apt.NewClient(apt.Options{CacheDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	u, err := c.LoadIndexes(t.Context(), []apt.Source{{
		URL: repo.URL(), Suites: suites, Arch: "amd64", Keyring: repo.Keyring(), KeyringName: repo.KeyringPath(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRepoResolveLock serves a signed repository on 127.0.0.1, resolves
// from its indexes, writes and reads a lockfile, and checks that the lock
// holds on the next build and fails once a locked package is gone.
func TestRepoResolveLock(t *testing.T) {
	repo := testrepo.New(t)
	repo.Add("trixie", "main",
		testdeb.Package{Name: "base-files", Version: "13", Arch: "all", Fields: map[string]string{"Essential": "yes", "Priority": "required"}},
		testdeb.Package{Name: "libc6", Version: "2.41-12", Fields: map[string]string{"Multi-Arch": "same", "Priority": "optional"}},
		testdeb.Package{Name: "hello", Version: "2.10-3", Fields: map[string]string{"Depends": "libc6 (>= 2.34), mta | postfix"}},
		testdeb.Package{Name: "exim4", Version: "4.98-1", Fields: map[string]string{"Provides": "mta", "Priority": "standard"}},
		testdeb.Package{Name: "postfix", Version: "3.10-1", Fields: map[string]string{"Provides": "mta"}},
	)
	repo.Add("trixie-security", "main",
		testdeb.Package{Name: "libc6", Version: "2.41-12+deb13u1", Fields: map[string]string{"Multi-Arch": "same"}},
	)
	repo.Publish()

	universe := fetchUniverse(t, repo, "trixie", "trixie-security")
	req := Request{Arch: "amd64", Packages: []string{"hello"}}
	res, err := Resolve(universe, req)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"base-files=13", "exim4=4.98-1", "hello=2.10-3", "libc6=2.41-12+deb13u1"}
	if diff := cmp.Diff(want, names(res.Packages)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}

	path := filepath.Join(t.TempDir(), "apt-ostree.lock.json")
	if err := lockfile.Write(path, res.Packages); err != nil {
		t.Fatal(err)
	}
	lock, err := lockfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	wantRepos := map[string]string{
		repo.URL() + " trixie":          repo.Date.UTC().Format(time.RFC3339),
		repo.URL() + " trixie-security": repo.Date.UTC().Format(time.RFC3339),
	}
	if diff := cmp.Diff(wantRepos, lock.Repos); diff != "" {
		t.Errorf("lockfile repos (-want +got):\n%s", diff)
	}
	for _, p := range res.Packages {
		e := lock.Lookup(p.Name)
		if len(e) != 1 || e[0].Version != p.Version || e[0].SHA256 != p.SHA256 || e[0].Arch != p.Architecture {
			t.Errorf("lock entry for %s = %+v, want %s", p.ID(), e, p.SHA256)
		}
	}

	// A newer libc6 appears: the lock keeps the old one.
	repo.Add("trixie-security", "main",
		testdeb.Package{Name: "libc6", Version: "2.41-12+deb13u2", Fields: map[string]string{"Multi-Arch": "same"}})
	repo.Publish()
	req.Lock = lock
	res2, err := Resolve(fetchUniverse(t, repo, "trixie", "trixie-security"), req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, names(res2.Packages)); diff != "" {
		t.Errorf("with the lockfile (-want +got):\n%s", diff)
	}

	// The locked libc6 is gone once only trixie is configured.
	_, err = Resolve(fetchUniverse(t, repo, "trixie"), req)
	wantErr := "locked package libc6 2.41-12+deb13u1 (amd64) is not available in the configured repositories (it may have been superseded); update the lockfile"
	if err == nil || err.Error() != wantErr || !errors.Is(err, ErrLocked) {
		t.Errorf("got %v, want %q", err, wantErr)
	}
}
