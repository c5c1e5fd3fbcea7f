package ostree

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apt-ostree/apt-ostree/internal/workdir"
	"golang.org/x/sys/unix"
)

// RepoMode is how a repository stores content objects.
type RepoMode int

const (
	// ModeArchive stores zlib-compressed .filez objects; usable by anyone, served over HTTP.
	ModeArchive RepoMode = iota + 1
	// ModeBareUser stores plain files with ownership and xattrs in user.ostreemeta.
	ModeBareUser
	// ModeBare stores plain files with real ownership and xattrs (needs root to write).
	ModeBare
	// ModeBareUserOnly stores plain files with no metadata (read support only).
	ModeBareUserOnly
)

// String returns the value written to the repo config ("archive-z2" for ModeArchive).
func (m RepoMode) String() string {
	switch m {
	case ModeArchive:
		return "archive-z2"
	case ModeBareUser:
		return "bare-user"
	case ModeBare:
		return "bare"
	case ModeBareUserOnly:
		return "bare-user-only"
	}
	return fmt.Sprintf("RepoMode(%d)", int(m))
}

// ParseRepoMode parses a mode name as accepted by `ostree init --mode`.
func ParseRepoMode(s string) (RepoMode, error) {
	switch s {
	case "archive", "archive-z2":
		return ModeArchive, nil
	case "bare-user":
		return ModeBareUser, nil
	case "bare":
		return ModeBare, nil
	case "bare-user-only":
		return ModeBareUserOnly, nil
	}
	return 0, fmt.Errorf("unknown ostree repo mode %q (want archive, bare-user or bare)", s)
}

// ErrNotRepo is returned by Open for a directory that is not an OSTree repository.
var ErrNotRepo = errors.New("not an ostree repository")

// Repo is an open OSTree repository. It is safe for concurrent use.
type Repo struct {
	path      string
	mode      RepoMode
	zlibLevel int

	dirsMu sync.Mutex
	dirs   map[string]bool // objects/XX directories known to exist

	// staging holds the temp files of writes made outside CommitDir
	// (WriteObject, WriteContent, SetRef...), created on first use and
	// owned by this process until it exits.
	stagingMu sync.Mutex
	staging   *workdir.Dir
}

// Path returns the repository directory.
func (r *Repo) Path() string { return r.path }

// Mode returns the repository mode.
func (r *Repo) Mode() RepoMode { return r.mode }

var repoSubdirs = []string{"objects", "tmp", "extensions", "state", "refs", "refs/heads", "refs/mirrors", "refs/remotes"}

// Init creates a repository at path in the given mode, or opens it if it
// already exists in that mode. The config file is written last, so an
// interrupted Init leaves a directory that Init can complete.
func Init(ctx context.Context, path string, mode RepoMode) (*Repo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch mode {
	case ModeArchive, ModeBareUser:
	case ModeBare:
		if os.Geteuid() != 0 {
			return nil, fmt.Errorf("init ostree repo %s: mode bare needs root; use bare-user", path)
		}
	default:
		return nil, fmt.Errorf("init ostree repo %s: cannot create mode %v", path, mode)
	}
	if r, err := Open(path); err == nil {
		if r.mode != mode {
			return nil, fmt.Errorf("init ostree repo %s: already exists with mode %v, not %v", path, r.mode, mode)
		}
		return r, nil
	} else if !errors.Is(err, ErrNotRepo) {
		return nil, err
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("init ostree repo: %w", err)
	}
	for _, d := range repoSubdirs {
		if err := os.Mkdir(filepath.Join(path, d), 0o775); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("init ostree repo %s: %w", path, err)
		}
	}
	cfg := fmt.Sprintf("[core]\nrepo_version=1\nmode=%s\n", mode)
	if err := writeFileAtomic("", filepath.Join(path, "config"), []byte(cfg), 0o644); err != nil {
		return nil, fmt.Errorf("init ostree repo %s: %w", path, err)
	}
	return Open(path)
}

