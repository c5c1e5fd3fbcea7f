package testrepo

import (
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
	xi2xz "github.com/xi2/xz"

	"github.com/apt-ostree/apt-ostree/apt"
	"github.com/apt-ostree/apt-ostree/internal/testdeb"
)

// Option configures New.
type Option func(*options)

type options struct {
	rsa    bool
	archs  []string
	prefix string
}

// WithRSA signs with a 2048-bit RSA key instead of the default Ed25519 key
// (the two kinds Debian's archive keyring holds).
func WithRSA() Option { return func(o *options) { o.rsa = true } }

// WithArchs sets the Architectures the Release file lists (default amd64).
// Packages whose Arch is "all" appear in every architecture's index.
func WithArchs(archs ...string) Option { return func(o *options) { o.archs = archs } }

// WithPrefix sets the URL path of the archive root (default "/debian").
func WithPrefix(p string) Option {
	return func(o *options) { o.prefix = "/" + strings.Trim(p, "/") }
}

// Request is one HTTP request the server saw.
type Request struct {
	Method string
	// Path is relative to URL(), e.g. "dists/trixie/InRelease".
	Path            string
	Status          int
	IfModifiedSince string
	IfNoneMatch     string
}

// Repo is a signed apt repository served over HTTP on 127.0.0.1.
//
// The exported fields are knobs read by the next Publish call; set them
// before publishing.
type Repo struct {
	// Date is the Release Date and the signature time. New sets it to the
	// current time, truncated to seconds.
	Date time.Time
	// ValidUntil, when not zero, is written as Valid-Until.
	ValidUntil time.Time
	// ByHash writes "Acquire-By-Hash: yes" and by-hash/SHA256 copies.
	ByHash bool
	// Compressions lists the Packages variants written to disk: "" (plain),
	// "gz", "xz", "zst". Default {"xz", "gz"}. The Release always lists
	// the plain Packages hash too, as Debian's archive does, whether or not
	// the plain file is served.
	Compressions []string
	// NoInRelease publishes only Release and Release.gpg.
	NoInRelease bool
	// NoSignature publishes only an unsigned Release.
	NoSignature bool
	// WrongKey signs with a fresh key that is not in KeyringPath().
	WrongKey bool
	// Origin and Label go into the Release file (default "Test").
	Origin, Label string

	t       testing.TB
	opts    options
	root    string // directory served at prefix
	srv     *httptest.Server
	key     *openpgp.Entity
	wrong   *openpgp.Entity
	keyring []byte
	keyPath string

	mu        sync.Mutex
	suites    map[string]map[string][]testdeb.Package // suite -> component -> packages
	published map[string][]*apt.Package
	log       []Request
	logGen    int // bumped by ResetRequests
	failures  []failure
}

type failure struct {
	path   string // relative path, or "*" for any
	n      int
	status int
	// stall >= 0: send the headers and the first stall bytes of the body,
	// then wait until the client gives up. holdHeaders: send nothing.
	stall       int
	holdHeaders bool
}

