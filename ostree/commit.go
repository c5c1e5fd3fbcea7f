package ostree

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// CommitOptions control CommitDir.
type CommitOptions struct {
	// Ref is the branch the commit is for: its current value is the default
	// parent, and it is updated when WriteRef is set.
	Ref string
	// WriteRef points Ref at the new commit (last, atomically).
	WriteRef bool
	// Parent is a rev (checksum or ref) to use as parent instead of Ref's value.
	Parent string
	// NoParent makes a commit without parent.
	NoParent bool
	// ExpectRef makes the ref update a compare-and-swap: under the writer
	// lock, when CommitDir starts and again just before it moves Ref, Ref
	// must still point at ExpectedRef (nil: Ref must not exist), or
	// CommitDir fails with a *RefMovedError and leaves Ref alone. Set it
	// when the tree was built from Ref's commit, so that a concurrent
	// writer's commit is never dropped from the history.
	ExpectRef   bool
	ExpectedRef *Checksum

	Subject, Body string
	// Timestamp is the commit time; the zero value means now. Set it for
	// reproducible commits.
	Timestamp time.Time
	// Metadata is the commit metadata; see MetadataVariant for value types.
	// Keys are stored sorted.
	Metadata map[string]any
	// DetachedMetadata is stored in the .commitmeta object when non-empty.
	DetachedMetadata map[string]any

	// OwnerUID and OwnerGID replace every file's and directory's owner when
	// >= 0. Use -1 to keep the owners found on disk (0 means root!).
	OwnerUID, OwnerGID int

	// Jobs bounds how many files are hashed and compressed at once;
	// 0 means runtime.NumCPU().
	Jobs int
}

// CommitStats counts what CommitDir did.
type CommitStats struct {
	MetadataObjectsTotal   int64 `json:"metadata_objects_total"`
	MetadataObjectsWritten int64 `json:"metadata_objects_written"`
	ContentObjectsTotal    int64 `json:"content_objects_total"`
	ContentObjectsWritten  int64 `json:"content_objects_written"`
	// ContentBytesWritten is the uncompressed size of the content objects written.
	ContentBytesWritten int64 `json:"content_bytes_written"`
}

// smallFile is the size up to which a file is read into memory once, hashed,
// and only compressed when its object is missing.
const smallFile = 1 << 20

var smallBufPool = sync.Pool{New: func() any { b := make([]byte, smallFile); return &b }}

type dirNode struct {
	path  string
	meta  DirMeta
	files []fileEntry
	dirs  []dirEntry
}

type fileEntry struct {
	name string
	res  *fileResult
}

type dirEntry struct {
	name string
	node *dirNode
}

type fileResult struct{ c Checksum }

type devIno struct{ dev, ino uint64 }

type committer struct {
	r      *Repo
	opts   *CommitOptions
	tmpDir string
	g      *errgroup.Group
	ctx    context.Context
	inodes map[devIno]*fileResult
	metas  map[Checksum]bool

	contentTotal, contentWritten, contentBytes atomic.Int64
	metaTotal, metaWritten                     int64
}