// Open opens an existing repository.
func Open(path string) (*Repo, error) {
	data, err := os.ReadFile(filepath.Join(path, "config"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open ostree repo %s: %w (no config file; create it with `ostree init` or Init)", path, ErrNotRepo)
	}
	if err != nil {
		return nil, fmt.Errorf("open ostree repo %s: %w", path, err)
	}
	cfg := parseKeyFile(data)
	if v := cfg["core.repo_version"]; v != "1" {
		return nil, fmt.Errorf("open ostree repo %s: unsupported repo_version %q", path, v)
	}
	mode, err := ParseRepoMode(cfg["core.mode"])
	if err != nil {
		return nil, fmt.Errorf("open ostree repo %s: %w", path, err)
	}
	r := &Repo{path: path, mode: mode, zlibLevel: 6, dirs: map[string]bool{}}
	if v, ok := cfg["archive.zlib-level"]; ok {
		l, err := strconv.Atoi(v)
		if err != nil || l < 1 || l > 9 {
			return nil, fmt.Errorf("open ostree repo %s: invalid [archive] zlib-level %q", path, v)
		}
		r.zlibLevel = l
	}
	return r, nil
}

// parseKeyFile reads a GLib key file into "group.key" → value.
func parseKeyFile(data []byte) map[string]string {
	out := map[string]string{}
	group := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#':
		case line[0] == '[' && line[len(line)-1] == ']':
			group = line[1 : len(line)-1]
		default:
			if k, v, ok := strings.Cut(line, "="); ok {
				out[group+"."+strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
		}
	}
	return out
}

// objectPath is the loose object path relative to the repo.
func (r *Repo) objectPath(t ObjectType, c Checksum) string {
	h := c.String()
	ext := t.String()
	if t == ObjectFile && r.mode == ModeArchive {
		ext = "filez"
	}
	return filepath.Join(r.path, "objects", h[:2], h[2:]+"."+ext)
}

// HasObject reports whether the object is stored in the repository.
func (r *Repo) HasObject(t ObjectType, c Checksum) (bool, error) {
	_, err := os.Lstat(r.objectPath(t, c))
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, fmt.Errorf("ostree repo %s: %w", r.path, err)
}

func (r *Repo) ensureObjDir(c Checksum) error {
	h := c.String()[:2]
	r.dirsMu.Lock()
	ok := r.dirs[h]
	r.dirsMu.Unlock()
	if ok {
		return nil
	}
	if err := os.Mkdir(filepath.Join(r.path, "objects", h), 0o775); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("ostree repo %s: %w", r.path, err)
	}
	r.dirsMu.Lock()
	r.dirs[h] = true
	r.dirsMu.Unlock()
	return nil
}

// ReadObject returns the bytes of a metadata object after checking that they
// hash to its name.
func (r *Repo) ReadObject(t ObjectType, c Checksum) ([]byte, error) {
	if t == ObjectFile {
		return nil, fmt.Errorf("ReadObject: use OpenContent for content objects")
	}
	data, err := os.ReadFile(r.objectPath(t, c))
	if err != nil {
		return nil, fmt.Errorf("read %s object %s: %w", t, c, err)
	}
	if t != ObjectCommitMeta && sha256.Sum256(data) != c {
		return nil, fmt.Errorf("read %s object %s: corrupted (checksum mismatch); run `ostree fsck`", t, c)
	}
	return data, nil
}

// WriteObject stores a metadata object (dirtree, dirmeta, commit) under
// sha256(data) unless it is already present.
func (r *Repo) WriteObject(ctx context.Context, t ObjectType, data []byte) (c Checksum, written bool, err error) {
	if t == ObjectFile || t == ObjectCommitMeta {
		return c, false, fmt.Errorf("WriteObject: %s objects are written with WriteContent/WriteCommitMeta", t)
	}
	tmpDir, err := r.sharedStaging()
	if err != nil {
		return c, false, err
	}
	return r.writeObject(ctx, tmpDir, t, data)
}

func (r *Repo) writeObject(ctx context.Context, tmpDir string, t ObjectType, data []byte) (c Checksum, written bool, err error) {
	if err := ctx.Err(); err != nil {
		return c, false, err
	}
	c = sha256.Sum256(data)
	if ok, err := r.HasObject(t, c); err != nil || ok {
		return c, false, err
	}
	if err := r.installBytes(tmpDir, t, c, data); err != nil {
		return c, false, err
	}
	return c, true, nil
}

// installBytes writes data as object (t, c) through a temp file in tmpDir
// (a staging directory, so a writer killed here leaves nothing that the
// next writer does not remove) and a rename.
func (r *Repo) installBytes(tmpDir string, t ObjectType, c Checksum, data []byte) error {
	if err := r.ensureObjDir(c); err != nil {
		return err
	}
	dest := r.objectPath(t, c)
	f, err := createTemp(tmpDir, "tmpobject-")
	if err != nil {
		return fmt.Errorf("write %s object %s: %w", t, c, err)
	}
	tmp := f.Name()
	if _, err = f.Write(data); err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dest)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s object %s into %s: %w", t, c, r.path, err)
	}
	return nil
}

// Sync flushes everything written to the repository's filesystem to disk.
func (r *Repo) Sync() error {
	f, err := os.Open(r.path)
	if err != nil {
		return fmt.Errorf("sync ostree repo: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", r.path, err)
	}
	return nil
}

// Lock takes the repository's exclusive writer lock (an OFD lock on
// <repo>/.lock, the file libostree locks too), waiting until ctx is done.
// Call the returned function to release it.
func (r *Repo) Lock(ctx context.Context) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(r.path, ".lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock ostree repo %s: %w", r.path, err)
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		err = unix.FcntlFlock(f.Fd(), unix.F_OFD_SETLK, &lk)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
			f.Close()
			return nil, fmt.Errorf("lock ostree repo %s: %w", r.path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock ostree repo %s: another writer holds %s: %w", r.path, f.Name(), ctx.Err())
		case <-time.After(delay):
		}
	}
	return func() { f.Close() }, nil
}

// writeFileAtomic writes data to path via a synced temp file in tmpDir
// (path's own directory when empty; it must be on path's filesystem).
func writeFileAtomic(tmpDir, path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if tmpDir == "" {
		tmpDir = dir
	}
	f, err := createTemp(tmpDir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err = f.Write(data); err == nil {
		if err = f.Chmod(perm); err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