// New generates a signing key, writes its public keyring to a temporary
// file and starts the server. Everything is torn down by t.Cleanup.
func New(t testing.TB, opts ...Option) *Repo {
	t.Helper()
	o := options{archs: []string{"amd64"}, prefix: "/debian"}
	for _, f := range opts {
		f(&o)
	}
	r := &Repo{
		Date:         time.Now().UTC().Truncate(time.Second),
		Compressions: []string{"xz", "gz"},
		Origin:       "Test",
		Label:        "Test",
		t:            t,
		opts:         o,
		root:         t.TempDir(),
		suites:       map[string]map[string][]testdeb.Package{},
		published:    map[string][]*apt.Package{},
	}
	var err error
	if r.key, err = newKey("apt-ostree test archive", o.rsa); err != nil {
		t.Fatalf("testrepo: generate key: %v", err)
	}
	var kr bytes.Buffer
	if err := r.key.Serialize(&kr); err != nil {
		t.Fatalf("testrepo: serialize key: %v", err)
	}
	r.keyring = kr.Bytes()
	r.keyPath = filepath.Join(t.TempDir(), "test-archive-keyring.gpg")
	if err := os.WriteFile(r.keyPath, r.keyring, 0o644); err != nil {
		t.Fatal(err)
	}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// keyEpoch is the creation time of generated keys: well before any Date a
// test might choose, so signatures are never older than their key.
var keyEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func newKey(name string, useRSA bool) (*openpgp.Entity, error) {
	cfg := &packet.Config{Time: func() time.Time { return keyEpoch }}
	if useRSA {
		cfg.Algorithm = packet.PubKeyAlgoRSA
		cfg.RSABits = 2048
	} else {
		cfg.Algorithm = packet.PubKeyAlgoEdDSA
		cfg.Curve = packet.Curve25519
	}
	return openpgp.NewEntity(name, "", "archive@test.invalid", cfg)
}

// URL is the archive root, e.g. "http://127.0.0.1:PORT/debian" (no trailing
// slash).
func (r *Repo) URL() string { return r.srv.URL + r.opts.prefix }

// FileURL is the archive root as a file:// URL: the directory Publish
// writes to, for clients that read a local repository in place.
func (r *Repo) FileURL() string { return "file://" + filepath.ToSlash(r.root) }

// KeyringPath is a binary OpenPGP keyring file holding the public key that
// signs the repository, like the files under /usr/share/keyrings.
func (r *Repo) KeyringPath() string { return r.keyPath }

// Keyring returns the binary keyring bytes (the contents of KeyringPath).
func (r *Repo) Keyring() []byte { return bytes.Clone(r.keyring) }

// ArmoredKey returns the public key as an ASCII-armored block.
func (r *Repo) ArmoredKey() string {
	var b bytes.Buffer
	w, err := armor.Encode(&b, openpgp.PublicKeyType, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	w.Write(r.keyring)
	w.Close()
	return b.String()
}

// Fingerprint returns the signing key's fingerprint in upper-case hex.
func (r *Repo) Fingerprint() string {
	return strings.ToUpper(hex.EncodeToString(r.key.PrimaryKey.Fingerprint))
}

// Add queues packages for suite/component; Publish writes them.
func (r *Repo) Add(suite, component string, pkgs ...testdeb.Package) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.suites[suite] == nil {
		r.suites[suite] = map[string][]testdeb.Package{}
	}
	r.suites[suite][component] = append(r.suites[suite][component], pkgs...)
}

// Publish writes the pool, the Packages indexes, Release, InRelease and
// Release.gpg for every suite, according to the knobs. Files whose content
// does not change keep their modification time, so conditional requests
// after a re-publish get 304. It fails the test on error.
func (r *Repo) Publish() {
	r.t.Helper()
	if err := r.publish(); err != nil {
		r.t.Fatalf("testrepo: publish: %v", err)
	}
}

func (r *Repo) publish() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	suites := sortedKeys(r.suites)
	for _, suite := range suites {
		if err := r.publishSuite(suite); err != nil {
			return fmt.Errorf("suite %s: %w", suite, err)
		}
	}
	return nil
}

type indexFile struct {
	rel    string // relative to dists/<suite>
	data   []byte
	onDisk bool
}

