package ostree

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/klauspost/compress/flate"
	"golang.org/x/sys/unix"
)

// bareUserMetaXattr holds a bare-user object's real ownership, mode and xattrs.
const bareUserMetaXattr = "user.ostreemeta"

var (
	linkSeq    atomic.Uint64
	flatePools [10]sync.Pool // by level
	bufwPool   = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 256<<10) }}
)

func getFlate(w io.Writer, level int) *flate.Writer {
	if fw, ok := flatePools[level].Get().(*flate.Writer); ok {
		fw.Reset(w)
		return fw
	}
	fw, err := flate.NewWriter(w, level)
	if err != nil {
		panic(err) // level is validated when the repo is opened
	}
	return fw
}

// WriteContent stores a regular file (content is its data, exactly h.Size
// bytes) or a symlink (content is ignored) and returns its checksum. It
// reports written=false when the object was already present.
func (r *Repo) WriteContent(ctx context.Context, h *FileHeader, content io.Reader) (c Checksum, written bool, err error) {
	tmpDir, err := r.sharedStaging()
	if err != nil {
		return c, false, err
	}
	return r.writeContent(ctx, tmpDir, h, content, nil)
}

// writeContent stores a content object. When known is non-nil it is the
// already computed checksum and content is not hashed again.
func (r *Repo) writeContent(ctx context.Context, tmpDir string, h *FileHeader, content io.Reader, known *Checksum) (c Checksum, written bool, err error) {
	if err := ctx.Err(); err != nil {
		return c, false, err
	}
	hdr, err := h.checksumHeader()
	if err != nil {
		return c, false, err
	}
	if r.mode == ModeBareUserOnly {
		return c, false, fmt.Errorf("writing to bare-user-only repos is not supported")
	}
	var hasher hash.Hash
	if known != nil {
		c = *known
	} else {
		hasher = sha256.New()
		hasher.Write(hdr)
		if h.IsSymlink() {
			copy(c[:], hasher.Sum(nil))
		}
	}
	if known != nil || h.IsSymlink() {
		if ok, err := r.HasObject(ObjectFile, c); err != nil || ok {
			return c, false, err
		}
	}
	if h.IsSymlink() && r.mode == ModeBare {
		return c, true, r.installBareSymlink(tmpDir, h, c)
	}
	f, err := createTemp(tmpDir, "obj-")
	if err != nil {
		return c, false, fmt.Errorf("write content object: %w", err)
	}
	tmp := f.Name()
	fail := func(err error) (Checksum, bool, error) {
		f.Close()
		os.Remove(tmp)
		return c, false, err
	}
	if !h.IsSymlink() && hasher != nil {
		content = io.TeeReader(content, hasher)
	}
	if err := r.writeObjectData(f, h, content); err != nil {
		return fail(err)
	}
	if hasher != nil && !h.IsSymlink() {
		copy(c[:], hasher.Sum(nil))
		if ok, err := r.HasObject(ObjectFile, c); err != nil {
			return fail(err)
		} else if ok {
			f.Close()
			os.Remove(tmp)
			return c, false, nil
		}
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := r.ensureObjDir(c); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, r.objectPath(ObjectFile, c)); err != nil {
		return fail(fmt.Errorf("install content object %s: %w", c, err))
	}
	return c, true, nil
}

