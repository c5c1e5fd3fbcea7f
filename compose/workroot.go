package compose

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/apt-ostree/apt-ostree/internal/workdir"
	"golang.org/x/sys/unix"
)

// newWorkRoot makes the directory a root is built in: an empty "root"
// inside a work directory in parent that names this process as its owner,
// after removing the work directories (whole roots) that killed runs left
// there. ours says that parent and pattern are apt-ostree's alone, so
// unmarked directories of that name (from older versions) go too.
func newWorkRoot(parent, pattern string, ours bool, logger *slog.Logger) (*workdir.Dir, string, error) {
	if err := workdir.RemoveStale(parent, pattern, workdir.CleanOptions{Unmarked: ours, Logger: logger}); err != nil {
		return nil, "", err
	}
	d, err := workdir.Create(parent, pattern)
	if err != nil {
		return nil, "", err
	}
	root := filepath.Join(d.Path(), "root")
	if err := os.Mkdir(root, 0o755); err == nil {
		err = os.Chmod(root, 0o755)
	}
	if err != nil {
		d.Remove()
		return nil, "", fmt.Errorf("make the root in %s: %w", d.Path(), err)
	}
	return d, root, nil
}

func removeWorkRoot(d *workdir.Dir, logger *slog.Logger) {
	if err := d.Remove(); err != nil {
		logger.Warn("could not remove the unfinished root", "dir", d.Path(), "err", err)
	}
}

// checkOutputPaths refuses, before anything is built or committed, output
// files that could not be written afterwards: a run must not fail after
// the ref has moved.
func checkOutputPaths(opts TreeOptions) error {
	for _, o := range []struct{ flag, path string }{
		{"--write-commitid-to", opts.WriteCommitIDTo},
		{"--write-composejson-to", opts.WriteComposeJSONTo},
		{"--touch-if-changed", opts.TouchIfChanged},
	} {
		if o.path == "" {
			continue
		}
		if err := checkWritableFile(o.path); err != nil {
			return fmt.Errorf("compose tree: %s %s: %w", o.flag, o.path, err)
		}
	}
	return nil
}

func checkWritableFile(path string) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return errors.New("is a directory; give a file path")
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("directory %s does not exist; create it first", dir)
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	// The file is written as a temp file in dir renamed over path.
	if err := unix.Access(dir, unix.W_OK|unix.X_OK); err != nil {
		return fmt.Errorf("directory %s is not writable: %w", dir, err)
	}
	return nil
}