func (r *Repo) publishSuite(suite string) error {
	comps := sortedKeys(r.suites[suite])
	var files []indexFile
	var published []*apt.Package
	ref := map[string]*apt.RepoRef{}
	date := r.Date.UTC().Format(time.RFC1123)
	for _, comp := range comps {
		ref[comp] = &apt.RepoRef{URL: r.URL(), Suite: suite, Component: comp, Date: date}
		perArch := map[string]*bytes.Buffer{}
		for _, a := range r.opts.archs {
			perArch[a] = &bytes.Buffer{}
		}
		for _, p := range r.suites[suite][comp] {
			stanza, pkg, err := r.writeDeb(comp, p)
			if err != nil {
				return err
			}
			pkg.Repo = ref[comp]
			published = append(published, pkg)
			for _, a := range r.opts.archs {
				if pkg.Architecture == a || pkg.Architecture == "all" {
					if perArch[a].Len() > 0 {
						perArch[a].WriteByte('\n')
					}
					perArch[a].WriteString(stanza)
				}
			}
		}
		for _, a := range r.opts.archs {
			base := comp + "/binary-" + a + "/Packages"
			plain := perArch[a].Bytes()
			files = append(files, indexFile{rel: base, data: plain, onDisk: contains(r.Compressions, "")})
			for _, c := range r.Compressions {
				if c == "" {
					continue
				}
				z, err := Compress(c, plain)
				if err != nil {
					return err
				}
				files = append(files, indexFile{rel: base + "." + c, data: z, onDisk: true})
			}
		}
	}
	r.published[suite] = published

	release := r.releaseText(suite, comps, files)
	dist := filepath.Join(r.root, "dists", suite)
	if r.NoSignature || r.NoInRelease {
		os.Remove(filepath.Join(dist, "InRelease"))
	}
	if r.NoSignature {
		os.Remove(filepath.Join(dist, "Release.gpg"))
	}
	for _, f := range files {
		if !f.onDisk {
			os.Remove(filepath.Join(dist, filepath.FromSlash(f.rel)))
			continue
		}
		if err := writeIfChanged(filepath.Join(dist, filepath.FromSlash(f.rel)), f.data); err != nil {
			return err
		}
		if r.ByHash {
			sum := sha256.Sum256(f.data)
			bh := path.Join(path.Dir(f.rel), "by-hash", "SHA256", hex.EncodeToString(sum[:]))
			if err := writeIfChanged(filepath.Join(dist, filepath.FromSlash(bh)), f.data); err != nil {
				return err
			}
		}
	}
	if err := writeIfChanged(filepath.Join(dist, "Release"), release); err != nil {
		return err
	}
	if r.NoSignature {
		return nil
	}
	signer := r.key
	if r.WrongKey {
		if r.wrong == nil {
			var err error
			if r.wrong, err = newKey("some other archive", r.opts.rsa); err != nil {
				return err
			}
		}
		signer = r.wrong
	}
	// Deterministic signatures: re-publishing unchanged content must give
	// identical files so conditional requests still get 304.
	nonDeterministic := false
	cfg := &packet.Config{Time: func() time.Time { return r.Date }, DefaultHash: crypto.SHA512,
		NonDeterministicSignaturesViaNotation: &nonDeterministic}
	var detached bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&detached, signer, bytes.NewReader(release), cfg); err != nil {
		return fmt.Errorf("sign Release: %w", err)
	}
	if err := writeIfChanged(filepath.Join(dist, "Release.gpg"), detached.Bytes()); err != nil {
		return err
	}
	if r.NoInRelease {
		return nil
	}
	var inrel bytes.Buffer
	w, err := clearsign.Encode(&inrel, signer.PrivateKey, cfg)
	if err != nil {
		return fmt.Errorf("clearsign InRelease: %w", err)
	}
	if _, err := w.Write(release); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return writeIfChanged(filepath.Join(dist, "InRelease"), inrel.Bytes())
}

func (r *Repo) releaseText(suite string, comps []string, files []indexFile) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Origin: %s\nLabel: %s\nSuite: %s\nCodename: %s\n", r.Origin, r.Label, suite, suite)
	fmt.Fprintf(&b, "Date: %s\n", r.Date.UTC().Format(time.RFC1123))
	if !r.ValidUntil.IsZero() {
		fmt.Fprintf(&b, "Valid-Until: %s\n", r.ValidUntil.UTC().Format(time.RFC1123))
	}
	if r.ByHash {
		b.WriteString("Acquire-By-Hash: yes\n")
	}
	fmt.Fprintf(&b, "Architectures: %s\nComponents: %s\nDescription: apt-ostree test repository\n",
		strings.Join(r.opts.archs, " "), strings.Join(comps, " "))
	b.WriteString("MD5Sum:\n")
	for _, f := range files {
		fmt.Fprintf(&b, " %x %8d %s\n", md5.Sum(f.data), len(f.data), f.rel)
	}
	b.WriteString("SHA256:\n")
	for _, f := range files {
		fmt.Fprintf(&b, " %x %8d %s\n", sha256.Sum256(f.data), len(f.data), f.rel)
	}
	return b.Bytes()
}

