package bootc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"unicode/utf8"
)

// whiteoutPrefix names the regular file ostree turns back into an overlay
// whiteout (a 0:0 char device) when it checks out a tree.
const whiteoutPrefix = ".ostree-wh."

// postprocessDevices makes the tree storable by ostree, which keeps only
// directories, regular files and symlinks: a 0:0 char device (an overlayfs
// whiteout) becomes an empty .ostree-wh.<name> file with the same mode and
// owner (postprocess_embedded_ovl_whiteouts); any other char or block
// device is removed with a warning (ignore-devices: true) or is an error
// (opts.FailOnDevices); fifos and sockets, which no package can ship, are
// removed with a warning.
func postprocessDevices(ctx context.Context, root string, opts Options) error {
	n := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		t := d.Type()
		if t&(fs.ModeDevice|fs.ModeNamedPipe|fs.ModeSocket) == 0 {
			if d.IsDir() {
				return ctx.Err()
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel := "/" + relPath(root, p)
		st, _ := fi.Sys().(*syscall.Stat_t)
		switch {
		case t&fs.ModeCharDevice != 0 && st != nil && st.Rdev == 0:
			n++
			return convertWhiteout(p, fi, st)
		case t&fs.ModeDevice != 0 && opts.FailOnDevices:
			return fmt.Errorf("device node %s: ostree cannot store devices; remove it, or allow dropping devices (ignore-devices: true)", rel)
		default:
			opts.log().Warn("removing special file ostree cannot store", "path", rel, "type", fi.Mode().Type().String())
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("remove %s: %w", rel, err)
			}
			return nil
		}
	})
	if err != nil {
		return err
	}
	if n > 0 {
		opts.log().Info("converted embedded overlay whiteouts", "count", n)
	}
	return nil
}

func convertWhiteout(p string, fi fs.FileInfo, st *syscall.Stat_t) error {
	dest := filepath.Join(filepath.Dir(p), whiteoutPrefix+filepath.Base(p))
	if err := os.Remove(p); err != nil {
		return fmt.Errorf("whiteout %s: %w", p, err)
	}
	f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("whiteout %s: %w", p, err)
	}
	err = f.Chmod(permBits(fi.Mode()))
	if err == nil {
		if cerr := f.Chown(int(st.Uid), int(st.Gid)); cerr != nil && !errors.Is(cerr, fs.ErrPermission) {
			err = cerr
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("whiteout %s: %w", dest, err)
	}
	return nil
}

// checkUTF8Filenames refuses file names and symlink targets that are not
// UTF-8: ostree-based bootc cannot deploy them (bootc's utf8 lint).
func checkUTF8Filenames(ctx context.Context, root string, opts Options) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !utf8.ValidString(d.Name()) {
			return fmt.Errorf("%q: file name is not UTF-8; ostree/bootc cannot store it: remove or rename it", "/"+relPath(root, p))
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if !utf8.ValidString(target) {
				return fmt.Errorf("%q: symlink target %q is not UTF-8; ostree/bootc cannot store it", "/"+relPath(root, p), target)
			}
		}
		if d.IsDir() {
			return ctx.Err()
		}
		return nil
	})
}

func relPath(root, p string) string {
	rel, err := filepath.Rel(root, p)
	if err != nil || rel == "." {
		return ""
	}
	return filepath.ToSlash(rel)
}
