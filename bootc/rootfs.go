package bootc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/apt-ostree/apt-ostree/internal/rootpath"
)

// rootfs is a root directory seen from the inside: absolute symlinks in it
// point into it, and ".." never climbs above it (see package rootpath).
type rootfs string

// path returns the host path of rel with every component but the last
// resolved inside the root (the last one is not followed, like lstat).
func (r rootfs) path(rel string) (string, error) { return rootpath.Resolve(string(r), rel) }

// resolve returns the host path of rel with every component, the last one
// included, resolved inside the root (like stat).
func (r rootfs) resolve(rel string) (string, error) { return rootpath.ResolveFollow(string(r), rel) }

// lstat stats rel without following its last component; a missing file
// gives (nil, nil).
func (r rootfs) lstat(rel string) (fs.FileInfo, error) {
	p, err := r.path(rel)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("stat /%s: %w", rel, err)
	}
	return fi, nil
}

// isDir reports whether rel is a real directory (not a symlink to one).
func (r rootfs) isDir(rel string) (bool, error) {
	fi, err := r.lstat(rel)
	return fi != nil && fi.IsDir(), err
}

// readFile reads rel, following symlinks inside the root; a missing file
// gives (nil, false, nil).
func (r rootfs) readFile(rel string) ([]byte, bool, error) {
	p, err := r.resolve(rel)
	if err != nil {
		return nil, false, err
	}
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read /%s: %w", rel, err)
	}
	return data, true, nil
}

// mkdirAll creates rel and its missing parents with mode perm (parents get
// 0755), and returns its host path.
func (r rootfs) mkdirAll(rel string, perm fs.FileMode) (string, error) {
	p, err := r.resolve(rel)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("create /%s: %w", rel, err)
	}
	if err := os.Mkdir(p, perm); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("create /%s: %w", rel, err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return "", fmt.Errorf("create /%s: %w", rel, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("create /%s: exists and is not a directory (%s)", rel, fi.Mode().Type())
	}
	return p, nil
}

// writeFile atomically replaces rel (following symlinks of its parents but
// replacing a symlink at rel itself) with data and mode perm.
func (r rootfs) writeFile(rel string, data []byte, perm fs.FileMode) error {
	p, err := r.path(rel)
	if err != nil {
		return err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write /%s: %w", rel, err)
	}
	f, err := os.CreateTemp(dir, ".apt-ostree-tmp-*")
	if err != nil {
		return fmt.Errorf("write /%s: %w", rel, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write /%s: %w", rel, err)
	}
	return nil
}

// symlink makes rel a symlink to target, replacing a file or symlink
// already there (never a non-empty directory).
func (r rootfs) symlink(target, rel string) error {
	p, err := r.path(rel)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("symlink /%s: %w", rel, err)
	}
	if cur, err := os.Readlink(p); err == nil && cur == target {
		return nil
	}
	tmp := filepath.Join(filepath.Dir(p), ".apt-ostree-tmp-link-"+filepath.Base(p))
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return fmt.Errorf("symlink /%s -> %s: %w", rel, target, err)
	}
	if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
		if err := os.Remove(p); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("symlink /%s -> %s: replace directory: %w", rel, target, err)
		}
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("symlink /%s -> %s: %w", rel, target, err)
	}
	return nil
}

// removeAll removes rel (not following a symlink at rel) and everything
// below it.
func (r rootfs) removeAll(rel string) error {
	p, err := r.path(rel)
	if err != nil {
		return err
	}
	if p == string(r) {
		return fmt.Errorf("remove /%s: refusing to remove the root", rel)
	}
	if err := os.RemoveAll(p); err != nil {
		return fmt.Errorf("remove /%s: %w", rel, err)
	}
	return nil
}

// emptyDir makes rel an empty real directory with mode perm, removing
// whatever was there (a symlink at rel is replaced, not followed).
func (r rootfs) emptyDir(rel string, perm fs.FileMode) error {
	p, err := r.path(rel)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(p)
	switch {
	case err == nil && fi.IsDir():
		ents, err := os.ReadDir(p)
		if err != nil {
			return fmt.Errorf("empty /%s: %w", rel, err)
		}
		for _, e := range ents {
			if err := os.RemoveAll(filepath.Join(p, e.Name())); err != nil {
				return fmt.Errorf("empty /%s: %w", rel, err)
			}
		}
	case err == nil:
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("empty /%s: %w", rel, err)
		}
		fallthrough
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return fmt.Errorf("create /%s: %w", rel, err)
		}
		if err := os.Mkdir(p, perm); err != nil {
			return fmt.Errorf("create /%s: %w", rel, err)
		}
	default:
		return fmt.Errorf("empty /%s: %w", rel, err)
	}
	// Chmod after creation: the umask must not decide /tmp's 1777.
	if err := os.Chmod(p, perm); err != nil {
		return fmt.Errorf("chmod /%s: %w", rel, err)
	}
	return nil
}

// readDirNames lists the names in the real directory rel, sorted; a missing
// directory gives nil.
func (r rootfs) readDirNames(rel string) ([]string, error) {
	p, err := r.path(rel)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list /%s: %w", rel, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("list /%s: not a directory (%s)", rel, fi.Mode().Type())
	}
	ents, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("list /%s: %w", rel, err)
	}
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.Name()
	}
	return names, nil
}

// permBits keeps the permission, setuid, setgid and sticky bits of m.
func permBits(m fs.FileMode) fs.FileMode {
	return m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}