// writeObjectData writes the object file for h in the repo's mode and applies
// its metadata. It checks that content holds exactly h.Size bytes.
func (r *Repo) writeObjectData(f *os.File, h *FileHeader, content io.Reader) error {
	bw := bufwPool.Get().(*bufio.Writer)
	bw.Reset(f)
	defer func() { bw.Reset(nil); bufwPool.Put(bw) }()

	switch r.mode {
	case ModeArchive:
		zh, err := h.archiveHeader()
		if err != nil {
			return err
		}
		bw.Write(zh)
		if !h.IsSymlink() {
			if h.Size == 0 {
				// What libostree's zlib writes for no input; a header-only
				// object would fail checkout with "Need more input".
				bw.Write([]byte{0x03, 0x00})
				if err := expectEOF(content); err != nil {
					return err
				}
			} else {
				fw := getFlate(bw, r.zlibLevel)
				err := copyExact(fw, content, h.Size)
				if cerr := fw.Close(); err == nil {
					err = cerr
				}
				flatePools[r.zlibLevel].Put(fw)
				if err != nil {
					return err
				}
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		return f.Chmod(0o644)
	case ModeBareUser:
		if h.IsSymlink() {
			bw.WriteString(h.SymlinkTarget)
			bw.WriteByte(0)
		} else if err := copyExact(bw, content, h.Size); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		meta, err := h.bareUserMeta()
		if err != nil {
			return err
		}
		fd := int(f.Fd())
		if err := unix.Fsetxattr(fd, bareUserMetaXattr, meta, 0); err != nil {
			return fmt.Errorf("set %s (the repo needs a filesystem with user xattrs): %w", bareUserMetaXattr, err)
		}
		perm := uint32(0o644)
		if !h.IsSymlink() {
			perm = (h.Mode & 0o775) | 0o400
		}
		if err := unix.Fchmod(fd, perm); err != nil {
			return err
		}
		return zeroMtime(fd)
	case ModeBare:
		if err := copyExact(bw, content, h.Size); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		fd := int(f.Fd())
		if err := unix.Fchown(fd, int(h.UID), int(h.GID)); err != nil {
			return err
		}
		if err := unix.Fchmod(fd, h.Mode&0o7777); err != nil {
			return err
		}
		for _, x := range h.Xattrs {
			if err := unix.Fsetxattr(fd, x.Name, x.Value, 0); err != nil {
				return fmt.Errorf("set xattr %s: %w", x.Name, err)
			}
		}
		return zeroMtime(fd)
	}
	return fmt.Errorf("cannot write content in repo mode %v", r.mode)
}

func (r *Repo) installBareSymlink(tmpDir string, h *FileHeader, c Checksum) error {
	tmp := filepath.Join(tmpDir, fmt.Sprintf("link-%d-%d-%s", os.Getpid(), linkSeq.Add(1), c))
	if err := os.Symlink(h.SymlinkTarget, tmp); err != nil {
		return fmt.Errorf("write symlink object %s: %w", c, err)
	}
	if testHookTemp != nil {
		testHookTemp(tmp)
	}
	err := unix.Lchown(tmp, int(h.UID), int(h.GID))
	for _, x := range h.Xattrs {
		if err == nil {
			err = unix.Lsetxattr(tmp, x.Name, x.Value, 0)
		}
	}
	if err == nil {
		err = unix.UtimesNanoAt(unix.AT_FDCWD, tmp, []unix.Timespec{{Nsec: unix.UTIME_OMIT}, {}}, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err == nil {
		err = r.ensureObjDir(c)
	}
	if err == nil {
		err = os.Rename(tmp, r.objectPath(ObjectFile, c))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write symlink object %s: %w", c, err)
	}
	return nil
}

// zeroMtime sets mtime to the epoch like libostree does for content objects.
func zeroMtime(fd int) error {
	return unix.Futimes(fd, []unix.Timeval{{Sec: 0}, {Sec: 0}})
}

var errFileChanged = errors.New("file changed while it was being committed")

func copyExact(w io.Writer, r io.Reader, n uint64) error {
	got, err := io.Copy(w, io.LimitReader(r, int64(n)))
	if err != nil {
		return err
	}
	if uint64(got) != n {
		return fmt.Errorf("%w: read %d bytes, expected %d", errFileChanged, got, n)
	}
	return expectEOF(r)
}

func expectEOF(r io.Reader) error {
	var b [1]byte
	n, err := r.Read(b[:])
	if n > 0 {
		return fmt.Errorf("%w: longer than its recorded size", errFileChanged)
	}
	if err != nil && err != io.EOF {
		return err
	}
	return nil
}
