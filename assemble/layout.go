package assemble

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/apt-ostree/apt-ostree/deb"
)

// A composed, post-processed tree (an OSTree commit's checkout, an image)
// keeps /etc in /usr/etc and the dpkg database in /usr/share/dpkg/database,
// with no /etc and an empty /var. dpkg, the maintainer scripts and deb.Unpack
// expect /etc and /var/lib/dpkg, so while Install works on such a tree it
// presents the usual layout with two symlinks, which it removes afterwards:
//
//	etc          -> usr/etc                         (only when /etc is absent)
//	var/lib/dpkg -> ../../usr/share/dpkg/database   (only when /var/lib/dpkg is absent)
//
// Nothing is moved, so a run killed in between leaves only these links,
// which the next Install recognises and removes. Files the transaction
// writes under /etc land in usr/etc, and the database stays where it was.
// A tree that has both /etc and /usr/etc (a deployment) is used as it is.
// What scripts write to /var stays in /var: post-processing (bootc) turns
// it into tmpfiles.d entries again.
var presentedLinks = []struct{ path, target, realDir string }{
	{"etc", "usr/etc", "usr/etc"},
	{deb.AdminDir, "../../" + deb.OSTreeAdminDir, deb.OSTreeAdminDir},
}

// presentLayout adds the links root needs and returns the function that
// removes them (and var/lib or var it created for them).
func presentLayout(root string) (restore func() error, err error) {
	var undo []func() error
	restore = func() error {
		var errs []error
		for i := len(undo) - 1; i >= 0; i-- {
			errs = append(errs, undo[i]())
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			restore()
		}
	}()
	for _, l := range presentedLinks {
		p := filepath.Join(root, l.path)
		fi, err := os.Lstat(p)
		switch {
		case err == nil && fi.Mode()&fs.ModeSymlink != 0:
			if t, _ := os.Readlink(p); t == l.target {
				// Left by a killed run: ours, removed at the end.
				undo = append(undo, removeLink(p, l.target))
			}
			continue
		case err == nil:
			continue
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("present %s: %w", root, err)
		}
		if fi, err := os.Lstat(filepath.Join(root, l.realDir)); err != nil || !fi.IsDir() {
			continue
		}
		created, err := mkdirAllRecord(filepath.Dir(p), 0o755)
		for _, d := range created { // undone in reverse: deepest first
			undo = append(undo, func() error {
				if err := os.Remove(d); err != nil && !errors.Is(err, fs.ErrNotExist) && !isNotEmpty(err) {
					return err
				}
				return nil
			})
		}
		if err != nil {
			return nil, fmt.Errorf("present %s: %w", root, err)
		}
		if err := os.Symlink(l.target, p); err != nil {
			return nil, fmt.Errorf("present %s: %w", root, err)
		}
		undo = append(undo, removeLink(p, l.target))
	}
	return restore, nil
}

func removeLink(p, target string) func() error {
	return func() error {
		if t, err := os.Readlink(p); err == nil && t == target {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("remove the temporary link %s: %w", p, err)
			}
		}
		return nil
	}
}