// writeDeb builds p into the pool and returns its Packages stanza and the
// record a correct parser must produce for it.
func (r *Repo) writeDeb(comp string, p testdeb.Package) (string, *apt.Package, error) {
	deb, err := testdeb.Build(p)
	if err != nil {
		return "", nil, err
	}
	if p.Version == "" {
		p.Version = "1.0"
	}
	if p.Arch == "" {
		p.Arch = "amd64"
	}
	src := p.Fields["Source"]
	srcName := src
	if i := strings.IndexByte(srcName, ' '); i >= 0 {
		srcName = srcName[:i]
	}
	dirName := srcName
	if dirName == "" {
		dirName = p.Name
	}
	prefix := dirName[:1]
	if strings.HasPrefix(dirName, "lib") && len(dirName) > 3 {
		prefix = dirName[:4]
	}
	filename := path.Join("pool", comp, prefix, dirName, p.Filename())
	if err := writeIfChanged(filepath.Join(r.root, filepath.FromSlash(filename)), deb); err != nil {
		return "", nil, err
	}
	var installed int64
	for _, f := range p.Files {
		installed += int64(len(f.Body))
	}
	installed = (installed+1023)/1024 + 1
	if s, ok := p.Fields["Installed-Size"]; ok {
		installed, _ = strconv.ParseInt(s, 10, 64)
	}
	sum := sha256.Sum256(deb)
	var b strings.Builder
	b.WriteString(strings.TrimRight(p.Control(), "\n"))
	b.WriteByte('\n')
	if _, ok := p.Fields["Installed-Size"]; !ok {
		fmt.Fprintf(&b, "Installed-Size: %d\n", installed)
	}
	fmt.Fprintf(&b, "Filename: %s\nSize: %d\nMD5sum: %x\nSHA256: %x\n", filename, len(deb), md5.Sum(deb), sum)
	pkg := &apt.Package{
		Name:          p.Name,
		Version:       p.Version,
		Architecture:  p.Arch,
		MultiArch:     p.Fields["Multi-Arch"],
		Essential:     p.Fields["Essential"] == "yes",
		Priority:      p.Fields["Priority"],
		Section:       p.Fields["Section"],
		Source:        srcName,
		Depends:       p.Fields["Depends"],
		PreDepends:    p.Fields["Pre-Depends"],
		Recommends:    p.Fields["Recommends"],
		Suggests:      p.Fields["Suggests"],
		Conflicts:     p.Fields["Conflicts"],
		Breaks:        p.Fields["Breaks"],
		Provides:      p.Fields["Provides"],
		Replaces:      p.Fields["Replaces"],
		Filename:      filename,
		Size:          int64(len(deb)),
		InstalledSize: installed,
		SHA256:        hex.EncodeToString(sum[:]),
	}
	return b.String(), pkg, nil
}

// Packages returns the records of every package published in suite (all
// components and architectures, in the order added), as a correct index
// parser would produce them. Call after Publish.
func (r *Repo) Packages(suite string) []*apt.Package {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*apt.Package(nil), r.published[suite]...)
}

// Path returns the local file behind rel (a path relative to URL()).
func (r *Repo) Path(rel string) string {
	return filepath.Join(r.root, filepath.FromSlash(path.Clean("/"+rel)))
}

