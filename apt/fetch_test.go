package apt_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/apt"
)

func TestFetch(t *testing.T) {
	cache := t.TempDir()
	r := fixtureRepo(t)
	r.Publish()
	c := newClient(t, cache)
	ctx := context.Background()
	pkgs, err := c.LoadIndexes(ctx, []apt.Source{source(r, "trixie")})
	if err != nil {
		t.Fatal(err)
	}
	r.ResetRequests()
	r.FailNext(pkgs[0].Filename, 1, 503)                     // one retry on the way
	paths, stats, err := c.Fetch(ctx, append(pkgs, pkgs[0])) // a duplicate is fetched once
	if err != nil {
		t.Fatal(err)
	}
	if stats.Downloaded != len(pkgs) || stats.Cached != 0 || stats.Bytes == 0 {
		t.Errorf("first fetch stats %+v", stats)
	}
	if len(paths) != len(pkgs)+1 || paths[len(pkgs)] != paths[0] {
		t.Fatalf("paths %v", paths)
	}
	var total int64
	for i, p := range pkgs {
		b, err := os.ReadFile(paths[i])
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != p.SHA256 || !bytes.HasPrefix(b, []byte("!<arch>\n")) {
			t.Errorf("%s: wrong content at %s", p.ID(), paths[i])
		}
		if paths[i] != apt.PoolPath(cache, p.SHA256) {
			t.Errorf("%s: path %s", p.ID(), paths[i])
		}
		total += p.Size
	}
	if stats.Bytes != total {
		t.Errorf("Bytes = %d, want %d", stats.Bytes, total)
	}

	// Second fetch: nothing downloaded, no request made.
	r.ResetRequests()
	paths2, stats, err := newClient(t, cache).Fetch(ctx, pkgs)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Downloaded != 0 || stats.Cached != len(pkgs) || stats.Bytes != 0 || len(r.Requests()) != 0 {
		t.Errorf("second fetch: %+v, %d requests", stats, len(r.Requests()))
	}
	if paths2[0] != paths[0] {
		t.Error("paths differ between fetches")
	}

	// A pool file with the wrong size is replaced.
	os.WriteFile(paths[0], []byte("short"), 0o644)
	_, stats, err = newClient(t, cache).Fetch(ctx, pkgs)
	if err != nil || stats.Downloaded != 1 {
		t.Errorf("after truncation: %+v %v", stats, err)
	}
}

func TestFetchRefusesMismatch(t *testing.T) {
	cache := t.TempDir()
	r := fixtureRepo(t)
	r.Publish()
	c := newClient(t, cache)
	ctx := context.Background()
	pkgs, err := c.LoadIndexes(ctx, []apt.Source{source(r, "trixie")})
	if err != nil {
		t.Fatal(err)
	}
	var bash *apt.Package
	for _, p := range pkgs {
		if p.Name == "bash" {
			bash = p
		}
	}
	// Same size, different bytes: a sha256 mismatch.
	r.Tamper(bash.Filename, func(b []byte) []byte {
		b = bytes.Clone(b)
		b[len(b)-1] ^= 0xff
		return b
	})
	_, _, err = c.Fetch(ctx, []*apt.Package{bash})
	if !errors.Is(err, apt.ErrHashMismatch) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"fetch bash_5.2.37-2_amd64 from " + bash.URL() + ": sha256 mismatch: got ", ", want " + bash.SHA256} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// Longer body: a size mismatch, also refused.
	r.Tamper(bash.Filename, func(b []byte) []byte { return append(b, "junk"...) })
	if _, _, err = c.Fetch(ctx, []*apt.Package{bash}); err == nil || !strings.Contains(err.Error(), "size mismatch") {
		t.Errorf("longer file: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(cache, "pool"))
	if len(entries) != 0 {
		t.Errorf("pool not empty after refused downloads: %v", entries)
	}

	// Packages that cannot be verified are refused before any download.
	bad := *bash
	bad.SHA256 = ""
	if _, _, err := c.Fetch(ctx, []*apt.Package{&bad}); err == nil || !strings.Contains(err.Error(), "no valid SHA256") {
		t.Errorf("no sha: %v", err)
	}
	bad = *bash
	bad.Filename = "../../etc/passwd"
	if _, _, err := c.Fetch(ctx, []*apt.Package{&bad}); err == nil || !strings.Contains(err.Error(), "bad Filename") {
		t.Errorf("bad filename: %v", err)
	}

	// A 404 names the package and URL.
	r.FailNext(bash.Filename, 1, 404)
	if _, _, err := c.Fetch(ctx, []*apt.Package{bash}); err == nil || !strings.Contains(err.Error(), "fetch bash_5.2.37-2_amd64 from "+bash.URL()+": HTTP 404") {
		t.Errorf("404: %v", err)
	}
}
