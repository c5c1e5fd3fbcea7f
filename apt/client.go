package apt

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/apt-ostree/apt-ostree/internal/atomicfile"
)

// Options configure a Client. Only CacheDir is required.
type Options struct {
	// CacheDir holds lists/ (verified indexes) and pool/ (verified .debs,
	// named by SHA256). It is created if missing and locked while in use.
	CacheDir string
	// HTTPClient defaults to a client with connect and header timeouts.
	HTTPClient *http.Client
	// Retries is how many times a failed request (network error, 5xx,
	// 429) is retried, with exponential backoff. Default 3; negative
	// means none.
	Retries int
	// RetryDelay is the first backoff delay, doubled each retry. Default
	// 500ms.
	RetryDelay time.Duration
	// IdleTimeout bounds how long a response body may go without
	// delivering a byte; a stalled transfer fails with a *StallError and
	// is retried like other transient errors. Default 30s; negative
	// means no limit.
	IdleTimeout time.Duration
	// Jobs bounds parallel downloads. Default 4 × CPUs.
	Jobs int
	// Progress receives download progress: live bars when it is a
	// terminal, nothing otherwise (the Logger gets a summary line). Nil
	// means no bars.
	Progress io.Writer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock used for Valid-Until and signature checks; default
	// time.Now.
	Now func() time.Time
	// Offline uses cached indexes without any network request. Cached
	// files are verified again (signature, dates, hashes).
	Offline bool
}

// Client loads indexes and downloads packages through a local cache.
// It is safe for concurrent use.
type Client struct {
	opts Options
	http *http.Client
	file *http.Client // file:// repositories
	log  *slog.Logger
	jobs int

	mu       sync.Mutex
	keyrings keyringCache
}

// NewClient returns a Client; it does no I/O.
func NewClient(opts Options) *Client {
	c := &Client{opts: opts, http: opts.HTTPClient, log: opts.Logger, jobs: opts.Jobs, keyrings: keyringCache{}}
	if c.http == nil {
		c.http = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
		}}
	}
	// A local repository goes through the same code as a remote one
	// (conditional requests, hashes, the pool), read by net/http's file
	// transport.
	c.file = &http.Client{Transport: http.NewFileTransport(http.Dir("/"))}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.jobs <= 0 {
		c.jobs = 4 * runtime.NumCPU()
	}
	if c.opts.Retries == 0 {
		c.opts.Retries = 3
	}
	if c.opts.IdleTimeout == 0 {
		c.opts.IdleTimeout = 30 * time.Second
	}
	if c.opts.RetryDelay <= 0 {
		c.opts.RetryDelay = 500 * time.Millisecond
	}
	if c.opts.Now == nil {
		c.opts.Now = time.Now
	}
	return c
}

// lockCache creates CacheDir and takes an exclusive flock on
// CacheDir/lock, waiting (cancellably) while another process holds it.
func (c *Client) lockCache(ctx context.Context) (unlock func(), err error) {
	if c.opts.CacheDir == "" {
		return nil, errors.New("apt: Options.CacheDir is empty")
	}
	for _, d := range []string{"lists", "pool"} {
		if err := os.MkdirAll(filepath.Join(c.opts.CacheDir, d), 0o755); err != nil {
			return nil, fmt.Errorf("create cache dir: %w", err)
		}
	}
	p := filepath.Join(c.opts.CacheDir, "lock")
	f, err := os.OpenFile(p, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock cache %s: %w", p, err)
	}
	logged := false
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock cache %s: %w", p, err)
		}
		if !logged {
			c.log.Info("waiting for another apt-ostree to release the cache lock", "lock", p)
			logged = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return func() { unix.Flock(int(f.Fd()), unix.LOCK_UN); f.Close() }, nil
}

// HTTPError is a non-success HTTP status.
type HTTPError struct {
	URL        string
	StatusCode int
	Status     string
}

func (e *HTTPError) Error() string {
	if strings.HasPrefix(e.URL, "file:") && e.StatusCode == http.StatusNotFound {
		return "no such file in the local repository"
	}
	return "HTTP " + e.Status
}

// isNotFound reports a 404/410 (a file the server does not have).
func isNotFound(err error) bool {
	var he *HTTPError
	return errors.As(err, &he) && (he.StatusCode == http.StatusNotFound || he.StatusCode == http.StatusGone)
}

