package apt

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"
)

// FetchStats counts what Fetch did.
type FetchStats struct {
	Downloaded int   // packages downloaded
	Cached     int   // packages already in the pool
	Bytes      int64 // bytes downloaded
}

// PoolPath is where Fetch keeps a package with this SHA256 under cacheDir.
func PoolPath(cacheDir, sha256 string) string {
	return filepath.Join(cacheDir, "pool", sha256+".deb")
}

// Fetch makes sure every package's .deb is in CacheDir/pool and returns
// the local paths, aligned with pkgs.
//
// Files are named by their SHA256 and only get that name (by rename from
// a temp file) after the downloaded size and SHA256 matched the index.
// A pool file is hashed again every time it is used; one that no longer
// matches is removed (with a warning) and downloaded again. Downloads run in parallel (Options.Jobs) with
// retries; the first failure cancels the rest.
func (c *Client) Fetch(ctx context.Context, pkgs []*Package) ([]string, FetchStats, error) {
	var stats FetchStats
	for _, p := range pkgs {
		if err := checkFetchable(p); err != nil {
			return nil, stats, err
		}
	}
	unlock, err := c.lockCache(ctx)
	if err != nil {
		return nil, stats, err
	}
	defer unlock()

	paths := make([]string, len(pkgs))
	var unique []*Package
	seen := map[string]bool{}
	for i, p := range pkgs {
		paths[i] = PoolPath(c.opts.CacheDir, p.SHA256)
		if !seen[p.SHA256] {
			seen[p.SHA256] = true
			unique = append(unique, p)
		}
	}
	cached, err := c.checkPool(ctx, unique)
	if err != nil {
		return nil, stats, err
	}
	var todo []*Package
	var total int64
	for i, p := range unique {
		if cached[i] {
			stats.Cached++
			continue
		}
		todo = append(todo, p)
		total += p.Size
	}
	if len(todo) == 0 {
		c.log.Debug("all packages cached", "packages", stats.Cached)
		return paths, stats, nil
	}

	start := time.Now()
	bar := c.newBar(total, len(todo))
	var downloaded, bytes atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.jobs)
	for _, p := range todo {
		g.Go(func() error {
			n, err := c.download(gctx, p.URL(), PoolPath(c.opts.CacheDir, p.SHA256), fileHash{SHA256: p.SHA256, Size: p.Size}, bar.add)
			if err != nil {
				return fmt.Errorf("fetch %s from %s: %w", p.ID(), p.URL(), err)
			}
			downloaded.Add(1)
			bytes.Add(n)
			bar.done()
			c.log.Debug("downloaded", "package", p.ID(), "bytes", n)
			return nil
		})
	}
	err = g.Wait()
	bar.finish(err != nil)
	stats.Downloaded = int(downloaded.Load())
	stats.Bytes = bytes.Load()
	if err != nil {
		return nil, stats, err
	}
	elapsed := time.Since(start)
	c.log.Info("downloaded packages", "downloaded", stats.Downloaded, "cached", stats.Cached,
		"bytes", stats.Bytes, "elapsed", elapsed.Round(time.Millisecond),
		"rate", fmt.Sprintf("%.1f MB/s", float64(stats.Bytes)/1e6/max(elapsed.Seconds(), 1e-3)))
	return paths, stats, nil
}

func checkFetchable(p *Package) error {
	switch {
	case p.Repo == nil:
		return fmt.Errorf("fetch %s: package has no repository", p.ID())
	case len(p.SHA256) != 64 || strings.Trim(p.SHA256, "0123456789abcdef") != "":
		return fmt.Errorf("fetch %s: index gives no valid SHA256 (%q); refusing an unverifiable download", p.ID(), p.SHA256)
	case p.Size <= 0:
		return fmt.Errorf("fetch %s: index gives no Size", p.ID())
	case p.Filename == "" || strings.HasPrefix(p.Filename, "/") || strings.Contains("/"+p.Filename+"/", "/../"):
		return fmt.Errorf("fetch %s: bad Filename %q in index", p.ID(), p.Filename)
	}
	return nil
}

// checkPool reports which packages have a good copy in the pool. Every
// pool file is hashed on use (about 1.5 GB/s per core with SHA-NI, little
// next to unpacking it): a file only ever gets its SHA256-derived name
// after its content was verified, but disks, copies and people can still
// change it later, and a bad file must not fail every run the same way.
// A file that does not match is removed, so it is downloaded again.
func (c *Client) checkPool(ctx context.Context, pkgs []*Package) ([]bool, error) {
	ok := make([]bool, len(pkgs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(min(c.jobs, runtime.NumCPU()))
	for i, p := range pkgs {
		g.Go(func() error {
			if gctx.Err() != nil {
				return gctx.Err()
			}
			ok[i] = c.inPool(PoolPath(c.opts.CacheDir, p.SHA256), p)
			return nil
		})
	}
	return ok, g.Wait()
}

// inPool reports whether a verified copy of p is in the pool, removing
// a pool file that does not match p's size and SHA256.
func (c *Client) inPool(path string, p *Package) bool {
	st, err := os.Stat(path)
	if err != nil || !st.Mode().IsRegular() {
		return false
	}
	bad := func(why string, attrs ...any) bool {
		c.log.Warn("pool file is corrupt ("+why+"); removed it, downloading it again",
			append([]any{"path", path, "package", p.ID()}, attrs...)...)
		if err := os.Remove(path); err != nil {
			c.log.Warn("cannot remove corrupt pool file", "path", path, "error", err)
		}
		return false
	}
	if st.Size() != p.Size {
		return bad("wrong size", "size", st.Size(), "want", p.Size)
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return bad("unreadable", "error", err)
	}
	if err := checkHash(h, n, fileHash{SHA256: p.SHA256, Size: p.Size}); err != nil {
		return bad(err.Error())
	}
	return true
}

// fetchBar shows download progress on a terminal; without one its methods
// do nothing.
type fetchBar struct {
	p     *mpb.Progress
	bytes *mpb.Bar
	files *mpb.Bar
}

func (c *Client) newBar(total int64, n int) *fetchBar {
	f, ok := c.opts.Progress.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return &fetchBar{}
	}
	p := mpb.New(mpb.WithOutput(f), mpb.WithWidth(40), mpb.WithRefreshRate(150*time.Millisecond))
	bytes := p.AddBar(total,
		mpb.PrependDecorators(decor.Name("Downloading "), decor.CountersKibiByte("% .1f / % .1f")),
		mpb.AppendDecorators(decor.AverageSpeed(decor.SizeB1024(0), " % .1f"), decor.Name(" "), decor.Percentage()),
	)
	files := p.AddBar(int64(n), mpb.BarFillerClearOnComplete(),
		mpb.PrependDecorators(decor.Name("Packages    "), decor.CountersNoUnit("%d / %d")))
	return &fetchBar{p: p, bytes: bytes, files: files}
}

func (b *fetchBar) add(n int64) {
	if b.bytes != nil {
		b.bytes.IncrInt64(n)
	}
}

func (b *fetchBar) done() {
	if b.files != nil {
		b.files.Increment()
	}
}

func (b *fetchBar) finish(aborted bool) {
	if b.p == nil {
		return
	}
	if aborted {
		b.bytes.Abort(false)
		b.files.Abort(false)
	} else {
		b.bytes.SetTotal(-1, true)
		b.files.SetTotal(-1, true)
	}
	b.p.Wait()
}
