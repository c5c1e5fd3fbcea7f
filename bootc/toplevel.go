package bootc

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
)

type dirSpec struct {
	name string
	perm fs.FileMode
}

// apiDirs are the mount points of API filesystems, plus tmp: they must be
// empty directories (bootc's api-base-directories and nonempty-run-tmp
// lints), and /dev must carry no device nodes ostree cannot store.
var apiDirs = []dirSpec{
	{"dev", 0o755},
	{"proc", 0o755},
	{"sys", 0o755},
	{"run", 0o755},
	{"tmp", 0o777 | fs.ModeSticky},
	{"sysroot", 0o755},
}

// keptTopLevel are the top-level names an ostree root carries; everything
// else is dropped, as rpm-ostree's fresh root drops it.
var keptTopLevel = map[string]bool{
	"usr": true, "etc": true, "boot": true, "var": true,
	"bin": true, "sbin": true, "lib": true, "lib32": true, "lib64": true, "libx32": true,
	"dev": true, "proc": true, "sys": true, "run": true, "tmp": true,
	"sysroot": true, "ostree": true,
	"home": true, "root": true, "opt": true, "srv": true, "mnt": true, "media": true,
}

// prepareRootfs does in place what compose_prepare_rootfs does by moving
// into a fresh root: it drops unknown top-level entries (with a warning)
// and empties the API mount points, which removes the device nodes a
// bootstrap leaves in /dev.
func prepareRootfs(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	if ok, err := r.isDir("usr"); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%s has no /usr directory: not a root filesystem", root)
	}
	names, err := r.readDirNames(".")
	if err != nil {
		return err
	}
	for _, n := range names {
		if keptTopLevel[n] {
			continue
		}
		opts.log().Warn("dropping top-level entry an ostree root does not carry; ship it under /usr instead", "path", "/"+n)
		if err := r.removeAll(n); err != nil {
			return err
		}
	}
	for _, d := range apiDirs {
		if err := r.emptyDir(d.name, d.perm); err != nil {
			return err
		}
	}
	return nil
}

// varLink is a top-level path that becomes a symlink into /var or /run.
type varLink struct {
	path   string // in the root, e.g. "usr/local"
	target string // symlink text
	dest   string // the directory the link reaches, in the root
}

var varLinks = []varLink{
	{"home", "var/home", "var/home"},
	{"root", "var/roothome", "var/roothome"},
	{"srv", "var/srv", "var/srv"},
	{"mnt", "var/mnt", "var/mnt"},
	{"opt", "var/opt", "var/opt"},
	{"usr/local", "../var/usrlocal", "var/usrlocal"},
	{"media", "run/media", "run/media"},
}

// optDir receives /opt's entries: /opt is state in /var, so software that
// installs there is moved into /usr and linked back, as rpm-ostree's
// importer does.
const optDir = "usr/lib/opt"

// prepareRootfsLinks makes /home, /root, /srv, /mnt, /opt, /usr/local and
// /media symlinks into /var and /run, and /ostree a symlink to
// sysroot/ostree (compose_init_rootfs, rootfs_prepare_links). Content
// already there moves to where the link points; /opt's entries go to
// /usr/lib/opt with a symlink in /var/opt, and /media's are dropped with a
// warning because /run is a tmpfs.
func prepareRootfsLinks(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	for _, l := range varLinksFor(opts) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := makeVarLink(r, l, opts); err != nil {
			return err
		}
	}
	if err := makeUsrlocalRootDirs(r, opts); err != nil {
		return err
	}
	if _, err := r.mkdirAll("sysroot", 0o755); err != nil {
		return err
	}
	if fi, err := r.lstat("ostree"); err != nil {
		return err
	} else if fi != nil && fi.IsDir() {
		if names, err := r.readDirNames("ostree"); err != nil {
			return err
		} else if len(names) > 0 {
			return fmt.Errorf("/ostree is a non-empty directory; it must be the symlink sysroot/ostree: remove what put content there")
		}
	}
	return r.symlink("sysroot/ostree", "ostree")
}

func makeVarLink(r rootfs, l varLink, opts Options) error {
	fi, err := r.lstat(l.path)
	if err != nil {
		return err
	}
	if fi != nil && fi.Mode()&fs.ModeSymlink != 0 {
		p, _ := r.path(l.path)
		if cur, err := os.Readlink(p); err == nil && cur == l.target {
			return nil
		}
		opts.log().Warn("replacing symlink", "path", "/"+l.path, "target", l.target)
	}
	if fi != nil && fi.IsDir() {
		names, err := r.readDirNames(l.path)
		if err != nil {
			return err
		}
		switch {
		case l.path == "media":
			if len(names) > 0 {
				opts.log().Warn("dropping content of /media: it becomes /run/media, a tmpfs", "entries", names)
			}
		case l.path == "opt":
			if err := moveOpt(r, names); err != nil {
				return err
			}
		case len(names) > 0:
			if err := moveTree(r, l.path, l.dest); err != nil {
				return err
			}
		}
		if err := r.removeAll(l.path); err != nil {
			return err
		}
	}
	return r.symlink(l.target, l.path)
}

