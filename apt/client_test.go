package apt_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/apt-ostree/apt-ostree/apt"
	"github.com/apt-ostree/apt-ostree/internal/testdeb"
	"github.com/apt-ostree/apt-ostree/internal/testrepo"
)

func fixtureRepo(t *testing.T, opts ...testrepo.Option) *testrepo.Repo {
	t.Helper()
	r := testrepo.New(t, opts...)
	r.Add("trixie", "main",
		testdeb.Package{Name: "bash", Version: "5.2.37-2", Fields: map[string]string{"Essential": "yes", "Pre-Depends": "libc6 (>= 2.36)", "Priority": "required", "Section": "shells"},
			Files: []testdeb.File{{Path: "bin/bash", Body: "#!fake bash\n", Mode: 0o755}}},
		testdeb.Package{Name: "libc6", Version: "2.41-12", Fields: map[string]string{"Multi-Arch": "same", "Source": "glibc (2.41-12)"}},
		testdeb.Package{Name: "tzdata", Version: "2025b-4", Arch: "all"},
		testdeb.Package{Name: "bash", Version: "5.2.37-2", Arch: "arm64"},
	)
	r.Add("trixie", "contrib", testdeb.Package{Name: "extra-tool", Fields: map[string]string{"Depends": "bash"}})
	r.Add("trixie-updates", "main", testdeb.Package{Name: "tzdata", Version: "2025c-0+deb13u1", Arch: "all"})
	return r
}

func source(r *testrepo.Repo, suites ...string) apt.Source {
	return apt.Source{URL: r.URL(), Suites: suites, Components: []string{"main"}, Arch: "amd64",
		Keyring: r.Keyring(), KeyringName: r.KeyringPath()}
}

func newClient(t *testing.T, cacheDir string, mod ...func(*apt.Options)) *apt.Client {
	o := apt.Options{CacheDir: cacheDir, RetryDelay: time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, f := range mod {
		f(&o)
	}
	return apt.NewClient(o)
}

// want returns the repo's published records that an amd64 load of the
// given components must produce, in load order.
func want(r *testrepo.Repo, suites []string, comps ...string) []apt.Package {
	var out []apt.Package
	for _, s := range suites {
		for _, c := range comps {
			for _, p := range r.Packages(s) {
				if p.Repo.Component == c && (p.Architecture == "amd64" || p.Architecture == "all") {
					out = append(out, *p)
				}
			}
		}
	}
	return out
}

func deref(pkgs []*apt.Package) []apt.Package {
	out := make([]apt.Package, len(pkgs))
	for i, p := range pkgs {
		out[i] = *p
	}
	return out
}

var cmpRepo = cmp.Comparer(func(a, b *apt.RepoRef) bool { return a != nil && b != nil && *a == *b })

func TestLoadIndexes(t *testing.T) {
	tests := []struct {
		name  string
		opts  []testrepo.Option
		setup func(*testrepo.Repo, *apt.Source)
		check func(*testing.T, []testrepo.Request)
	}{
		{name: "ed25519 InRelease, xz"},
		{name: "rsa key", opts: []testrepo.Option{testrepo.WithRSA()}},
		{name: "armored keyring", setup: func(r *testrepo.Repo, s *apt.Source) { s.Keyring = []byte(r.ArmoredKey()) }},
		{name: "gz only", setup: func(r *testrepo.Repo, s *apt.Source) { r.Compressions = []string{"gz"} }},
		{name: "zst only", setup: func(r *testrepo.Repo, s *apt.Source) { r.Compressions = []string{"zst"} }},
		{name: "plain only", setup: func(r *testrepo.Repo, s *apt.Source) { r.Compressions = []string{""} }},
		{
			name:  "Release and Release.gpg fallback",
			setup: func(r *testrepo.Repo, s *apt.Source) { r.NoInRelease = true },
			check: func(t *testing.T, reqs []testrepo.Request) {
				if !hasRequest(reqs, "dists/trixie/Release.gpg", 200) {
					t.Error("Release.gpg not fetched")
				}
			},
		},
		{
			name:  "by-hash",
			setup: func(r *testrepo.Repo, s *apt.Source) { r.ByHash = true },
			check: func(t *testing.T, reqs []testrepo.Request) {
				for _, q := range reqs {
					if strings.HasSuffix(q.Path, "/Packages.xz") {
						t.Errorf("fetched %s by name despite Acquire-By-Hash", q.Path)
					}
				}
				if !hasRequestPrefix(reqs, "dists/trixie/main/binary-amd64/by-hash/SHA256/", 200) {
					t.Error("no by-hash request")
				}
			},
		},
		{
			name: "unsigned but trusted",
			setup: func(r *testrepo.Repo, s *apt.Source) {
				r.NoSignature = true
				s.Trusted = true
				s.Keyring = nil
			},
		},
		{
			name: "bad signature but trusted",
			setup: func(r *testrepo.Repo, s *apt.Source) {
				r.WrongKey = true
				s.Trusted = true
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := fixtureRepo(t, tc.opts...)
			src := source(r, "trixie", "trixie-updates")
			src.Components = []string{"main", "contrib"}
			if tc.setup != nil {
				tc.setup(r, &src)
			}
			r.Publish()
			got, err := newClient(t, t.TempDir()).LoadIndexes(context.Background(), []apt.Source{src})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want(r, src.Suites, "main", "contrib"), deref(got), cmpRepo); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if tc.check != nil {
				tc.check(t, r.Requests())
			}
		})
	}
}

