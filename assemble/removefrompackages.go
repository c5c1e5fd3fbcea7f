package assemble

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/apt-ostree/apt-ostree/deb"
	"github.com/apt-ostree/apt-ostree/internal/rootpath"
)

// RemoveFromPackage is one remove-from-packages entry: delete the files of
// Package ("name" or "name:arch") whose path matches any of Patterns.
type RemoveFromPackage struct {
	Package  string
	Patterns []string // regular expressions, unanchored, matched against the dpkg path ("/usr/share/...")
}

// RemoveFromPackagesStep deletes matching files of installed packages and
// keeps dpkg's database consistent: the paths leave the package's .list
// and .md5sums, and its Conffiles in status, so dpkg --verify and
// dpkg --audit stay quiet. A matching directory goes only if it is then
// empty (others may own what is in it).
type RemoveFromPackagesStep struct{ Rules []RemoveFromPackage }

func (RemoveFromPackagesStep) Name() string { return "remove-from-packages" }

func (s RemoveFromPackagesStep) Verify() error {
	for _, r := range s.Rules {
		if r.Package == "" || len(r.Patterns) == 0 {
			return fmt.Errorf("entry %q: want a package name and at least one pattern", r.Package)
		}
		for _, p := range r.Patterns {
			if _, err := regexp.Compile(p); err != nil {
				return fmt.Errorf("package %s: pattern %q: %w", r.Package, p, err)
			}
		}
	}
	return nil
}

func (s RemoveFromPackagesStep) Run(ctx context.Context, sb *Sandbox) error {
	db, pkgs, err := readStatus(sb.root)
	if err != nil {
		return err
	}
	for _, r := range s.Rules {
		name, arch, _ := strings.Cut(r.Package, ":")
		var match []pkgState
		for _, p := range pkgs {
			if p.Name == name && (arch == "" || p.Arch == arch) && p.State != "not-installed" {
				match = append(match, p)
			}
		}
		if len(match) == 0 {
			return fmt.Errorf("package %s is not installed in %s", r.Package, sb.root)
		}
		var res []*regexp.Regexp
		for _, p := range r.Patterns {
			res = append(res, regexp.MustCompile(p))
		}
		for _, p := range match {
			if err := removeFromPackage(sb.root, db, p.inst, res); err != nil {
				return fmt.Errorf("package %s: %w", p.ID(), err)
			}
		}
	}
	return nil
}

func removeFromPackage(root string, db *deb.Database, p *deb.Installed, res []*regexp.Regexp) error {
	paths, err := db.Files(p)
	if err != nil {
		return err
	}
	matches := func(path string) bool {
		for _, re := range res {
			if re.MatchString(path) {
				return true
			}
		}
		return false
	}
	removed := map[string]bool{}
	var dirs []string
	for _, path := range paths {
		if path == "" || path == "/." || !matches(path) {
			continue
		}
		host, err := rootpath.Resolve(root, path)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(host)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			removed[path] = true
		case err != nil:
			return err
		case fi.IsDir():
			dirs = append(dirs, path)
		default:
			if err := os.Remove(host); err != nil {
				return err
			}
			removed[path] = true
		}
	}
	// Deepest first, so a matching tree empties bottom-up.
	for i := len(dirs) - 1; i >= 0; i-- {
		host, err := rootpath.Resolve(root, dirs[i])
		if err != nil {
			return err
		}
		if err := os.Remove(host); err == nil {
			removed[dirs[i]] = true
		} else if !isNotEmpty(err) {
			return err
		}
	}
	if len(removed) == 0 {
		return nil
	}
	var kept []string
	for _, path := range paths {
		if !removed[path] {
			kept = append(kept, path)
		}
	}
	// SetFiles drops the paths from .md5sums too.
	if err := db.SetFiles(p, kept); err != nil {
		return err
	}
	var conff []deb.Conffile
	for _, c := range p.Conffiles {
		if !removed[c.Path] {
			conff = append(conff, c)
		}
	}
	if len(conff) == len(p.Conffiles) {
		return nil
	}
	changed := *p
	changed.Conffiles = conff
	return db.UpdateStatus([]*deb.Installed{&changed})
}