// moveOpt moves each /opt/X to /usr/lib/opt/X and leaves the symlink
// /var/opt/X -> ../../usr/lib/opt/X, which the /var conversion turns into a
// tmpfiles.d L line.
func moveOpt(r rootfs, names []string) error {
	if len(names) == 0 {
		return nil
	}
	if _, err := r.mkdirAll(optDir, 0o755); err != nil {
		return err
	}
	if _, err := copyDirMeta(r, "opt", "var/opt"); err != nil {
		return err
	}
	for _, n := range names {
		src, dst := path.Join("opt", n), path.Join(optDir, n)
		if fi, err := r.lstat(dst); err != nil {
			return err
		} else if fi != nil {
			return fmt.Errorf("move /%s to /%s: destination exists", src, dst)
		}
		if err := r.rename(src, dst); err != nil {
			return err
		}
		if err := r.symlink(path.Join("../../", optDir, n), path.Join("var/opt", n)); err != nil {
			return err
		}
	}
	return nil
}

// moveTree merges directory src into dst (created with src's mode and
// owner), entry by entry; two non-directories with the same name are an
// error rather than a silent loss.
func moveTree(r rootfs, src, dst string) error {
	exists, err := copyDirMeta(r, src, dst)
	if err != nil {
		return err
	}
	names, err := r.readDirNames(src)
	if err != nil {
		return err
	}
	for _, n := range names {
		s, d := path.Join(src, n), path.Join(dst, n)
		dfi, err := r.lstat(d)
		if err != nil {
			return err
		}
		if exists && dfi != nil {
			sfi, err := r.lstat(s)
			if err != nil {
				return err
			}
			if sfi.IsDir() && dfi.IsDir() {
				if err := moveTree(r, s, d); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("move /%s to /%s: both exist; remove one of them", s, d)
		}
		if err := r.rename(s, d); err != nil {
			return err
		}
	}
	return nil
}

// copyDirMeta creates dst, if missing, with src's permissions and owner,
// and reports whether it already existed.
func copyDirMeta(r rootfs, src, dst string) (bool, error) {
	if fi, err := r.lstat(dst); err != nil {
		return false, err
	} else if fi != nil {
		if !fi.IsDir() {
			return true, fmt.Errorf("/%s exists and is not a directory", dst)
		}
		return true, nil
	}
	sfi, err := r.lstat(src)
	if err != nil {
		return false, err
	}
	p, err := r.mkdirAll(dst, permBits(sfi.Mode()))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(p, permBits(sfi.Mode())); err != nil {
		return false, fmt.Errorf("chmod /%s: %w", dst, err)
	}
	if st, ok := sfi.Sys().(*syscall.Stat_t); ok {
		if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil && !errors.Is(err, fs.ErrPermission) {
			return false, fmt.Errorf("chown /%s: %w", dst, err)
		}
	}
	return false, nil
}

// rename moves src to dst inside the root; neither last component is
// followed.
func (r rootfs) rename(src, dst string) error {
	sp, err := r.path(src)
	if err != nil {
		return err
	}
	dp, err := r.path(dst)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dp), 0o755); err != nil {
		return fmt.Errorf("move /%s to /%s: %w", src, dst, err)
	}
	if err := os.Rename(sp, dp); err != nil {
		return fmt.Errorf("move /%s to /%s: %w", src, dst, err)
	}
	return nil
}

// initRootfs finishes the top level as compose_init_rootfs lays it out:
// root 0755, dev proc run sys var sysroot boot as real directories (0755),
// tmp 01777. It runs last, when /var has been converted and emptied.
func initRootfs(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	if err := os.Chmod(root, 0o755); err != nil {
		return fmt.Errorf("chmod %s: %w", root, err)
	}
	dirs := append([]dirSpec{{"var", 0o755}, {"boot", 0o755}}, apiDirs...)
	for _, d := range dirs {
		fi, err := r.lstat(d.name)
		if err != nil {
			return err
		}
		if fi != nil && fi.IsDir() {
			p, _ := r.path(d.name)
			if err := os.Chmod(p, d.perm); err != nil {
				return fmt.Errorf("chmod /%s: %w", d.name, err)
			}
			continue
		}
		if err := r.emptyDir(d.name, d.perm); err != nil {
			return err
		}
	}
	return nil
}
