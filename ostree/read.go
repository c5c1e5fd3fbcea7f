package ostree

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/klauspost/compress/flate"
	"golang.org/x/sys/unix"
)

// ReadCommit reads and decodes a commit object.
func (r *Repo) ReadCommit(c Checksum) (*Commit, error) {
	data, err := r.ReadObject(ObjectCommit, c)
	if err != nil {
		return nil, err
	}
	cm, err := ParseCommit(data)
	if err != nil {
		return nil, fmt.Errorf("commit %s in %s: %w", c, r.path, err)
	}
	return cm, nil
}

// ReadCommitMeta returns a commit's detached metadata, or nil if it has none.
func (r *Repo) ReadCommitMeta(c Checksum) (map[string]any, error) {
	data, err := os.ReadFile(r.objectPath(ObjectCommitMeta, c))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read detached metadata of %s: %w", c, err)
	}
	md, err := ParseMetadata(data)
	if err != nil {
		return nil, fmt.Errorf("detached metadata of %s: %w", c, err)
	}
	return md, nil
}

// ReadDirTree reads and decodes a dirtree object.
func (r *Repo) ReadDirTree(c Checksum) (*DirTree, error) {
	data, err := r.ReadObject(ObjectDirTree, c)
	if err != nil {
		return nil, err
	}
	t, err := ParseDirTree(data)
	if err != nil {
		return nil, fmt.Errorf("dirtree %s in %s: %w", c, r.path, err)
	}
	return t, nil
}

// ReadDirMeta reads and decodes a dirmeta object.
func (r *Repo) ReadDirMeta(c Checksum) (*DirMeta, error) {
	data, err := r.ReadObject(ObjectDirMeta, c)
	if err != nil {
		return nil, err
	}
	m, err := ParseDirMeta(data)
	if err != nil {
		return nil, fmt.Errorf("dirmeta %s in %s: %w", c, r.path, err)
	}
	return m, nil
}

// OpenContent opens a content object. For symlinks the reader is empty and
// the target is in the header. The caller must close the reader.
func (r *Repo) OpenContent(c Checksum) (*FileHeader, io.ReadCloser, error) {
	h, rc, err := r.openContent(c, false)
	if err != nil {
		return nil, nil, fmt.Errorf("open content object %s in %s: %w", c, r.path, err)
	}
	return h, rc, nil
}

type readCloser struct {
	io.Reader
	close func() error
}

func (rc readCloser) Close() error { return rc.close() }

// ReadContentHeader returns a content object's header without opening its data.
func (r *Repo) ReadContentHeader(c Checksum) (*FileHeader, error) {
	h, rc, err := r.openContent(c, true)
	if err != nil {
		return nil, fmt.Errorf("read content object %s in %s: %w", c, r.path, err)
	}
	rc.Close()
	return h, nil
}

func (r *Repo) openContent(c Checksum, headerOnly bool) (*FileHeader, io.ReadCloser, error) {
	p := r.objectPath(ObjectFile, c)
	if r.mode == ModeBare || r.mode == ModeBareUserOnly {
		return r.openBareContent(p)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	switch r.mode {
	case ModeArchive:
		br := bufio.NewReaderSize(f, 64<<10)
		var pre [8]byte
		if _, err := io.ReadFull(br, pre[:]); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("truncated header: %w", err)
		}
		n := binary.BigEndian.Uint32(pre[:4])
		if n > 16<<20 {
			f.Close()
			return nil, nil, fmt.Errorf("header length %d too large", n)
		}
		hb := make([]byte, n)
		if _, err := io.ReadFull(br, hb); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("truncated header: %w", err)
		}
		h, err := parseArchiveHeader(hb)
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		if h.IsSymlink() || headerOnly {
			f.Close()
			return h, io.NopCloser(strings.NewReader("")), nil
		}
		zr := flate.NewReader(br)
		return h, readCloser{Reader: zr, close: func() error { zr.Close(); return f.Close() }}, nil
	case ModeBareUser:
		meta, err := fgetxattr(int(f.Fd()), bareUserMetaXattr)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("read %s: %w", bareUserMetaXattr, err)
		}
		h, err := parseBareUserMeta(meta)
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		if h.IsSymlink() {
			data, err := io.ReadAll(f)
			f.Close()
			if err != nil {
				return nil, nil, err
			}
			if len(data) < 2 || data[len(data)-1] != 0 {
				return nil, nil, fmt.Errorf("bare-user symlink object without NUL-terminated target")
			}
			h.SymlinkTarget = string(data[:len(data)-1])
			return h, io.NopCloser(strings.NewReader("")), h.validate()
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		h.Size = uint64(st.Size())
		return h, f, h.validate()
	}
	f.Close()
	return nil, nil, fmt.Errorf("unsupported repo mode %v", r.mode)
}

func (r *Repo) openBareContent(p string) (*FileHeader, io.ReadCloser, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return nil, nil, &fs.PathError{Op: "lstat", Path: p, Err: err}
	}
	h := &FileHeader{UID: st.Uid, GID: st.Gid, Mode: st.Mode}
	if r.mode == ModeBareUserOnly {
		h.UID, h.GID = 0, 0
	} else {
		x, err := readXattrs(p)
		if err != nil {
			return nil, nil, err
		}
		h.Xattrs = x
	}
	if h.IsSymlink() {
		t, err := os.Readlink(p)
		if err != nil {
			return nil, nil, err
		}
		h.SymlinkTarget = t
		return h, io.NopCloser(strings.NewReader("")), h.validate()
	}
	h.Size = uint64(st.Size)
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	return h, f, h.validate()
}

func fgetxattr(fd int, name string) ([]byte, error) {
	buf := make([]byte, 256)
	for {
		n, err := unix.Fgetxattr(fd, name, buf)
		if errors.Is(err, unix.ERANGE) {
			sz, err := unix.Fgetxattr(fd, name, nil)
			if err != nil {
				return nil, err
			}
			buf = make([]byte, sz+64)
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}
