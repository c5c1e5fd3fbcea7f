package assemble

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

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
	pkgs, err := readStatus(sb.root)
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
			if err := removeFromPackage(sb.root, p, res); err != nil {
				return fmt.Errorf("package %s: %w", p.ID(), err)
			}
		}
	}
	return nil
}

func removeFromPackage(root string, p pkgState, res []*regexp.Regexp) error {
	listPath := infoPath(root, p, "list")
	list, err := os.ReadFile(listPath)
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
	paths := strings.Split(strings.TrimRight(string(list), "\n"), "\n")
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
	var kept bytes.Buffer
	for _, path := range paths {
		if !removed[path] {
			kept.WriteString(path + "\n")
		}
	}
	if err := rewriteInfo(listPath, kept.Bytes()); err != nil {
		return err
	}
	sumsPath := infoPath(root, p, "md5sums")
	if sums, err := os.ReadFile(sumsPath); err == nil {
		var out bytes.Buffer
		sc := bufio.NewScanner(bytes.NewReader(sums))
		for sc.Scan() {
			line := sc.Text()
			if _, path, ok := strings.Cut(line, "  "); ok && removed["/"+path] {
				continue
			}
			out.WriteString(line + "\n")
		}
		if err := rewriteInfo(sumsPath, out.Bytes()); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var gone []string
	for _, c := range p.Conffiles {
		if removed[c] {
			gone = append(gone, c)
		}
	}
	if len(gone) > 0 {
		return dropConffiles(root, p, gone)
	}
	return nil
}

func rewriteInfo(p string, data []byte) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	return writeFileAtomic(p, data, fi.Mode().Perm())
}

// dropConffiles removes paths from the Conffiles field of p's status
// stanza, editing the file's text so every other byte stays as dpkg wrote it.
func dropConffiles(root string, p pkgState, paths []string) error {
	statusPath := filepath.Join(root, statusFile)
	b, err := os.ReadFile(statusPath)
	if err != nil {
		return err
	}
	drop := map[string]bool{}
	for _, c := range paths {
		drop[c] = true
	}
	stanzas := strings.Split(string(b), "\n\n")
	for i, st := range stanzas {
		f, err := parseDeb822([]byte(st))
		if err != nil || len(f) != 1 || f[0]["package"] != p.Name || f[0]["architecture"] != p.Arch {
			continue
		}
		var out []string
		inConffiles := false
		for _, line := range strings.Split(st, "\n") {
			if !strings.HasPrefix(line, " ") {
				inConffiles = strings.HasPrefix(strings.ToLower(line), "conffiles:")
			} else if inConffiles {
				if w := strings.Fields(line); len(w) > 0 && drop[w[0]] {
					continue
				}
			}
			out = append(out, line)
		}
		stanzas[i] = strings.Join(out, "\n")
		// A Conffiles field left without entries is dropped too.
		stanzas[i] = regexp.MustCompile(`(?m)^Conffiles:[ \t]*\n(?:([A-Z]))`).ReplaceAllString(stanzas[i], "$1")
		stanzas[i] = strings.TrimSuffix(stanzas[i], "\nConffiles:")
	}
	fi, err := os.Stat(statusPath)
	if err != nil {
		return err
	}
	return writeFileAtomic(statusPath, []byte(strings.Join(stanzas, "\n\n")), fi.Mode().Perm())
}