// Tamper replaces the served file rel (relative to URL(), e.g.
// "dists/trixie/InRelease") with fn(old). The modification time moves
// forward so caches see a change.
func (r *Repo) Tamper(rel string, fn func([]byte) []byte) {
	r.t.Helper()
	p := r.Path(rel)
	old, err := os.ReadFile(p)
	if err != nil {
		r.t.Fatalf("testrepo: tamper: %v", err)
	}
	if err := os.WriteFile(p, fn(old), 0o644); err != nil {
		r.t.Fatalf("testrepo: tamper: %v", err)
	}
	later := time.Now().Add(2 * time.Second)
	os.Chtimes(p, later, later)
}

// TamperInRelease changes one signed byte of suite's InRelease (the Label
// value), leaving the signature as it was.
func (r *Repo) TamperInRelease(suite string) {
	r.t.Helper()
	r.Tamper("dists/"+suite+"/InRelease", func(b []byte) []byte {
		return bytes.Replace(b, []byte("\nLabel: "), []byte("\nLabel: X"), 1)
	})
}

// TamperPackages appends a stanza to every served variant of suite's
// component/arch Packages index (re-compressed, so it still decodes), after
// the Release file recorded the old hashes.
func (r *Repo) TamperPackages(suite, component, arch string) {
	r.t.Helper()
	extra := []byte("\nPackage: evil\nVersion: 1\nArchitecture: " + arch + "\nFilename: pool/evil.deb\nSize: 1\nSHA256: 00\n")
	base := "dists/" + suite + "/" + component + "/binary-" + arch + "/Packages"
	plain, err := r.readPlain(base)
	if err != nil {
		r.t.Fatalf("testrepo: tamper: %v", err)
	}
	plain = append(plain, extra...)
	for _, c := range append([]string{""}, r.Compressions...) {
		rel := base
		if c != "" {
			rel += "." + c
		}
		if _, err := os.Stat(r.Path(rel)); err != nil {
			continue
		}
		z, err := Compress(c, plain)
		if err != nil {
			r.t.Fatal(err)
		}
		r.Tamper(rel, func([]byte) []byte { return z })
	}
	// by-hash copies are named by their old hash; replace their bodies too.
	bh := r.Path(path.Join(path.Dir(base), "by-hash", "SHA256"))
	entries, _ := os.ReadDir(bh)
	for _, e := range entries {
		os.WriteFile(filepath.Join(bh, e.Name()), append([]byte("tampered "), e.Name()...), 0o644)
	}
}

func (r *Repo) readPlain(base string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Rebuild from the published records is not possible byte-for-byte, so
	// decode whichever variant is on disk.
	for _, c := range append([]string{""}, r.Compressions...) {
		rel := base
		if c != "" {
			rel += "." + c
		}
		b, err := os.ReadFile(r.Path(rel))
		if err != nil {
			continue
		}
		return Decompress(c, b)
	}
	return nil, fmt.Errorf("no variant of %s on disk", base)
}

// FailNext makes the next n requests for rel (relative to URL(), or "*" for
// any path) answer with status instead of the file.
func (r *Repo) FailNext(rel string, n, status int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, failure{path: rel, n: n, status: status, stall: -1})
}

// StallNext makes the next n requests for rel (or "*") send the response
// headers (with the full Content-Length) and the first after bytes of the
// body, then send nothing more until the client closes the connection:
// a mirror stuck mid-transfer.
func (r *Repo) StallNext(rel string, n, after int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, failure{path: rel, n: n, stall: after})
}

// HoldHeadersNext makes the next n requests for rel (or "*") get no
// response at all until the client closes the connection: a server that
// accepts the connection and never answers.
func (r *Repo) HoldHeadersNext(rel string, n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, failure{path: rel, n: n, stall: -1, holdHeaders: true})
}

// Requests returns every request served so far, in order.
func (r *Repo) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.log...)
}

// Count returns how many requests for rel were served (any status).
func (r *Repo) Count(rel string) int {
	n := 0
	for _, q := range r.Requests() {
		if q.Path == rel {
			n++
		}
	}
	return n
}

