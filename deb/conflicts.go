package deb

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apt-ostree/apt-ostree/internal/rootpath"
)

// installedIndex maps the real root-relative path of every non-"/." .list
// line of an installed base (symlinked directories resolved inside the
// root, so /bin/sh and /usr/bin/sh meet) to its owners.
type installedIndex struct {
	root   string
	owners map[string][]listOwner
	dirs   map[string]string // lexical dir -> real dir, "" for the root
}

type listOwner struct {
	pkg  *Installed
	line string // the path as the owner's .list spells it
}

// realPath returns the real root-relative path (no leading "/") of the
// lexical path line, its parent directories resolved inside the root.
func (ix *installedIndex) realPath(line string) (string, error) {
	rel := strings.Trim(line, "/")
	if rel == "" || rel == "." {
		return "", nil
	}
	dir, base := path.Split(rel)
	dir = strings.TrimSuffix(dir, "/")
	real, ok := ix.dirs[dir]
	if !ok {
		host, err := rootpath.ResolveFollow(ix.root, dir)
		if err != nil {
			return "", err
		}
		r, err := filepath.Rel(ix.root, host)
		if err != nil {
			return "", err
		}
		real = filepath.ToSlash(r)
		if real == "." {
			real = ""
		}
		ix.dirs[dir] = real
	}
	if real == "" {
		return base, nil
	}
	return real + "/" + base, nil
}

func newInstalledIndex(root string, db *Database) (*installedIndex, error) {
	ix := &installedIndex{root: root, owners: map[string][]listOwner{}, dirs: map[string]string{}}
	for _, p := range db.Packages() {
		files, err := db.Files(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if f == "/." {
				continue
			}
			real, err := ix.realPath(f)
			if err != nil {
				return nil, fmt.Errorf("%s of %s: %w", f, p.InfoName(), err)
			}
			ix.owners[real] = append(ix.owners[real], listOwner{pkg: p, line: f})
		}
	}
	return ix, nil
}

// checkInstalled reads the headers of every package's data.tar, before
// anything is written, and decides each path an installed package
// (Options.Installed) owns: a directory (or a symlink to the same
// directory) is shared; a file is taken over when the new package
// Replaces the owner at its installed version (recorded in TakenOver), and
// anything else is an ErrFileConflict naming both packages and the path.
// Reinstalling a package of the same name and architecture, or another
// instance of a Multi-Arch: same package, is not a conflict.
func (u *unpacker) checkInstalled(ctx context.Context, db *Database) error {
	ix, err := newInstalledIndex(u.root, db)
	if err != nil {
		return fmt.Errorf("unpack into %s: index the installed packages: %w", u.root, err)
	}
	var problems []string
	for _, st := range u.states {
		if err := ctx.Err(); err != nil {
			return err
		}
		p, err := u.checkPackage(st, ix)
		if err != nil {
			return err
		}
		problems = append(problems, p...)
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	if len(problems) > 20 {
		problems = append(problems[:20], fmt.Sprintf("... and %d more", len(problems)-20))
	}
	return fmt.Errorf("unpack into %s: %w with installed packages (nothing was written):\n  %s", u.root, ErrFileConflict, strings.Join(problems, "\n  "))
}

func (u *unpacker) checkPackage(st *pkgState, ix *installedIndex) ([]string, error) {
	d, err := st.p.Data()
	if err != nil {
		return nil, err
	}
	defer d.Close()
	var problems []string
	seen := map[string]bool{}
	for {
		h, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, st.p.dataError(err)
		}
		rel, err := cleanMember(h.Name)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", st.p, h.Name, err)
		}
		line := listLine(rel)
		if rel == "" || u.filter.skip(line, h.Typeflag) || h.Typeflag == tar.TypeChar || h.Typeflag == tar.TypeBlock {
			continue
		}
		real, err := ix.realPath(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", st.p, h.Name, err)
		}
		owners := ix.owners[real]
		if len(owners) == 0 {
			continue
		}
		onDisk, err := os.Lstat(u.abs(real))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if shared, err := u.sharedWithDisk(h, real, onDisk); err != nil || shared {
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", st.p, h.Name, err)
			}
			continue
		}
		if h.Typeflag == tar.TypeDir || onDisk != nil && onDisk.IsDir() {
			// Nothing can replace a file by a directory or a directory
			// by a file in place.
			problems = append(problems, fmt.Sprintf("%s: %s (%s) ships a %s where installed package %s has a %s",
				line, st.p.Name(), st.p.Version(), typeName(h.Typeflag), owners[0].pkg.InfoName(), modeName(onDisk)))
			continue
		}
		for _, o := range owners {
			q := o.pkg
			switch {
			case q.Name == st.p.Name() && (q.Arch == st.p.Architecture() || q.MultiArch == "same" && st.p.MultiArchSame()):
				continue
			case replacesNamed(st.p, q.Name, q.Arch, q.Version):
				if !seen[q.InfoName()+"\x00"+o.line] {
					seen[q.InfoName()+"\x00"+o.line] = true
					st.takenOver = append(st.takenOver, Takeover{Path: o.line, From: q.InfoName()})
				}
			default:
				problems = append(problems, fmt.Sprintf("%s: %s (%s) would overwrite a file of installed package %s (%s), which it does not Replaces",
					o.line, st.p.Name(), st.p.Version(), q.InfoName(), q.Version))
			}
		}
	}
	return problems, nil
}

// sharedWithDisk applies dpkg's rules for an existing directory: a
// directory member, or a symlink member, keeps an existing directory (or a
// symlink leading to one, for a directory member; to the same one, for a
// symlink member). A file member over a directory is not shared.
func (u *unpacker) sharedWithDisk(h *tar.Header, real string, fi fs.FileInfo) (bool, error) {
	if fi == nil {
		return false, nil
	}
	isDirLink := func(target string) (string, bool) {
		host, err := rootpath.ResolveFollow(u.root, target)
		if err != nil {
			return "", false
		}
		st, err := os.Stat(host)
		return host, err == nil && st.IsDir()
	}
	switch h.Typeflag {
	case tar.TypeDir:
		if fi.IsDir() {
			return true, nil
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if _, ok := isDirLink(real); ok {
				return true, nil
			}
		}
	case tar.TypeSymlink:
		if fi.IsDir() {
			return true, nil
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			old, ok := isDirLink(real)
			if !ok {
				return false, nil
			}
			target := h.Linkname
			if !strings.HasPrefix(target, "/") {
				target = path.Join(path.Dir(real), target)
			}
			nw, ok := isDirLink(target)
			return ok && old == nw, nil
		}
	}
	return false, nil
}

func typeName(t byte) string {
	switch t {
	case tar.TypeDir:
		return "directory"
	case tar.TypeSymlink:
		return "symlink"
	}
	return "file"
}

func modeName(fi fs.FileInfo) string {
	switch {
	case fi == nil:
		return "file (missing on disk)"
	case fi.IsDir():
		return "directory"
	case fi.Mode()&fs.ModeSymlink != 0:
		return "symlink"
	}
	return "file"
}
