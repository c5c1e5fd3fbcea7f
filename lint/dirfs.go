package lint

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/apt-ostree/apt-ostree/oci"
)

// DirFS returns the directory tree at root as an fs.FS that sees symlinks as
// symlinks (fs.ReadLinkFS) and never follows one out of root: absolute links
// and ".." resolve against root, as if root were "/". FileInfo.Sys() is a
// *syscall.Stat_t. Unlike fs.ValidPath it accepts non-UTF-8 names, which the
// utf8 lint exists to find. It also reports mount points (MountFS).
func DirFS(root string) fs.FS { return dirFS(root) }

type dirFS string

var (
	_ fs.ReadLinkFS = dirFS("")
	_ fs.ReadDirFS  = dirFS("")
	_ fs.StatFS     = dirFS("")
	_ MountFS       = dirFS("")
)

func (d dirFS) host(name string) string {
	if name == "." {
		return string(d)
	}
	return filepath.Join(string(d), name)
}

func (d dirFS) rawLstat(name string) (fs.FileInfo, error) {
	fi, err := os.Lstat(d.host(name))
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: errors.Unwrap(err)}
	}
	return fi, nil
}

func (d dirFS) rawReadLink(name string) (string, error) {
	t, err := os.Readlink(d.host(name))
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: errors.Unwrap(err)}
	}
	return t, nil
}

// real resolves name inside the root and returns the host path.
func (d dirFS) real(op, name string, followLast bool) (string, error) {
	if !oci.ValidName(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	p, err := resolveIn(d.rawLstat, d.rawReadLink, name, followLast)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return "", &fs.PathError{Op: op, Path: name, Err: pe.Err}
		}
		return "", &fs.PathError{Op: op, Path: name, Err: err}
	}
	return d.host(p), nil
}

func (d dirFS) Open(name string) (fs.File, error) {
	p, err := d.real("open", name, true)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.Unwrap(err)}
	}
	return f, nil
}

func (d dirFS) Stat(name string) (fs.FileInfo, error) {
	p, err := d.real("stat", name, true)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: errors.Unwrap(err)}
	}
	return fi, nil
}

func (d dirFS) Lstat(name string) (fs.FileInfo, error) {
	p, err := d.real("lstat", name, false)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: errors.Unwrap(err)}
	}
	return fi, nil
}

func (d dirFS) ReadLink(name string) (string, error) {
	p, err := d.real("readlink", name, false)
	if err != nil {
		return "", err
	}
	t, err := os.Readlink(p)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: errors.Unwrap(err)}
	}
	return t, nil
}

func (d dirFS) ReadDir(name string) ([]fs.DirEntry, error) {
	p, err := d.real("readdir", name, true)
	if err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errors.Unwrap(err)}
	}
	return ents, nil
}

// IsMountPoint reports whether name (not following a final symlink) is the
// root of a mount, from statx's STATX_ATTR_MOUNT_ROOT, or on kernels without
// it from a device number that differs from the parent's.
func (d dirFS) IsMountPoint(name string) (bool, error) {
	p, err := d.real("statx", name, false)
	if err != nil {
		return false, err
	}
	var stx unix.Statx_t
	err = unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW|unix.AT_NO_AUTOMOUNT, unix.STATX_BASIC_STATS, &stx)
	if err == nil && stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 {
		return stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0, nil
	}
	if name == "." {
		return false, nil
	}
	var self, parent unix.Stat_t
	if err := unix.Lstat(p, &self); err != nil {
		return false, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	if err := unix.Stat(filepath.Dir(p), &parent); err != nil {
		return false, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return self.Dev != parent.Dev, nil
}