func hasRequest(reqs []testrepo.Request, path string, status int) bool {
	for _, q := range reqs {
		if q.Path == path && q.Status == status {
			return true
		}
	}
	return false
}

func hasRequestPrefix(reqs []testrepo.Request, prefix string, status int) bool {
	for _, q := range reqs {
		if strings.HasPrefix(q.Path, prefix) && q.Status == status {
			return true
		}
	}
	return false
}

func TestLoadIndexesRefuses(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(*testrepo.Repo, *apt.Source)
		tamper  func(*testrepo.Repo)
		is      error
		wantMsg []string
	}{
		{
			name:    "tampered InRelease",
			tamper:  func(r *testrepo.Repo) { r.TamperInRelease("trixie") },
			is:      apt.ErrBadSignature,
			wantMsg: []string{"/dists/trixie/InRelease: bad signature"},
		},
		{
			name:    "signed by another key",
			setup:   func(r *testrepo.Repo, s *apt.Source) { r.WrongKey = true },
			is:      apt.ErrUnknownKey,
			wantMsg: []string{"/dists/trixie/InRelease: signature by unknown key ", "not in keyring ", "test-archive-keyring.gpg; add the repository's key with signed-by"},
		},
		{
			name:    "tampered Packages",
			tamper:  func(r *testrepo.Repo) { r.TamperPackages("trixie", "main", "amd64") },
			is:      apt.ErrHashMismatch,
			wantMsg: []string{"/dists/trixie/main/binary-amd64/Packages.xz: ", "mismatch: got "},
		},
		{
			name:    "expired Valid-Until",
			setup:   func(r *testrepo.Repo, s *apt.Source) { r.ValidUntil = time.Now().Add(-time.Hour) },
			is:      apt.ErrExpired,
			wantMsg: []string{"/dists/trixie/InRelease: release file expired: Valid-Until "},
		},
		{
			name:    "unsigned",
			setup:   func(r *testrepo.Repo, s *apt.Source) { r.NoSignature = true },
			is:      apt.ErrUnsigned,
			wantMsg: []string{"/dists/trixie/Release: repository is not signed"},
		},
		{
			name:    "Release.gpg by another key",
			setup:   func(r *testrepo.Repo, s *apt.Source) { r.NoInRelease = true; r.WrongKey = true },
			is:      apt.ErrUnknownKey,
			wantMsg: []string{"/dists/trixie/Release: signature by unknown key"},
		},
		{
			name:    "Date in the future",
			setup:   func(r *testrepo.Repo, s *apt.Source) { r.Date = time.Now().Add(48 * time.Hour) },
			wantMsg: []string{"signature made in the future", "check the system clock"},
		},
		{
			name:    "component not in Release",
			setup:   func(r *testrepo.Repo, s *apt.Source) { s.Components = []string{"non-free"} },
			wantMsg: []string{"(suites trixie): Release lists no non-free/binary-amd64/Packages index; check the component and architecture"},
		},
		{
			name:    "no keyring",
			setup:   func(r *testrepo.Repo, s *apt.Source) { s.Keyring = nil },
			wantMsg: []string{"no keyring; give the repository's key with signed-by"},
		},
		{
			name:    "garbage keyring",
			setup:   func(r *testrepo.Repo, s *apt.Source) { s.Keyring = []byte("not a key") },
			wantMsg: []string{"keyring ", "test-archive-keyring.gpg"},
		},
		{
			name:    "suite missing",
			setup:   func(r *testrepo.Repo, s *apt.Source) { s.Suites = []string{"sid"} },
			wantMsg: []string{"fetch " + "http://127.0.0.1:", "/dists/sid/Release: HTTP 404"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := fixtureRepo(t)
			src := source(r, "trixie")
			if tc.setup != nil {
				tc.setup(r, &src)
			}
			r.Publish()
			if tc.tamper != nil {
				tc.tamper(r)
			}
			_, err := newClient(t, t.TempDir()).LoadIndexes(context.Background(), []apt.Source{src})
			if err == nil {
				t.Fatal("LoadIndexes succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q lacks %q", err, m)
				}
			}
			if strings.Contains(err.Error(), "unknown key") && !strings.Contains(err.Error(), r.URL()) {
				t.Errorf("error %q does not name the URL", err)
			}
		})
	}
}