// CommitDir commits the directory tree at dir with the ownership, modes and
// xattrs found on disk and returns the new commit's checksum. It holds the
// repository's writer lock throughout; objects are synced to disk before
// the commit object is written, and the ref is updated last.
func (r *Repo) CommitDir(ctx context.Context, dir string, opts CommitOptions) (Checksum, CommitStats, error) {
	var stats CommitStats
	if err := checkCommitTimestamp(opts.Timestamp); err != nil {
		return Checksum{}, stats, err
	}
	if opts.Ref != "" {
		if err := ValidateRef(opts.Ref); err != nil {
			return Checksum{}, stats, err
		}
	} else if opts.WriteRef {
		return Checksum{}, stats, errors.New("commit: WriteRef needs a Ref")
	}
	if opts.ExpectRef && (opts.Ref == "" || !opts.WriteRef) {
		return Checksum{}, stats, errors.New("commit: ExpectRef needs Ref and WriteRef")
	}
	unlock, err := r.Lock(ctx)
	if err != nil {
		return Checksum{}, stats, err
	}
	defer unlock()
	if err := r.checkRef(&opts); err != nil {
		return Checksum{}, stats, err
	}

	parent, err := r.commitParent(&opts)
	if err != nil {
		return Checksum{}, stats, err
	}
	// Only this writer holds the lock, so temp files loose in tmp/ are
	// an older version's leftovers.
	r.removeLooseTemp()
	staging, err := r.newStagingDir()
	if err != nil {
		return Checksum{}, stats, err
	}
	defer staging.Remove()
	tmpDir := staging.Path()

	start := time.Now()
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(wctx)
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	g.SetLimit(jobs)
	cm := &committer{r: r, opts: &opts, tmpDir: tmpDir, g: g, ctx: gctx, inodes: map[devIno]*fileResult{}, metas: map[Checksum]bool{}}
	root, walkErr := cm.walk(dir)
	if walkErr != nil {
		cancel()
	}
	jobErr := g.Wait()
	if walkErr != nil {
		return Checksum{}, stats, fmt.Errorf("commit %s: %w", dir, walkErr)
	}
	if jobErr != nil {
		return Checksum{}, stats, fmt.Errorf("commit %s: %w", dir, jobErr)
	}
	if err := ctx.Err(); err != nil {
		return Checksum{}, stats, err
	}
	tree, meta, err := cm.writeTree(ctx, root)
	if err != nil {
		return Checksum{}, stats, fmt.Errorf("commit %s: %w", dir, err)
	}
	stats = CommitStats{
		MetadataObjectsTotal: cm.metaTotal, MetadataObjectsWritten: cm.metaWritten,
		ContentObjectsTotal: cm.contentTotal.Load(), ContentObjectsWritten: cm.contentWritten.Load(),
		ContentBytesWritten: cm.contentBytes.Load(),
	}
	// Objects must be on disk before anything refers to them.
	if err := r.Sync(); err != nil {
		return Checksum{}, stats, err
	}
	ts := opts.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	c := &Commit{Metadata: opts.Metadata, Parent: parent, Subject: opts.Subject, Body: opts.Body, Timestamp: ts, RootTree: tree, RootMeta: meta}
	csum, err := r.writeCommit(ctx, tmpDir, c, opts.DetachedMetadata)
	if err != nil {
		return Checksum{}, stats, err
	}
	stats.MetadataObjectsTotal++
	stats.MetadataObjectsWritten++
	if opts.WriteRef {
		if err := r.checkRef(&opts); err != nil {
			return Checksum{}, stats, err
		}
		if err := r.setRef(ctx, tmpDir, opts.Ref, csum); err != nil {
			return Checksum{}, stats, err
		}
	}
	slog.Debug("ostree commit", "repo", r.path, "dir", dir, "commit", csum.String(), "ref", opts.Ref,
		"content_written", stats.ContentObjectsWritten, "content_total", stats.ContentObjectsTotal, "elapsed", time.Since(start))
	return csum, stats, nil
}

// RefMovedError is CommitDir's error when CommitOptions.ExpectRef is set
// and the ref no longer points where the caller expected.
type RefMovedError struct {
	Ref string
	// Expected and Found are nil for "no such ref".
	Expected, Found *Checksum
}

func (e *RefMovedError) Error() string {
	switch {
	case e.Found == nil:
		return fmt.Sprintf("ref %q moved: it no longer exists (expected %s)", e.Ref, e.Expected)
	case e.Expected == nil:
		return fmt.Sprintf("ref %q moved: it now points at %s (expected no ref)", e.Ref, e.Found)
	}
	return fmt.Sprintf("ref %q moved: it now points at %s (expected %s)", e.Ref, e.Found, e.Expected)
}