// retryable reports whether a failed request may succeed if tried again.
// Timeouts are transient: net/http's header and dial timeouts match
// context.DeadlineExceeded, so that is no reason to give up. Only the
// caller's own context ending is final, and retry checks that itself.
func retryable(err error) bool {
	if err == nil {
		return false
	}
	var he *HTTPError
	if errors.As(err, &he) {
		return he.StatusCode >= 500 || he.StatusCode == http.StatusTooManyRequests || he.StatusCode == http.StatusRequestTimeout
	}
	return !errors.Is(err, ErrHashMismatch)
}

// retry runs fn until it succeeds, fails permanently, or retries run out.
func (c *Client) retry(ctx context.Context, url string, fn func() error) error {
	delay := c.opts.RetryDelay
	for attempt := 0; ; attempt++ {
		err := fn()
		if ctx.Err() != nil && err != nil {
			// The caller gave up (Ctrl-C, or a sibling download failed).
			return err
		}
		if err == nil || !retryable(err) || attempt >= c.opts.Retries {
			return err
		}
		c.log.Debug("retrying", "url", url, "attempt", attempt+1, "error", err, "delay", delay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// validators are the cache validators stored beside a cached file.
type validators struct {
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// For decompressed indexes: the Release entry of the file they were
	// decompressed from, and the hash of the cached (plain) bytes.
	From       string `json:"from,omitempty"`
	FromSHA256 string `json:"from_sha256,omitempty"`
	SHA256     string `json:"sha256,omitempty"`
	Size       int64  `json:"size,omitempty"`
}

func readMeta(path string) (validators, bool) {
	var v validators
	b, err := os.ReadFile(path + ".meta")
	if err != nil || json.Unmarshal(b, &v) != nil {
		return validators{}, false
	}
	return v, true
}

func writeMeta(path string, v validators) error {
	b, _ := json.Marshal(v)
	return atomicfile.Write(path+".meta", b, 0o600)
}

// getSmall GETs url into memory. With cond set, it sends the stored
// validators and returns notModified=true on 304.
func (c *Client) getSmall(ctx context.Context, url string, cond *validators) (body []byte, v validators, notModified bool, err error) {
	err = c.retry(ctx, url, func() error {
		hdr := http.Header{}
		if cond != nil {
			if cond.ETag != "" {
				hdr.Set("If-None-Match", cond.ETag)
			}
			if cond.LastModified != "" {
				hdr.Set("If-Modified-Since", cond.LastModified)
			}
		}
		resp, err := c.get(ctx, url, hdr)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusNotModified && cond != nil:
			notModified = true
			v = *cond
			return nil
		case resp.StatusCode != http.StatusOK:
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			return &HTTPError{URL: url, StatusCode: resp.StatusCode, Status: resp.Status}
		}
		body, err = io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		notModified = false
		v = validators{URL: url, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
		return nil
	})
	return body, v, notModified, err
}

// get sends a GET for url. The returned body fails with a *StallError
// when no byte arrives for Options.IdleTimeout; closing it releases the
// request.
func (c *Client) get(ctx context.Context, url string, hdr http.Header) (*http.Response, error) {
	rctx, cancel := context.WithCancelCause(ctx)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, url, nil)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.clientFor(url).Do(req)
	if err != nil {
		cancel(nil)
		return nil, err
	}
	resp.Body = newIdleBody(resp.Body, cancel, c.opts.IdleTimeout, resp.ContentLength)
	return resp, nil
}

func (c *Client) clientFor(url string) *http.Client {
	if strings.HasPrefix(url, "file:") {
		return c.file
	}
	return c.http
}

// StallError is a response body that delivered no byte for Idle. It is
// retried like other transient network errors.
type StallError struct {
	Idle     time.Duration
	Received int64 // bytes of the body received before it stalled
	Expected int64 // Content-Length, or -1 when the server sent none
}

func (e *StallError) Error() string {
	of := ""
	if e.Expected >= 0 {
		of = fmt.Sprintf(" of %d", e.Expected)
	}
	return fmt.Sprintf("transfer stalled: no data for %s after %d%s bytes; the mirror or the network is stuck", e.Idle, e.Received, of)
}

// idleBody fails a response body that makes no progress for idle, by
// cancelling the request's context (which unblocks a pending Read on any
// transport) and reporting a *StallError instead of the cancellation.
type idleBody struct {
	rc       io.ReadCloser
	cancel   context.CancelCauseFunc
	idle     time.Duration
	expected int64
	timer    *time.Timer // nil when idle <= 0

	mu      sync.Mutex
	n       int64
	stalled *StallError
}

func newIdleBody(rc io.ReadCloser, cancel context.CancelCauseFunc, idle time.Duration, expected int64) *idleBody {
	b := &idleBody{rc: rc, cancel: cancel, idle: idle, expected: expected}
	if idle > 0 {
		b.timer = time.AfterFunc(idle, b.fire)
		b.timer.Stop()
	}
	return b
}

func (b *idleBody) fire() {
	b.mu.Lock()
	b.stalled = &StallError{Idle: b.idle, Received: b.n, Expected: b.expected}
	err := b.stalled
	b.mu.Unlock()
	b.cancel(err)
}

// Read times only the wait inside the underlying Read, so a slow consumer
// (decompressing, writing to a slow disk) is not taken for a stalled
// server: one Read returns as soon as any byte is there.
func (b *idleBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	if b.stalled != nil {
		b.mu.Unlock()
		return 0, b.stalled
	}
	if b.timer != nil {
		b.timer.Reset(b.idle)
	}
	b.mu.Unlock()
	n, err := b.rc.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.timer != nil {
		b.timer.Stop()
	}
	b.n += int64(n)
	if b.stalled != nil {
		return n, b.stalled
	}
	return n, err
}

func (b *idleBody) Close() error {
	if b.timer != nil {
		b.timer.Stop()
	}
	err := b.rc.Close()
	b.cancel(nil)
	return err
}

// download streams url into a temp file in dir, checking size and SHA256
// as it goes, and renames it to dst only when both match. progress, if
// not nil, is called with byte counts.
func (c *Client) download(ctx context.Context, url, dst string, want fileHash, progress func(int64)) (int64, error) {
	var n int64
	err := c.retry(ctx, url, func() error {
		var err error
		n, err = c.downloadOnce(ctx, url, dst, want, progress)
		return err
	})
	return n, err
}

func (c *Client) downloadOnce(ctx context.Context, url, dst string, want fileHash, progress func(int64)) (int64, error) {
	resp, err := c.get(ctx, url, nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return 0, &HTTPError{URL: url, StatusCode: resp.StatusCode, Status: resp.Status}
	}
	f, err := os.CreateTemp(filepath.Dir(dst), ".tmp-"+filepath.Base(dst)+"-*")
	if err != nil {
		return 0, err
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	// Read one byte past the expected size so an overlong body is caught
	// without reading it all.
	var body io.Reader = io.LimitReader(resp.Body, want.Size+1)
	if progress != nil {
		body = &progressReader{r: body, fn: progress}
	}
	n, err := io.Copy(io.MultiWriter(f, h), body)
	if err != nil {
		if progress != nil {
			progress(-n)
		}
		return n, err
	}
	if err := checkHash(h, n, want); err != nil {
		return n, err
	}
	if err := f.Close(); err != nil {
		return n, err
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return n, err
	}
	ok = true
	return n, nil
}

func checkHash(h hash.Hash, n int64, want fileHash) error {
	if n != want.Size {
		return &MismatchError{What: "size", Got: fmt.Sprint(n), Want: fmt.Sprint(want.Size)}
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want.SHA256 {
		return &MismatchError{What: "sha256", Got: got, Want: want.SHA256}
	}
	return nil
}

// MismatchError is a size or SHA256 that differs from what a signed
// index promised. errors.Is(err, ErrHashMismatch) matches it.
type MismatchError struct {
	What      string // "size" or "sha256"
	Got, Want string
}

func (e *MismatchError) Error() string {
	return e.What + " mismatch: got " + e.Got + ", want " + e.Want
}

// Is makes errors.Is(err, ErrHashMismatch) true.
func (e *MismatchError) Is(target error) bool { return target == ErrHashMismatch }

type progressReader struct {
	r  io.Reader
	fn func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.fn(int64(n))
	}
	return n, err
}

// cacheKey turns an archive URL into a file name prefix, as apt does for
// /var/lib/apt/lists: scheme dropped, "/" replaced by "_".
func cacheKey(url string) string {
	u := url
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
	}
	u = strings.TrimRight(u, "/")
	return strings.NewReplacer("/", "_", "\\", "_").Replace(u)
}
