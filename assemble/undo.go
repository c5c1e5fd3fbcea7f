package assemble

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/apt-ostree/apt-ostree/deb"
	"github.com/apt-ostree/apt-ostree/internal/rootpath"
)

// undoLog puts a root that holds an installed base back as it was when
// Install fails before any maintainer script has run (a file conflict, a
// bad archive, a full disk): before unpacking it lists every path the new
// packages will write, keeps a hard link to each existing non-directory
// there (deb.Unpack replaces files by rename, so the link keeps the old
// inode), notes the paths that do not exist yet, and copies the dpkg
// database. Once scripts have run there is no way back: the caller
// discards the root.
type undoLog struct {
	root    string
	dir     string            // the backup directory, inside root (same file system)
	saved   map[string]string // host path -> its hard link in dir
	created []string          // host paths that did not exist
	admin   string            // host path of the dpkg database
}

const undoPrefix = ".apt-ostree-undo-"

func newUndoLog(ctx context.Context, root, admin string, debs []*deb.Package) (_ *undoLog, err error) {
	dir, err := os.MkdirTemp(root, undoPrefix)
	if err != nil {
		return nil, fmt.Errorf("prepare undo of the install in %s: %w", root, err)
	}
	u := &undoLog{root: root, dir: dir, saved: map[string]string{}, admin: admin}
	defer func() {
		if err != nil {
			os.RemoveAll(dir)
		}
	}()
	seen := map[string]bool{}
	for _, d := range debs {
		conff := map[string]bool{}
		for _, c := range d.Conffiles {
			conff[strings.TrimPrefix(c.Path, "/")] = true
		}
		if err := u.scan(ctx, d, conff, seen); err != nil {
			return nil, err
		}
	}
	if err := copyTree(admin, filepath.Join(dir, "admin")); err != nil {
		return nil, fmt.Errorf("back up the dpkg database %s: %w", admin, err)
	}
	return u, nil
}

func (u *undoLog) scan(ctx context.Context, d *deb.Package, conff, seen map[string]bool) error {
	data, err := d.Data()
	if err != nil {
		return err
	}
	defer data.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := data.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: data.tar: %w", d, err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(h.Name, "./"), "/")
		rel = strings.TrimSuffix(rel, "/")
		if rel == "" || rel == "." {
			continue
		}
		names := []string{rel}
		if conff[rel] && h.Typeflag != tar.TypeDir {
			names = append(names, rel+".dpkg-new")
		}
		for _, n := range names {
			p, err := rootpath.Resolve(u.root, n)
			if err != nil {
				return err
			}
			if seen[p] {
				continue
			}
			seen[p] = true
			if err := u.note(p); err != nil {
				return err
			}
		}
	}
}

// note records what is at host path p now.
func (u *undoLog) note(p string) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		for d := p; d != u.root && len(d) > len(u.root); d = filepath.Dir(d) {
			if _, err := os.Lstat(d); err == nil {
				break
			}
			u.created = append(u.created, d)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return nil // kept by deb.Unpack, metadata included
	}
	link := filepath.Join(u.dir, strconv.Itoa(len(u.saved)))
	if err := os.Link(p, link); err != nil {
		return fmt.Errorf("back up %s: %w", p, err)
	}
	u.saved[p] = link
	return nil
}

// rollback restores the database and every noted path.
func (u *undoLog) rollback() error {
	var errs []error
	failed := filepath.Join(u.dir, "admin.failed")
	if err := os.Rename(u.admin, failed); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	} else if err := os.Rename(filepath.Join(u.dir, "admin"), u.admin); err != nil {
		errs = append(errs, err)
	}
	for p, link := range u.saved {
		if err := os.Rename(link, p); err != nil {
			errs = append(errs, err)
		}
	}
	created := append([]string(nil), u.created...)
	sort.Slice(created, func(i, j int) bool { return len(created[i]) > len(created[j]) })
	for _, p := range created {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) && !isNotEmpty(err) {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(u.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("put %s back as it was: %w", u.root, err)
	}
	return nil
}

// discard drops the backup: the transaction goes on.
func (u *undoLog) discard() error { return os.RemoveAll(u.dir) }

// copyTree copies the directory src to dst (which must not exist), keeping
// modes, times and symlinks.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(target, fi.Mode().Perm()); err != nil {
				return err
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(t, target)
		case fi.Mode().IsRegular():
			if err := copyFile(p, target); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unexpected %s in the dpkg database", p, fi.Mode().Type())
		}
		return os.Chtimes(target, fi.ModTime(), fi.ModTime())
	})
}
