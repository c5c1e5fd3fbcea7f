package apt

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/xi2/xz"
	"golang.org/x/sync/errgroup"

	"github.com/apt-ostree/apt-ostree/internal/atomicfile"
)

// LoadIndexes fetches, verifies and parses the Packages indexes of every
// source × suite × component, in parallel, and returns their packages in
// source, suite, component order (index order within one index).
//
// For each suite it fetches InRelease (falling back to Release plus
// Release.gpg), verifies the OpenPGP signature against the source's
// keyring unless the source is Trusted, checks Valid-Until and Date, then
// fetches each component's Packages index in the best compression the
// Release lists (xz, gz, zst, plain), by hash when the Release says
// Acquire-By-Hash, and checks its size and SHA256 against the Release.
//
// Indexes are cached under CacheDir/lists: InRelease is revalidated with
// If-None-Match / If-Modified-Since, and a Packages index whose Release
// hash is unchanged is not downloaded again. The cache dir is locked for
// the duration of the call.
func (c *Client) LoadIndexes(ctx context.Context, sources []Source) ([]*Package, error) {
	for _, s := range sources {
		if err := s.validate(); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	unlock, err := c.lockCache(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()

	type suiteJob struct {
		srcIdx int
		src    Source
		suite  string
		rel    *release
	}
	var suites []*suiteJob
	for i, s := range sources {
		for _, suite := range s.Suites {
			suites = append(suites, &suiteJob{srcIdx: i, src: s, suite: suite})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.jobs)
	for _, j := range suites {
		g.Go(func() error {
			var err error
			j.rel, err = c.loadRelease(gctx, j.src, j.suite)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	type indexJob struct {
		srcIdx      int
		src         Source
		suite, comp string
		arch        string
		rel         *release
		ref         *RepoRef
		out         []*Package
	}
	var indexes []*indexJob
	for _, j := range suites {
		for _, comp := range j.src.components() {
			if !j.rel.hasComponent(comp, j.src.arch()) {
				// Like apt: a suite may lack a component its siblings
				// have (e.g. contrib in a small updates suite).
				c.log.Warn("skipping component the repository does not provide", "url", distURL(j.src, j.suite), "component", comp, "arch", j.src.arch())
				continue
			}
			ref := &RepoRef{URL: strings.TrimRight(j.src.URL, "/"), Suite: j.suite, Component: comp, Date: j.rel.DateString}
			archs := []string{j.src.arch()}
			if j.rel.hasBinaryAll() && j.rel.hasComponent(comp, "all") {
				archs = append(archs, "all")
			}
			for _, a := range archs {
				indexes = append(indexes, &indexJob{srcIdx: j.srcIdx, src: j.src, suite: j.suite, comp: comp, arch: a, rel: j.rel, ref: ref})
			}
		}
	}
	for i, s := range sources {
		found := false
		for _, ix := range indexes {
			found = found || ix.srcIdx == i
		}
		if !found {
			return nil, fmt.Errorf("apt source %s (suites %s): Release lists no %s/binary-%s/Packages index; check the component and architecture",
				s.URL, strings.Join(s.Suites, ", "), strings.Join(s.components(), ","), s.arch())
		}
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(c.jobs)
	for _, ix := range indexes {
		g.Go(func() error {
			var err error
			ix.out, err = c.loadPackages(gctx, ix.src, ix.suite, ix.comp, ix.arch, ix.rel, ix.ref)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []*Package
	for _, ix := range indexes {
		out = append(out, ix.out...)
	}
	c.log.Info("loaded package indexes", "indexes", len(indexes), "packages", len(out), "elapsed", time.Since(start).Round(time.Millisecond))
	return out, nil
}

func distURL(src Source, suite string) string {
	return strings.TrimRight(src.URL, "/") + "/dists/" + suite + "/"
}

func (c *Client) listPrefix(src Source, suite string) string {
	return filepath.Join(c.opts.CacheDir, "lists", cacheKey(src.URL)+"_dists_"+strings.ReplaceAll(suite, "/", "_"))
}

// loadRelease returns the verified, parsed Release of one suite.
func (c *Client) loadRelease(ctx context.Context, src Source, suite string) (*release, error) {
	base := distURL(src, suite)
	prefix := c.listPrefix(src, suite)
	c.mu.Lock()
	kr, kerr := c.keyrings.get(src)
	c.mu.Unlock()
	if kerr != nil && !src.Trusted {
		return nil, fmt.Errorf("apt source %s: %w", src.URL, kerr)
	}
	now := c.opts.Now()

	// verify turns fetched bytes into the trusted Release text.
	verifyIn := func(body []byte) ([]byte, error) {
		text, err := verifyInRelease(body, kr, src.keyringName(), now)
		if err != nil && src.Trusted {
			c.log.Warn("accepting repository without a valid signature because it is marked trusted", "url", base+"InRelease", "error", err)
			if block := clearsignPlaintext(body); block != nil {
				return block, nil
			}
			return body, nil
		}
		return text, err
	}
	verifyDet := func(relBody, sig []byte) error {
		var err error
		if sig == nil {
			err = fmt.Errorf("%w: neither InRelease nor Release.gpg exists", ErrUnsigned)
		} else {
			err = verifyDetached(relBody, sig, kr, src.keyringName(), now)
		}
		if err != nil && src.Trusted {
			c.log.Warn("accepting repository without a valid signature because it is marked trusted", "url", base+"Release", "error", err)
			return nil
		}
		return err
	}

	var text []byte
	var where string
	var err error
	if c.opts.Offline {
		text, where, err = c.cachedRelease(prefix, base, verifyIn, verifyDet)
	} else {
		text, where, err = c.fetchRelease(ctx, prefix, base, verifyIn, verifyDet)
	}
	if err != nil {
		return nil, err
	}
	rel, err := parseRelease(text)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", where, err)
	}
	if err := rel.checkDates(now, src.SkipValidUntil); err != nil {
		return nil, fmt.Errorf("fetch %s: %w", where, err)
	}
	if src.SkipValidUntil {
		attrs := []any{"url", where}
		if !rel.ValidUntil.IsZero() {
			attrs = append(attrs, "valid_until", rel.ValidUntil.UTC().Format(time.RFC1123), "expired", rel.expired(now))
		}
		c.log.Warn("not checking the Release file's Valid-Until (check-valid-until: false): a stale or replayed mirror would not be noticed", attrs...)
	}
	if suite != rel.Suite && suite != rel.Codename && !strings.Contains(suite, "/") {
		c.log.Warn("Release file names a different suite", "url", where, "want", suite, "suite", rel.Suite, "codename", rel.Codename)
	}
	return rel, nil
}

func clearsignPlaintext(body []byte) []byte {
	// Only used for Trusted sources whose signature failed.
	const begin = "-----BEGIN PGP SIGNED MESSAGE-----"
	if !bytes.HasPrefix(bytes.TrimSpace(body), []byte(begin)) {
		return nil
	}
	_, rest, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return nil
	}
	text, _, _ := bytes.Cut(rest, []byte("\n-----BEGIN PGP SIGNATURE-----"))
	return text
}

func (c *Client) fetchRelease(ctx context.Context, prefix, base string, verifyIn func([]byte) ([]byte, error), verifyDet func(rel, sig []byte) error) ([]byte, string, error) {
	inURL := base + "InRelease"
	inPath := prefix + "_InRelease"
	body, err := c.getCached(ctx, inURL, inPath)
	if err == nil {
		text, err := verifyIn(body)
		if err != nil {
			return nil, "", fmt.Errorf("fetch %s: %w", inURL, err)
		}
		return text, inURL, c.commitCached(inPath)
	}
	if !isNotFound(err) {
		return nil, "", fmt.Errorf("fetch %s: %w", inURL, err)
	}
	relURL := base + "Release"
	relPath := prefix + "_Release"
	relBody, err := c.getCached(ctx, relURL, relPath)
	if err != nil {
		return nil, "", fmt.Errorf("fetch %s: %w", relURL, err)
	}
	sigURL := base + "Release.gpg"
	sigPath := prefix + "_Release.gpg"
	sig, err := c.getCached(ctx, sigURL, sigPath)
	if err != nil && !isNotFound(err) {
		return nil, "", fmt.Errorf("fetch %s: %w", sigURL, err)
	}
	if err := verifyDet(relBody, sig); err != nil {
		return nil, "", fmt.Errorf("fetch %s: %w", relURL, err)
	}
	if sig != nil {
		if err := c.commitCached(sigPath); err != nil {
			return nil, "", err
		}
	}
	return relBody, relURL, c.commitCached(relPath)
}

// cachedRelease is fetchRelease for Offline mode.
func (c *Client) cachedRelease(prefix, base string, verifyIn func([]byte) ([]byte, error), verifyDet func(rel, sig []byte) error) ([]byte, string, error) {
	if body, err := os.ReadFile(prefix + "_InRelease"); err == nil {
		text, err := verifyIn(body)
		if err != nil {
			return nil, "", fmt.Errorf("cached %s: %w", base+"InRelease", err)
		}
		return text, base + "InRelease", nil
	}
	relBody, err := os.ReadFile(prefix + "_Release")
	if err != nil {
		return nil, "", fmt.Errorf("%sInRelease is not cached in %s; run once without offline mode", base, c.opts.CacheDir)
	}
	sig, err := os.ReadFile(prefix + "_Release.gpg")
	if err != nil {
		sig = nil
	}
	if err := verifyDet(relBody, sig); err != nil {
		return nil, "", fmt.Errorf("cached %s: %w", base+"Release", err)
	}
	return relBody, base + "Release", nil
}

// getCached fetches url with the validators stored for cachePath. A 304
// returns the cached bytes. New bytes are staged in cachePath+".new" and
// only replace the cached file when commitCached is called, i.e. after
// they were verified.
func (c *Client) getCached(ctx context.Context, url, cachePath string) ([]byte, error) {
	var cond *validators
	if v, ok := readMeta(cachePath); ok && v.URL == url {
		if _, err := os.Stat(cachePath); err == nil {
			cond = &v
		}
	}
	body, v, notModified, err := c.getSmall(ctx, url, cond)
	if err != nil {
		return nil, err
	}
	if notModified {
		b, err := os.ReadFile(cachePath)
		if err == nil {
			os.Remove(cachePath + ".new")
			return b, nil
		}
		// Cache vanished under us: fetch unconditionally.
		if body, v, _, err = c.getSmall(ctx, url, nil); err != nil {
			return nil, err
		}
	}
	if err := atomicfile.Write(cachePath+".new", body, 0o600); err != nil {
		return nil, fmt.Errorf("cache %s: %w", url, err)
	}
	if err := writeMeta(cachePath+".new", v); err != nil {
		return nil, fmt.Errorf("cache %s: %w", url, err)
	}
	return body, nil
}

// commitCached moves a staged download (see getCached) into place.
func (c *Client) commitCached(cachePath string) error {
	if _, err := os.Stat(cachePath + ".new"); err != nil {
		return nil // 304: nothing staged
	}
	// Drop the old validators first: a crash between the renames then
	// leaves content without validators (one unconditional download next
	// time), never validators that describe other content.
	os.Remove(cachePath + ".meta")
	if err := os.Rename(cachePath+".new", cachePath); err != nil {
		return fmt.Errorf("cache %s: %w", cachePath, err)
	}
	if err := os.Rename(cachePath+".new.meta", cachePath+".meta"); err != nil {
		return fmt.Errorf("cache %s: %w", cachePath, err)
	}
	return nil
}

// indexVariants is the order in which compressed Packages files are tried.
var indexVariants = []string{".xz", ".gz", ".zst", ""}

// loadPackages returns the parsed Packages index of one component/arch.
func (c *Client) loadPackages(ctx context.Context, src Source, suite, comp, arch string, rel *release, ref *RepoRef) ([]*Package, error) {
	base := distURL(src, suite)
	plainRel := comp + "/binary-" + arch + "/Packages"
	cachePath := c.listPrefix(src, suite) + "_" + comp + "_binary-" + arch + "_Packages"
	plainHash, plainListed := rel.Files[plainRel]

	// Reuse the cached plain index when the Release still lists the same
	// file it came from, and the cached bytes are intact.
	if meta, ok := readMeta(cachePath); ok {
		if fh, listed := rel.Files[meta.From]; listed && fh.SHA256 == meta.FromSHA256 && (!plainListed || plainHash.SHA256 == meta.SHA256) {
			if data, release, err := mapFile(cachePath); err == nil {
				if int64(len(data)) == meta.Size && sha256Hex(data) == meta.SHA256 {
					pkgs, err := c.parseIndex(data, arch, ref, base+meta.From)
					release()
					return pkgs, err
				}
				release()
			}
		}
	}
	var tried []string
	for _, ext := range indexVariants {
		relPath := plainRel + ext
		want, ok := rel.Files[relPath]
		if !ok {
			continue
		}
		url := base + relPath
		tried = append(tried, url)
		if c.opts.Offline {
			continue
		}
		// Bound the decompressed size before the hash is known: a hostile
		// mirror must not be able to feed us a decompression bomb.
		maxPlain := int64(4 << 30)
		if plainListed {
			maxPlain = plainHash.Size
		}
		plain, err := c.fetchIndexFile(ctx, base, relPath, ext, want, maxPlain, rel.AcquireByHash)
		if isNotFound(err) {
			continue // Debian lists the plain Packages but does not serve it
		}
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", url, err)
		}
		sum := sha256Hex(plain)
		if plainListed && (sum != plainHash.SHA256 || int64(len(plain)) != plainHash.Size) {
			return nil, fmt.Errorf("fetch %s: decompressed index does not match the Release's %s entry: %w", url, plainRel,
				&MismatchError{What: "sha256", Got: sum, Want: plainHash.SHA256})
		}
		if err := atomicfile.Write(cachePath, plain, 0o600); err != nil {
			return nil, fmt.Errorf("cache %s: %w", url, err)
		}
		if err := writeMeta(cachePath, validators{URL: url, From: relPath, FromSHA256: want.SHA256, SHA256: sum, Size: int64(len(plain))}); err != nil {
			return nil, fmt.Errorf("cache %s: %w", url, err)
		}
		return c.parseIndex(plain, arch, ref, url)
	}
	switch {
	case c.opts.Offline:
		return nil, fmt.Errorf("%s%s is not cached in %s; run once without offline mode", base, plainRel, c.opts.CacheDir)
	case len(tried) == 0:
		return nil, fmt.Errorf("%sRelease lists no %s index; check the component and architecture", base, plainRel)
	}
	return nil, fmt.Errorf("fetch %s: none of %s is on the server", base+plainRel, strings.Join(tried, ", "))
}

// fetchIndexFile downloads one index file, decompressing it while it
// streams in (xz decoding is slower than most links, so the two overlap),
// and checks the compressed bytes against want. Nothing is returned
// unless the hash matched. With byHash it asks for by-hash/SHA256/<hash>
// first (immune to the index changing mid-update) and falls back to the
// plain name.
func (c *Client) fetchIndexFile(ctx context.Context, base, relPath, ext string, want fileHash, maxPlain int64, byHash bool) ([]byte, error) {
	urls := []string{base + relPath}
	if byHash {
		urls = []string{base + path.Dir(relPath) + "/by-hash/SHA256/" + want.SHA256, base + relPath}
	}
	var lastErr error
	for _, u := range urls {
		var plain []byte
		err := c.retry(ctx, u, func() error {
			var err error
			plain, err = c.fetchDecompress(ctx, u, ext, want, maxPlain)
			return err
		})
		if err == nil {
			return plain, nil
		}
		lastErr = err
		if !isNotFound(err) {
			if u != base+relPath {
				err = fmt.Errorf("%s: %w", u, err)
			}
			return nil, err
		}
	}
	return nil, lastErr
}

func (c *Client) fetchDecompress(ctx context.Context, url, ext string, want fileHash, maxPlain int64) ([]byte, error) {
	resp, err := c.get(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil, &HTTPError{URL: url, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	h := sha256.New()
	cr := &countingReader{r: io.TeeReader(io.LimitReader(resp.Body, want.Size+1), h)}
	plain, decErr := decompressAll(ext, cr, maxPlain)
	// Hash everything the server sent, even if the decoder stopped early:
	// a mismatch must be reported as such, not as a decoding error.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return nil, err
	}
	if err := checkHash(h, cr.n, want); err != nil {
		return nil, err
	}
	if decErr != nil {
		return nil, fmt.Errorf("decompress: %w", decErr)
	}
	return plain, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

func (c *Client) parseIndex(data []byte, arch string, ref *RepoRef, url string) ([]*Package, error) {
	pkgs, err := ParsePackages(data, arch, ref)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", url, err)
	}
	return pkgs, nil
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func decompressAll(ext string, in io.Reader, max int64) ([]byte, error) {
	var r io.Reader
	switch ext {
	case "":
		r = in
	case ".xz":
		// xi2/xz, the module's one xz decoder (deb.BenchmarkXZ: about 1.3x
		// less CPU than ulikunitz/xz); 0 caps the dictionary at 64 MiB.
		xr, err := xz.NewReader(bufio.NewReaderSize(in, 1<<16), 0)
		if err != nil {
			return nil, err
		}
		r = xr
	case ".gz":
		gr, err := gzip.NewReader(in)
		if err != nil {
			return nil, err
		}
		r = gr
	case ".zst":
		zr, err := zstd.NewReader(in)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		r = zr
	default:
		return nil, errors.New("unknown compression " + ext)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(io.LimitReader(r, max+1)); err != nil {
		return nil, err
	}
	if int64(out.Len()) > max {
		return nil, fmt.Errorf("decompressed index is larger than %d bytes", max)
	}
	return out.Bytes(), nil
}