// checkRef enforces opts.ExpectRef; the caller holds the writer lock.
func (r *Repo) checkRef(opts *CommitOptions) error {
	if !opts.ExpectRef {
		return nil
	}
	var found *Checksum
	c, err := r.ReadRef(opts.Ref)
	switch {
	case err == nil:
		found = &c
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if (found == nil) != (opts.ExpectedRef == nil) || found != nil && *found != *opts.ExpectedRef {
		return &RefMovedError{Ref: opts.Ref, Expected: opts.ExpectedRef, Found: found}
	}
	return nil
}

func (r *Repo) commitParent(opts *CommitOptions) (*Checksum, error) {
	switch {
	case opts.NoParent:
		return nil, nil
	case opts.Parent != "":
		p, err := r.ResolveRev(opts.Parent)
		if err != nil {
			return nil, fmt.Errorf("commit parent: %w", err)
		}
		return &p, nil
	case opts.Ref != "":
		p, err := r.ReadRef(opts.Ref)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return &p, nil
	}
	return nil, nil
}

func (cm *committer) owner(uid, gid uint32) (uint32, uint32) {
	if cm.opts.OwnerUID >= 0 {
		uid = uint32(cm.opts.OwnerUID)
	}
	if cm.opts.OwnerGID >= 0 {
		gid = uint32(cm.opts.OwnerGID)
	}
	return uid, gid
}

// walk reads the directory tree and schedules a job per distinct inode. It
// returns early (with a nil error) when a job failed; g.Wait reports that.
func (cm *committer) walk(path string) (*dirNode, error) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil, fmt.Errorf("%s: not a directory", path)
	}
	x, err := readXattrs(path)
	if err != nil {
		return nil, err
	}
	uid, gid := cm.owner(st.Uid, st.Gid)
	n := &dirNode{path: path, meta: DirMeta{UID: uid, GID: gid, Mode: st.Mode & (modeTypeMask | 0o7777), Xattrs: x}}
	d, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", path, err)
	}
	slices.Sort(names)
	for _, name := range names {
		if cm.ctx.Err() != nil {
			return n, nil
		}
		p := filepath.Join(path, name)
		if err := ValidateName(name); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		var cst unix.Stat_t
		if err := unix.Lstat(p, &cst); err != nil {
			return nil, &fs.PathError{Op: "lstat", Path: p, Err: err}
		}
		switch cst.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			child, err := cm.walk(p)
			if err != nil {
				return nil, err
			}
			n.dirs = append(n.dirs, dirEntry{name: name, node: child})
		case unix.S_IFREG, unix.S_IFLNK:
			key := devIno{cst.Dev, cst.Ino}
			res := cm.inodes[key]
			if res == nil {
				res = &fileResult{}
				if cst.Nlink > 1 {
					cm.inodes[key] = res
				}
				cm.g.Go(func() error { return cm.storeFile(p, &cst, res) })
			}
			n.files = append(n.files, fileEntry{name: name, res: res})
		default:
			return nil, fmt.Errorf("%s: unsupported file type %s: ostree stores only regular files, symlinks and directories; remove it or create it at boot (tmpfiles.d)", p, fileTypeName(cst.Mode))
		}
	}
	return n, nil
}

func fileTypeName(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFCHR:
		return "character device"
	case unix.S_IFBLK:
		return "block device"
	case unix.S_IFIFO:
		return "fifo"
	case unix.S_IFSOCK:
		return "socket"
	}
	return fmt.Sprintf("%#o", mode&unix.S_IFMT)
}

// storeFile hashes one file or symlink and writes its object if missing.
func (cm *committer) storeFile(path string, st *unix.Stat_t, res *fileResult) error {
	x, err := readXattrs(path)
	if err != nil {
		return err
	}
	uid, gid := cm.owner(st.Uid, st.Gid)
	h := &FileHeader{UID: uid, GID: gid, Mode: st.Mode & (modeTypeMask | 0o7777), Xattrs: x}
	var c Checksum
	var written bool
	if h.IsSymlink() {
		h.Mode = modeSymlink | 0o777
		if h.SymlinkTarget, err = os.Readlink(path); err != nil {
			return err
		}
		c, written, err = cm.r.writeContent(cm.ctx, cm.tmpDir, h, nil, nil)
	} else {
		c, written, err = cm.storeRegular(path, st, h)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	res.c = c
	cm.contentTotal.Add(1)
	if written {
		cm.contentWritten.Add(1)
		cm.contentBytes.Add(int64(h.Size))
	}
	return nil
}

func (cm *committer) storeRegular(path string, st *unix.Stat_t, h *FileHeader) (Checksum, bool, error) {
	f, err := openNoatime(path)
	if err != nil {
		return Checksum{}, false, err
	}
	defer f.Close()
	var fst unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &fst); err != nil {
		return Checksum{}, false, err
	}
	if fst.Ino != st.Ino || fst.Dev != st.Dev || fst.Mode&unix.S_IFMT != unix.S_IFREG {
		return Checksum{}, false, errFileChanged
	}
	h.Size = uint64(fst.Size)
	if h.Size > smallFile {
		return cm.r.writeContent(cm.ctx, cm.tmpDir, h, f, nil)
	}
	bp := smallBufPool.Get().(*[]byte)
	defer smallBufPool.Put(bp)
	buf := (*bp)[:h.Size]
	if _, err := io.ReadFull(f, buf); err != nil {
		return Checksum{}, false, fmt.Errorf("%w: %w", errFileChanged, err)
	}
	if err := expectEOF(f); err != nil {
		return Checksum{}, false, err
	}
	hdr, err := h.checksumHeader()
	if err != nil {
		return Checksum{}, false, err
	}
	sh := sha256.New()
	sh.Write(hdr)
	sh.Write(buf)
	var c Checksum
	sh.Sum(c[:0])
	return cm.r.writeContent(cm.ctx, cm.tmpDir, h, bytes.NewReader(buf), &c)
}