// ResetRequests forgets the request log.
func (r *Repo) ResetRequests() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = nil
	r.logGen++
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the Flusher.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (r *Repo) serve(w http.ResponseWriter, req *http.Request) {
	sw := &statusWriter{ResponseWriter: w}
	rel, ok := strings.CutPrefix(req.URL.Path, r.opts.prefix+"/")
	// Logged on arrival (a stalled request is counted while it hangs),
	// its status filled in when it is answered.
	r.mu.Lock()
	r.log = append(r.log, Request{
		Method: req.Method, Path: rel,
		IfModifiedSince: req.Header.Get("If-Modified-Since"),
		IfNoneMatch:     req.Header.Get("If-None-Match"),
	})
	entry := len(r.log) - 1
	gen := r.logGen
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		if r.logGen == gen {
			r.log[entry].Status = sw.status
		}
		r.mu.Unlock()
	}()
	if !ok {
		http.NotFound(sw, req)
		return
	}
	f := r.takeFailure(rel)
	switch {
	case f.holdHeaders:
		<-req.Context().Done()
		return
	case f.status != 0:
		http.Error(sw, "injected failure", f.status)
		return
	}
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.Error(sw, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.Path(rel)
	st, err := os.Stat(p)
	if err != nil || st.IsDir() {
		http.NotFound(sw, req)
		return
	}
	data, err := os.ReadFile(p)
	if err != nil {
		http.Error(sw, err.Error(), http.StatusInternalServerError)
		return
	}
	sum := sha256.Sum256(data)
	sw.Header().Set("ETag", `"`+hex.EncodeToString(sum[:8])+`"`)
	if f.stall >= 0 {
		sw.Header().Set("Content-Length", strconv.Itoa(len(data)))
		sw.WriteHeader(http.StatusOK)
		sw.Write(data[:min(f.stall, len(data))])
		http.NewResponseController(sw).Flush()
		<-req.Context().Done()
		return
	}
	http.ServeContent(sw, req, path.Base(p), st.ModTime(), bytes.NewReader(data))
}

func (r *Repo) takeFailure(rel string) failure {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.failures {
		f := &r.failures[i]
		if f.n > 0 && (f.path == "*" || f.path == rel) {
			f.n--
			return *f
		}
	}
	return failure{stall: -1}
}

// Compress encodes b as kind: "" (none), "gz", "xz" or "zst".
func Compress(kind string, b []byte) ([]byte, error) {
	var out bytes.Buffer
	switch kind {
	case "":
		return bytes.Clone(b), nil
	case "gz":
		w := gzip.NewWriter(&out)
		w.Write(b)
		if err := w.Close(); err != nil {
			return nil, err
		}
	case "xz":
		w, err := xz.NewWriter(&out)
		if err != nil {
			return nil, err
		}
		w.Write(b)
		if err := w.Close(); err != nil {
			return nil, err
		}
	case "zst":
		w, err := zstd.NewWriter(&out)
		if err != nil {
			return nil, err
		}
		w.Write(b)
		if err := w.Close(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("testrepo: unknown compression %q", kind)
	}
	return out.Bytes(), nil
}

// Decompress reverses Compress.
func Decompress(kind string, b []byte) ([]byte, error) {
	var out bytes.Buffer
	switch kind {
	case "":
		return bytes.Clone(b), nil
	case "gz":
		r, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		_, err = out.ReadFrom(r)
		return out.Bytes(), err
	case "xz":
		r, err := xi2xz.NewReader(bytes.NewReader(b), 0)
		if err != nil {
			return nil, err
		}
		_, err = out.ReadFrom(r)
		return out.Bytes(), err
	case "zst":
		r, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		defer r.Close()
		_, err = out.ReadFrom(r)
		return out.Bytes(), err
	}
	return nil, fmt.Errorf("testrepo: unknown compression %q", kind)
}

func writeIfChanged(p string, data []byte) error {
	if old, err := os.ReadFile(p); err == nil && bytes.Equal(old, data) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
