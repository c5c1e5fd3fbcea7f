package workdir

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// OwnerFile is the file inside every work directory that its owner holds
// an exclusive flock on while it uses the directory; it contains the
// owner's pid.
const OwnerFile = ".apt-ostree-owner"

// Dir is a work directory owned by this process until Remove.
type Dir struct {
	path  string
	owner *os.File
}

// Path returns the directory's path.
func (d *Dir) Path() string { return d.path }

// Create makes a new directory in parent whose name is pattern with the
// last "*" replaced by a random string (os.MkdirTemp's rule), owned by
// this process: RemoveStale in another process leaves it alone until
// this process calls Remove or dies.
func Create(parent, pattern string) (*Dir, error) {
	// A RemoveStale running at the same moment can take a directory
	// between MkdirTemp and the flock below; the checks after the flock
	// notice that, and a fresh name is tried.
	for range 10 {
		p, err := os.MkdirTemp(parent, pattern)
		if err != nil {
			return nil, fmt.Errorf("create work directory in %s: %w", parent, err)
		}
		f, err := os.OpenFile(filepath.Join(p, OwnerFile), os.O_RDWR|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if errors.Is(err, fs.ErrExist) || errors.Is(err, fs.ErrNotExist) {
			continue // a RemoveStale got there first
		}
		if err != nil {
			os.Remove(p)
			return nil, fmt.Errorf("create work directory %s: %w", p, err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				continue
			}
			return nil, fmt.Errorf("lock work directory %s: %w", p, err)
		}
		if !sameFile(f, filepath.Join(p, OwnerFile)) {
			f.Close()
			continue
		}
		if _, err := f.WriteString(strconv.Itoa(os.Getpid()) + "\n"); err != nil {
			d := &Dir{path: p, owner: f}
			d.Remove()
			return nil, fmt.Errorf("create work directory %s: %w", p, err)
		}
		return &Dir{path: p, owner: f}, nil
	}
	return nil, fmt.Errorf("create work directory in %s: another process keeps removing new directories", parent)
}

func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}

// Remove deletes the directory with everything in it (see RemoveAll) and
// gives up ownership. It is safe to call more than once.
func (d *Dir) Remove() error {
	if d.owner == nil {
		return nil
	}
	err := RemoveAll(d.path)
	d.owner.Close()
	d.owner = nil
	if err != nil {
		return fmt.Errorf("remove work directory: %w", err)
	}
	return nil
}

// CleanOptions tune RemoveStale.
type CleanOptions struct {
	// Unmarked also removes matching directories that have no owner file
	// (left by versions that did not mark them). Set it only where no one
	// but this program makes directories of that name.
	Unmarked bool
	// Logger gets a line per removed directory; default slog.Default().
	Logger *slog.Logger
}

// RemoveStale removes the work directories in parent whose names match
// pattern (as given to Create) and whose owner is gone: nobody holds the
// owner file's lock and the pid in it is not a running process. Each
// removal is logged at info level; a directory that cannot be removed is
// logged as a warning and left. A missing parent is not an error.
func RemoveStale(parent, pattern string, opts CleanOptions) error {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	ents, err := os.ReadDir(parent)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look for stale work directories in %s: %w", parent, err)
	}
	prefix, suffix := pattern, ""
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 {
		prefix, suffix = pattern[:i], pattern[i+1:]
	}
	for _, e := range ents {
		name := e.Name()
		if !e.IsDir() || len(name) < len(prefix)+len(suffix) || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, suffix) {
			continue
		}
		p := filepath.Join(parent, name)
		pid, stale, err := claim(p, opts.Unmarked)
		if err != nil {
			logger.Warn("cannot check work directory left by an earlier run", "dir", p, "err", err)
			continue
		}
		if stale == nil {
			continue
		}
		err = RemoveAll(p)
		stale.Close()
		if err != nil {
			logger.Warn("cannot remove work directory left by an earlier run", "dir", p, "err", err)
			continue
		}
		logger.Info("removed work directory left by an earlier run that is no longer running", "dir", p, "pid", pid)
	}
	return nil
}

// claim takes the owner lock of the work directory p if its owner is
// gone and returns the locked owner file (nil when the directory is in
// use, vanished, or unmarked and unmarked is false) and the pid recorded
// in it (0 if none).
func claim(p string, unmarked bool) (pid int, locked *os.File, err error) {
	flags := os.O_RDWR | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if unmarked {
		// Creating the file also stops a Create that is between its
		// MkdirTemp and its own O_EXCL create of the file.
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(filepath.Join(p, OwnerFile), flags, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil, nil // removed meanwhile, or unmarked
	}
	if err != nil {
		return 0, nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return 0, nil, nil // its owner is working in it
		}
		return 0, nil, err
	}
	if !sameFile(f, filepath.Join(p, OwnerFile)) {
		f.Close()
		return 0, nil, nil // removed meanwhile
	}
	buf := make([]byte, 32)
	n, _ := f.ReadAt(buf, 0)
	pid, _ = strconv.Atoi(strings.TrimSpace(string(buf[:n])))
	if pid > 0 && pid != os.Getpid() && running(pid) {
		// The lock is free but the process lives: a filesystem without
		// working flock, or a pid reused. Keep the directory rather than
		// risk removing one in use.
		f.Close()
		return pid, nil, nil
	}
	return pid, f, nil
}

func running(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// RemoveAll removes path and everything below it like os.RemoveAll, also
// when the tree holds directories without write or search permission (a
// root's read-only directories, a maintainer script's chmod 0): those are
// made accessible first where this process may change them.
func RemoveAll(path string) error {
	err := os.RemoveAll(path)
	if err == nil || !errors.Is(err, fs.ErrPermission) {
		return err
	}
	filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			// Called before the directory is read, so a 0 mode directory
			// becomes readable in time.
			if info, ierr := d.Info(); ierr == nil && info.Mode().Perm()&0o700 != 0o700 {
				os.Chmod(p, info.Mode().Perm()|0o700)
			}
		}
		return nil
	})
	return os.RemoveAll(path)
}