func openNoatime(path string) (*os.File, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NOATIME, 0)
	if err == unix.EPERM {
		fd, err = unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// writeTree writes the dirtree and dirmeta objects bottom-up.
func (cm *committer) writeTree(ctx context.Context, n *dirNode) (tree, meta Checksum, err error) {
	var t DirTree
	for _, f := range n.files {
		t.Files = append(t.Files, DirTreeFile{Name: f.name, Checksum: f.res.c})
	}
	for _, d := range n.dirs {
		ct, cmeta, err := cm.writeTree(ctx, d.node)
		if err != nil {
			return tree, meta, err
		}
		t.Dirs = append(t.Dirs, DirTreeDir{Name: d.name, TreeChecksum: ct, MetaChecksum: cmeta})
	}
	mb, err := n.meta.MarshalBinary()
	if err != nil {
		return tree, meta, fmt.Errorf("%s: %w", n.path, err)
	}
	if meta, err = cm.writeMeta(ctx, ObjectDirMeta, mb); err != nil {
		return tree, meta, err
	}
	tb, err := t.MarshalBinary()
	if err != nil {
		return tree, meta, fmt.Errorf("%s: %w", n.path, err)
	}
	tree, err = cm.writeMeta(ctx, ObjectDirTree, tb)
	return tree, meta, err
}

func (cm *committer) writeMeta(ctx context.Context, t ObjectType, data []byte) (Checksum, error) {
	c := sha256.Sum256(data)
	cm.metaTotal++
	if cm.metas[c] {
		return c, nil
	}
	c, written, err := cm.r.writeObject(ctx, cm.tmpDir, t, data)
	if err != nil {
		return c, err
	}
	cm.metas[c] = true
	if written {
		cm.metaWritten++
	}
	return c, nil
}

// WriteCommit stores a commit object whose trees are already in the repo
// and returns its checksum. It does not update any ref.
func (r *Repo) WriteCommit(ctx context.Context, c *Commit) (Checksum, error) {
	tmpDir, err := r.sharedStaging()
	if err != nil {
		return Checksum{}, err
	}
	return r.writeCommit(ctx, tmpDir, c, nil)
}

func (r *Repo) writeCommit(ctx context.Context, tmpDir string, c *Commit, detached map[string]any) (Checksum, error) {
	data, err := c.MarshalBinary()
	if err != nil {
		return Checksum{}, err
	}
	csum := Checksum(sha256.Sum256(data))
	if len(detached) > 0 {
		if err := r.writeCommitMeta(ctx, tmpDir, csum, detached); err != nil {
			return csum, err
		}
	}
	if _, _, err := r.writeObject(ctx, tmpDir, ObjectCommit, data); err != nil {
		return csum, err
	}
	if err := r.Sync(); err != nil {
		return csum, err
	}
	return csum, nil
}

// WriteCommitMeta replaces a commit's detached metadata (.commitmeta).
func (r *Repo) WriteCommitMeta(ctx context.Context, commit Checksum, md map[string]any) error {
	tmpDir, err := r.sharedStaging()
	if err != nil {
		return err
	}
	return r.writeCommitMeta(ctx, tmpDir, commit, md)
}

func (r *Repo) writeCommitMeta(ctx context.Context, tmpDir string, commit Checksum, md map[string]any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := MarshalMetadata(md)
	if err != nil {
		return fmt.Errorf("detached metadata of %s: %w", commit, err)
	}
	return r.installBytes(tmpDir, ObjectCommitMeta, commit, data)
}
