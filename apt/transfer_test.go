package apt_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apt-ostree/apt-ostree/apt"
)

// safetyCtx keeps a regression from hanging the test binary: a stall that
// is not detected ends here, and the test then fails on the error type.
func safetyCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestStalledTransfer(t *testing.T) {
	r := fixtureRepo(t)
	r.Publish()
	ctx := safetyCtx(t)
	idle := func(o *apt.Options) { o.IdleTimeout = 200 * time.Millisecond; o.Retries = 2 }
	inRelease, _ := os.ReadFile(r.Path("dists/trixie/InRelease"))
	half := len(inRelease) / 2

	t.Run("InRelease stalls once, then the retry succeeds", func(t *testing.T) {
		r.ResetRequests()
		r.StallNext("dists/trixie/InRelease", 1, half)
		if _, err := newClient(t, t.TempDir(), idle).LoadIndexes(ctx, []apt.Source{source(r, "trixie")}); err != nil {
			t.Fatal(err)
		}
		if n := r.Count("dists/trixie/InRelease"); n != 2 {
			t.Errorf("InRelease requested %d times, want 2", n)
		}
	})

	t.Run("InRelease always stalls", func(t *testing.T) {
		r.ResetRequests()
		r.StallNext("dists/trixie/InRelease", 3, half)
		_, err := newClient(t, t.TempDir(), idle).LoadIndexes(ctx, []apt.Source{source(r, "trixie")})
		var se *apt.StallError
		if !errors.As(err, &se) {
			t.Fatalf("err = %v, want a *apt.StallError", err)
		}
		url := r.URL() + "/dists/trixie/InRelease"
		for _, want := range []string{"fetch " + url + ": ", "after " + itoa(half) + " of " + itoa(len(inRelease)) + " bytes"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if n := r.Count("dists/trixie/InRelease"); n != 3 {
			t.Errorf("InRelease requested %d times, want 3 (two retries)", n)
		}
	})

	t.Run(".deb stalls", func(t *testing.T) {
		cache := t.TempDir()
		c := newClient(t, cache, idle)
		pkgs, err := c.LoadIndexes(ctx, []apt.Source{source(r, "trixie")})
		if err != nil {
			t.Fatal(err)
		}
		p := pkgs[0]
		r.ResetRequests()
		r.StallNext(p.Filename, 1, 100)
		if _, stats, err := c.Fetch(ctx, []*apt.Package{p}); err != nil || stats.Downloaded != 1 {
			t.Fatalf("after one stall: %+v, %v", stats, err)
		}
		q := pkgs[1]
		r.StallNext(q.Filename, 3, 100)
		_, _, err = c.Fetch(ctx, []*apt.Package{q})
		var se *apt.StallError
		if !errors.As(err, &se) || se.Received != 100 || se.Expected != q.Size {
			t.Fatalf("err = %v (%+v), want a *apt.StallError after 100 bytes", err, se)
		}
		if !strings.Contains(err.Error(), "from "+q.URL()+": ") || !strings.Contains(err.Error(), "after 100 of ") {
			t.Errorf("error %q does not name the URL and the bytes received", err)
		}
		if n := r.Count(q.Filename); n != 3 {
			t.Errorf("%s requested %d times, want 3", q.Filename, n)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestHeaderTimeoutRetried: net/http's response header timeout matches
// context.DeadlineExceeded; it is a transient failure, not the caller
// giving up.
func TestHeaderTimeoutRetried(t *testing.T) {
	r := fixtureRepo(t)
	r.Publish()
	ctx := safetyCtx(t)
	hc := &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{}).DialContext,
		ResponseHeaderTimeout: 200 * time.Millisecond,
	}}
	r.HoldHeadersNext("dists/trixie/InRelease", 1)
	_, err := newClient(t, t.TempDir(), func(o *apt.Options) { o.HTTPClient = hc }).LoadIndexes(ctx, []apt.Source{source(r, "trixie")})
	if err != nil {
		t.Fatalf("header timeout not retried: %v", err)
	}
	if n := r.Count("dists/trixie/InRelease"); n != 2 {
		t.Errorf("InRelease requested %d times, want 2", n)
	}

	// The caller's own cancellation is final: no retry.
	r.ResetRequests()
	r.HoldHeadersNext("dists/trixie/InRelease", 5)
	cctx, cancel := context.WithCancel(ctx)
	go func() {
		for r.Count("dists/trixie/InRelease") == 0 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	_, err = newClient(t, t.TempDir(), func(o *apt.Options) { o.RetryDelay = time.Hour }).LoadIndexes(cctx, []apt.Source{source(r, "trixie")})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

// logBuffer collects log records for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestFetchReplacesCorruptPoolFile: a pool file of the right size with a
// flipped byte is found, removed, logged and downloaded again.
func TestFetchReplacesCorruptPoolFile(t *testing.T) {
	cache := t.TempDir()
	r := fixtureRepo(t)
	r.Publish()
	ctx := context.Background()
	var logs logBuffer
	c := newClient(t, cache, func(o *apt.Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	pkgs, err := c.LoadIndexes(ctx, []apt.Source{source(r, "trixie")})
	if err != nil {
		t.Fatal(err)
	}
	paths, _, err := c.Fetch(ctx, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(paths[1])
	b[len(b)/2] ^= 0x01
	os.WriteFile(paths[1], b, 0o644)

	r.ResetRequests()
	_, stats, err := c.Fetch(ctx, pkgs)
	if err != nil || stats.Downloaded != 1 || stats.Cached != len(pkgs)-1 {
		t.Fatalf("after corruption: %+v %v", stats, err)
	}
	if n := r.Count(pkgs[1].Filename); n != 1 {
		t.Errorf("%s downloaded %d times, want 1", pkgs[1].Filename, n)
	}
	got, _ := os.ReadFile(paths[1])
	if sum := sha256.Sum256(got); hex.EncodeToString(sum[:]) != pkgs[1].SHA256 {
		t.Error("pool file still corrupt")
	}
	l := logs.String()
	if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "pool file is corrupt") || !strings.Contains(l, paths[1]) {
		t.Errorf("no warning naming %s in the log:\n%s", paths[1], l)
	}
}

// TestSkipValidUntil: a dated snapshot whose Valid-Until has passed is
// refused by default and accepted, with a warning, with SkipValidUntil;
// its signature is still checked.
func TestSkipValidUntil(t *testing.T) {
	r := fixtureRepo(t)
	r.Date = time.Now().Add(-30 * 24 * time.Hour).UTC().Truncate(time.Second)
	r.ValidUntil = r.Date.Add(7 * 24 * time.Hour)
	r.Publish()
	ctx := context.Background()
	src := source(r, "trixie")
	if _, err := newClient(t, t.TempDir()).LoadIndexes(ctx, []apt.Source{src}); !errors.Is(err, apt.ErrExpired) {
		t.Fatalf("default: err = %v, want ErrExpired", err)
	}
	src.SkipValidUntil = true
	var logs logBuffer
	quiet := func(o *apt.Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) }
	got, err := newClient(t, t.TempDir(), quiet).LoadIndexes(ctx, []apt.Source{src})
	if err != nil {
		t.Fatalf("SkipValidUntil: %v", err)
	}
	if len(got) != len(want(r, src.Suites, "main")) {
		t.Errorf("%d packages", len(got))
	}
	if l := logs.String(); !strings.Contains(l, "level=WARN") || !strings.Contains(l, "check-valid-until: false") ||
		!strings.Contains(l, "expired=true") || !strings.Contains(l, r.URL()+"/dists/trixie/InRelease") {
		t.Errorf("no warning naming the InRelease:\n%s", l)
	}
	r.TamperInRelease("trixie")
	if _, err := newClient(t, t.TempDir(), quiet).LoadIndexes(ctx, []apt.Source{src}); !errors.Is(err, apt.ErrBadSignature) {
		t.Errorf("tampered, SkipValidUntil: err = %v, want ErrBadSignature", err)
	}
}

// TestFileRepository reads a repository from a directory: indexes and
// .debs are verified exactly as over HTTP.
func TestFileRepository(t *testing.T) {
	r := fixtureRepo(t)
	r.Publish()
	ctx := context.Background()
	cache := t.TempDir()
	for _, url := range []string{r.FileURL(), strings.Replace(r.FileURL(), "file://", "file://localhost", 1)} {
		src := source(r, "trixie")
		src.URL = url
		c := newClient(t, cache)
		pkgs, err := c.LoadIndexes(ctx, []apt.Source{src})
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		wantPkgs := want(r, src.Suites, "main")
		if len(pkgs) != len(wantPkgs) {
			t.Fatalf("%d packages, want %d", len(pkgs), len(wantPkgs))
		}
		for i, p := range pkgs {
			if p.ID() != wantPkgs[i].ID() || p.SHA256 != wantPkgs[i].SHA256 || p.Repo.URL != url {
				t.Errorf("package %d: %s %s from %s", i, p.ID(), p.SHA256, p.Repo.URL)
			}
		}
		paths, _, err := c.Fetch(ctx, pkgs)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pkgs {
			a, _ := os.ReadFile(paths[i])
			b, _ := os.ReadFile(r.Path(p.Filename))
			if !bytes.Equal(a, b) || paths[i] != apt.PoolPath(cache, p.SHA256) {
				t.Errorf("%s: pool copy %s differs from the repository's", p.ID(), paths[i])
			}
		}
	}
	if n := len(r.Requests()); n != 0 {
		t.Errorf("%d HTTP requests for a file:// repository", n)
	}

	// Verification is the same as over HTTP.
	src := source(r, "trixie")
	src.URL = r.FileURL()
	c := newClient(t, t.TempDir())
	pkgs, err := c.LoadIndexes(ctx, []apt.Source{src})
	if err != nil {
		t.Fatal(err)
	}
	r.Tamper(pkgs[0].Filename, func(b []byte) []byte { b = bytes.Clone(b); b[len(b)-1] ^= 1; return b })
	if _, _, err := c.Fetch(ctx, pkgs[:1]); !errors.Is(err, apt.ErrHashMismatch) || !strings.Contains(err.Error(), pkgs[0].URL()) {
		t.Errorf("tampered .deb: %v", err)
	}
	if _, err := c.LoadIndexes(ctx, []apt.Source{src}); err != nil {
		t.Fatalf("reload: %v", err)
	}
	r.TamperInRelease("trixie")
	if _, err := newClient(t, t.TempDir()).LoadIndexes(ctx, []apt.Source{src}); !errors.Is(err, apt.ErrBadSignature) {
		t.Errorf("tampered InRelease: %v", err)
	}
	src.Suites = []string{"sid"}
	if _, err := newClient(t, t.TempDir()).LoadIndexes(ctx, []apt.Source{src}); err == nil || !strings.Contains(err.Error(), "/dists/sid/Release: no such file in the local repository") {
		t.Errorf("missing suite: %v", err)
	}

	for _, tc := range []struct{ url, msg string }{
		{"file://otherhost/srv/repo", `names host "otherhost"`},
		{"file://" + t.TempDir() + "/missing", "no such file or directory"},
		{"file:relative/repo", "needs an absolute path"},
	} {
		src := source(r, "trixie")
		src.URL = tc.url
		if _, err := newClient(t, t.TempDir()).LoadIndexes(ctx, []apt.Source{src}); err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want %q", tc.url, err, tc.msg)
		}
	}
}