func TestLoadIndexesCache(t *testing.T) {
	r := fixtureRepo(t)
	r.Publish()
	cache := t.TempDir()
	src := source(r, "trixie")
	ctx := context.Background()
	if _, err := newClient(t, cache).LoadIndexes(ctx, []apt.Source{src}); err != nil {
		t.Fatal(err)
	}

	// Second load: InRelease is revalidated (304), Packages not fetched.
	r.ResetRequests()
	got, err := newClient(t, cache).LoadIndexes(ctx, []apt.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want(r, src.Suites, "main"), deref(got), cmpRepo); diff != "" {
		t.Errorf("cached packages (-want +got):\n%s", diff)
	}
	reqs := r.Requests()
	if len(reqs) != 1 || reqs[0].Path != "dists/trixie/InRelease" || reqs[0].Status != 304 ||
		reqs[0].IfNoneMatch == "" || reqs[0].IfModifiedSince == "" {
		t.Errorf("second load requests: %+v", reqs)
	}

	// Offline: no requests at all, same result.
	r.ResetRequests()
	got, err = newClient(t, cache, func(o *apt.Options) { o.Offline = true }).LoadIndexes(ctx, []apt.Source{src})
	if err != nil || len(got) != len(want(r, src.Suites, "main")) {
		t.Fatalf("offline: %d packages, %v", len(got), err)
	}
	if n := len(r.Requests()); n != 0 {
		t.Errorf("offline load made %d requests", n)
	}

	// A new upload changes InRelease and the index; both are fetched.
	r.Add("trixie", "main", testdeb.Package{Name: "newpkg"})
	r.Date = r.Date.Add(time.Second)
	r.Publish()
	r.ResetRequests()
	got, err = newClient(t, cache).LoadIndexes(ctx, []apt.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	if !hasRequest(r.Requests(), "dists/trixie/InRelease", 200) || !hasRequest(r.Requests(), "dists/trixie/main/binary-amd64/Packages.xz", 200) {
		t.Errorf("update not fetched: %+v", r.Requests())
	}
	if diff := cmp.Diff(want(r, src.Suites, "main"), deref(got), cmpRepo); diff != "" {
		t.Errorf("updated packages (-want +got):\n%s", diff)
	}

	// A corrupted cached index is detected and fetched again.
	matches, _ := filepath.Glob(filepath.Join(cache, "lists", "*_binary-amd64_Packages"))
	if len(matches) != 1 {
		t.Fatalf("cached indexes: %v", matches)
	}
	os.WriteFile(matches[0], []byte("Package: corrupt\n"), 0o644)
	r.ResetRequests()
	if _, err := newClient(t, cache).LoadIndexes(ctx, []apt.Source{src}); err != nil {
		t.Fatal(err)
	}
	if !hasRequest(r.Requests(), "dists/trixie/main/binary-amd64/Packages.xz", 200) {
		t.Error("corrupt cached index was reused")
	}

	// A tampered InRelease must not replace the good cached one.
	r.TamperInRelease("trixie")
	if _, err := newClient(t, cache).LoadIndexes(ctx, []apt.Source{src}); !errors.Is(err, apt.ErrBadSignature) {
		t.Fatalf("tampered: %v", err)
	}
	if _, err := newClient(t, cache, func(o *apt.Options) { o.Offline = true }).LoadIndexes(ctx, []apt.Source{src}); err != nil {
		t.Errorf("offline after refused update: %v", err)
	}
}

func TestLoadIndexesRetries(t *testing.T) {
	r := fixtureRepo(t)
	r.Publish()
	src := source(r, "trixie")
	ctx := context.Background()

	r.FailNext("dists/trixie/InRelease", 2, 500)
	r.FailNext("dists/trixie/main/binary-amd64/Packages.xz", 1, 503)
	if _, err := newClient(t, t.TempDir()).LoadIndexes(ctx, []apt.Source{src}); err != nil {
		t.Fatalf("with retries: %v", err)
	}
	if n := r.Count("dists/trixie/InRelease"); n != 3 {
		t.Errorf("InRelease requested %d times, want 3", n)
	}

	r.FailNext("dists/trixie/InRelease", 1, 502)
	_, err := newClient(t, t.TempDir(), func(o *apt.Options) { o.Retries = -1 }).LoadIndexes(ctx, []apt.Source{src})
	if err == nil || !strings.Contains(err.Error(), r.URL()+"/dists/trixie/InRelease: HTTP 502") {
		t.Errorf("no retries: %v", err)
	}

	// A missing .xz falls back to .gz.
	r.FailNext("dists/trixie/main/binary-amd64/Packages.xz", 1, 404)
	r.ResetRequests()
	if _, err := newClient(t, t.TempDir()).LoadIndexes(ctx, []apt.Source{src}); err != nil {
		t.Fatal(err)
	}
	if !hasRequest(r.Requests(), "dists/trixie/main/binary-amd64/Packages.gz", 200) {
		t.Error("no fallback to Packages.gz")
	}
}

func TestLoadIndexesManySources(t *testing.T) {
	a, b := fixtureRepo(t), testrepo.New(t, testrepo.WithPrefix("debian-security"))
	b.Add("trixie-security", "main", testdeb.Package{Name: "libc6", Version: "2.41-12+deb13u1", Fields: map[string]string{"Multi-Arch": "same", "Source": "glibc"}})
	a.Publish()
	b.Publish()
	srcA := source(a, "trixie", "trixie-updates")
	srcA.Components = []string{"main", "contrib"}
	sources := []apt.Source{srcA, source(b, "trixie-security")}
	got, err := newClient(t, t.TempDir()).LoadIndexes(context.Background(), sources)
	if err != nil {
		t.Fatal(err)
	}
	wantPkgs := append(want(a, srcA.Suites, "main", "contrib"), want(b, []string{"trixie-security"}, "main")...)
	if diff := cmp.Diff(wantPkgs, deref(got), cmpRepo); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var suites []string
	for _, p := range got {
		suites = append(suites, p.Repo.Suite+"/"+p.Repo.Component)
	}
	if suites[0] != "trixie/main" || suites[len(suites)-1] != "trixie-security/main" {
		t.Errorf("order: %v", suites)
	}
}

func TestCacheLock(t *testing.T) {
	r := fixtureRepo(t)
	r.Publish()
	cache := t.TempDir()
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(cache, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = newClient(t, cache).LoadIndexes(ctx, []apt.Source{source(r, "trixie")})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("with the lock held elsewhere: %v", err)
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)

	// Two clients at once on one cache both succeed.
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := newClient(t, cache).LoadIndexes(context.Background(), []apt.Source{source(r, "trixie")})
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
