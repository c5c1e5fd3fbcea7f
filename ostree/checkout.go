package ostree

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// CheckoutOptions control Checkout.
type CheckoutOptions struct {
	// UserMode is `ostree checkout -U`: ownership and xattrs are not
	// applied, setuid/setgid bits are dropped, and bare-user objects are
	// hardlinked (do not modify such a checkout in place). Without it
	// (root only) the stored ownership, modes and xattrs are applied and
	// bare objects are hardlinked.
	UserMode bool
}

// Checkout writes the tree of rev into dest, which must not exist. The tree
// is built in a temp dir beside dest and renamed into place, so a failed
// checkout leaves nothing at dest.
func (r *Repo) Checkout(ctx context.Context, rev, dest string, opts CheckoutOptions) error {
	c, err := r.ResolveRev(rev)
	if err != nil {
		return err
	}
	cm, err := r.ReadCommit(c)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("checkout %s: %s already exists", rev, dest)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".checkout-")
	if err != nil {
		return fmt.Errorf("checkout %s: %w", rev, err)
	}
	co := &checkout{ctx: ctx, r: r, opts: opts}
	if err := co.dir(tmp, cm.RootTree, cm.RootMeta); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("checkout %s into %s: %w", rev, dest, err)
	}
	if err := os.Rename(tmp, dest); err != nil {
		os.RemoveAll(tmp)
		return fmt.Errorf("checkout %s: %w", rev, err)
	}
	return nil
}

type checkout struct {
	ctx  context.Context
	r    *Repo
	opts CheckoutOptions
}

// dir fills the existing directory p, then applies its metadata (last, so
// read-only directories can still be filled).
func (co *checkout) dir(p string, tree, meta Checksum) error {
	if err := co.ctx.Err(); err != nil {
		return err
	}
	t, err := co.r.ReadDirTree(tree)
	if err != nil {
		return err
	}
	m, err := co.r.ReadDirMeta(meta)
	if err != nil {
		return err
	}
	for _, f := range t.Files {
		if err := co.file(filepath.Join(p, f.Name), f.Checksum); err != nil {
			return err
		}
	}
	for _, d := range t.Dirs {
		cp := filepath.Join(p, d.Name)
		if err := os.Mkdir(cp, 0o700); err != nil {
			return err
		}
		if err := co.dir(cp, d.TreeChecksum, d.MetaChecksum); err != nil {
			return err
		}
	}
	if !co.opts.UserMode {
		if err := os.Lchown(p, int(m.UID), int(m.GID)); err != nil {
			return err
		}
		for _, x := range m.Xattrs {
			if err := unix.Lsetxattr(p, x.Name, x.Value, 0); err != nil {
				return fmt.Errorf("set xattr %s on %s: %w", x.Name, p, err)
			}
		}
		return unix.Chmod(p, m.Mode&0o7777)
	}
	return unix.Chmod(p, m.Mode&0o777)
}

func (co *checkout) file(p string, c Checksum) error {
	h, rc, err := co.r.OpenContent(c)
	if err != nil {
		return err
	}
	defer rc.Close()
	if h.IsSymlink() {
		if err := os.Symlink(h.SymlinkTarget, p); err != nil {
			return err
		}
		if co.opts.UserMode {
			return nil
		}
		if err := os.Lchown(p, int(h.UID), int(h.GID)); err != nil {
			return err
		}
		return setXattrs(p, h.Xattrs)
	}
	hardlink := (co.r.mode == ModeBareUser && co.opts.UserMode) || (co.r.mode == ModeBare && !co.opts.UserMode) ||
		co.r.mode == ModeBareUserOnly
	if hardlink {
		err := os.Link(co.r.objectPath(ObjectFile, c), p)
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EXDEV) && !errors.Is(err, unix.EMLINK) {
			return err
		}
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, rc); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	fd := int(f.Fd())
	if co.opts.UserMode {
		err = unix.Fchmod(fd, h.Mode&0o1777)
	} else {
		err = unix.Fchown(fd, int(h.UID), int(h.GID))
		for _, x := range h.Xattrs {
			if err == nil {
				err = unix.Fsetxattr(fd, x.Name, x.Value, 0)
			}
		}
		if err == nil {
			err = unix.Fchmod(fd, h.Mode&0o7777)
		}
	}
	if err == nil {
		err = zeroMtime(fd)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &fs.PathError{Op: "checkout", Path: p, Err: err}
	}
	return nil
}

func setXattrs(p string, x []Xattr) error {
	for _, a := range x {
		if err := unix.Lsetxattr(p, a.Name, a.Value, 0); err != nil {
			return fmt.Errorf("set xattr %s on %s: %w", a.Name, p, err)
		}
	}
	return nil
}
