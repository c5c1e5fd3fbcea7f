package deb

import (
	"archive/tar"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// PathFilter is one dpkg --path-exclude (Include false) or --path-include
// pattern.
type PathFilter struct {
	Pattern string
	Include bool
}

// pathRule is one --path-exclude or --path-include pattern.
type pathRule struct {
	pattern string
	include bool
}

// pathFilter decides, as dpkg's filters do (src/main/filters.c), which
// data.tar members are left out of the root. Filtered paths stay in the
// package's .list (dpkg lists them too) but get no md5sum of their own.
type pathFilter []pathRule

// newPathFilter builds the filter of Options.PathFilters, then
// PathExclude and PathInclude, in the order dpkg would apply
// "<each filter> --path-exclude=<each> --path-include=<each>".
func newPathFilter(filters []PathFilter, exclude, include []string) (pathFilter, error) {
	var f pathFilter
	for _, r := range filters {
		if !strings.HasPrefix(r.Pattern, "/") {
			return nil, fmt.Errorf("PathFilters pattern %q: must be absolute, as dpkg's --path-exclude/--path-include", r.Pattern)
		}
		f = append(f, pathRule{pattern: r.Pattern, include: r.Include})
	}
	for _, list := range []struct {
		pats    []string
		include bool
		opt     string
	}{{exclude, false, "PathExclude"}, {include, true, "PathInclude"}} {
		for _, p := range list.pats {
			if !strings.HasPrefix(p, "/") {
				return nil, fmt.Errorf("%s pattern %q: must be absolute, as dpkg's --path-exclude/--path-include", list.opt, p)
			}
			f = append(f, pathRule{pattern: p, include: list.include})
		}
	}
	return f, nil
}

// ReadPathFilters returns the path-exclude and path-include options of the
// dpkg configuration in dir of fsys ("etc/dpkg" of a root, or wherever an
// image keeps its /etc), in the order dpkg reads them: the files of
// dpkg.cfg.d whose names are only letters, digits, "_" and "-", sorted,
// then dpkg.cfg. Pass them as Options.PathFilters so that packages added
// to an image are filtered as dpkg in it would filter them.
func ReadPathFilters(fsys fs.FS, dir string) ([]PathFilter, error) {
	var files []string
	ents, err := fs.ReadDir(fsys, path.Join(dir, "dpkg.cfg.d"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		if validConfigName(e.Name()) && !e.IsDir() {
			files = append(files, path.Join(dir, "dpkg.cfg.d", e.Name()))
		}
	}
	sort.Strings(files)
	files = append(files, path.Join(dir, "dpkg.cfg"))
	var out []PathFilter
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' {
				continue
			}
			opt, val := configOption(line)
			switch opt {
			case "path-exclude", "path-include":
				if !strings.HasPrefix(val, "/") {
					return nil, fmt.Errorf("/%s line %d: %s %q is not an absolute pattern", f, i+1, opt, val)
				}
				out = append(out, PathFilter{Pattern: val, Include: opt == "path-include"})
			}
		}
	}
	return out, nil
}

// configOption splits a dpkg configuration line as dpkg does: the option
// is a run of letters, digits and "-"; one separator character follows,
// then an optional "=", blanks, and the value, quotes stripped.
func configOption(line string) (opt, val string) {
	i := 0
	for i < len(line) && (line[i] >= 'a' && line[i] <= 'z' || line[i] >= 'A' && line[i] <= 'Z' || line[i] >= '0' && line[i] <= '9' || line[i] == '-') {
		i++
	}
	if i >= len(line) {
		return line, ""
	}
	val = strings.TrimLeft(strings.TrimPrefix(line[i+1:], "="), " \t")
	if len(val) >= 2 && (val[0] == '"' || val[0] == '\'') && val[len(val)-1] == val[0] {
		val = val[1 : len(val)-1]
	}
	return line[:i], val
}

func validConfigName(n string) bool {
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return n != ""
}

// skip reports whether the member at .list path line ("/usr/share/doc/x")
// is left out. The last matching pattern wins; a directory or symlink that
// would be skipped is kept when an include pattern's fixed prefix (the part
// before its first wildcard) is a prefix of it, so that what the include
// brings back has somewhere to go.
func (f pathFilter) skip(line string, typ byte) bool {
	if len(f) == 0 {
		return false
	}
	skip := false
	for _, r := range f {
		if fnmatch(r.pattern, line) {
			skip = !r.include
		}
	}
	if skip && (typ == tar.TypeDir || typ == tar.TypeSymlink) {
		for _, r := range f {
			if !r.include {
				continue
			}
			fixed := r.pattern
			if i := strings.IndexAny(fixed, "*?[\\"); i >= 0 {
				fixed = fixed[:i]
			}
			// strncmp(name, pattern, len(fixed)) == 0 in dpkg.
			if strings.HasPrefix(line, fixed) {
				return false
			}
		}
	}
	return skip
}

// fnmatch is fnmatch(3) with no flags, as dpkg calls it: "*" and "?" also
// match "/" and a leading ".", "[...]" is a bracket expression ("!" or "^"
// negates, "a-z" ranges), "\" quotes the next character (a trailing one
// matches nothing). A "[" without a closing "]" matches itself.
func fnmatch(pattern, name string) bool {
	p, n := 0, 0
	// Backtracking point for the last "*": pattern index after it and
	// the name index it currently swallows up to.
	starP, starN := -1, 0
	for n < len(name) || p < len(pattern) {
		if p < len(pattern) {
			switch c := pattern[p]; c {
			case '*':
				starP, starN = p+1, n
				p++
				continue
			case '?':
				if n < len(name) {
					p++
					n++
					continue
				}
			case '[':
				if n < len(name) {
					if ok, next, valid := matchBracket(pattern, p, name[n]); valid {
						if ok {
							p, n = next, n+1
							continue
						}
						break
					}
					if name[n] == '[' {
						p++
						n++
						continue
					}
				}
			case '\\':
				if p+1 < len(pattern) {
					if n < len(name) && name[n] == pattern[p+1] {
						p += 2
						n++
						continue
					}
					break
				}
				// A trailing "\" matches nothing, as in glibc.
				return false
			default:
				if n < len(name) && name[n] == c {
					p++
					n++
					continue
				}
			}
		}
		if starP >= 0 && starN < len(name) {
			starN++
			p, n = starP, starN
			continue
		}
		return false
	}
	return true
}

// matchBracket matches c against the bracket expression at pattern[p]
// ("["). valid is false when the expression has no closing "]".
func matchBracket(pattern string, p int, c byte) (ok bool, next int, valid bool) {
	i := p + 1
	negate := false
	if i < len(pattern) && (pattern[i] == '!' || pattern[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(pattern) {
		if pattern[i] == ']' && !first {
			return ok != negate, i + 1, true
		}
		first = false
		lo := pattern[i]
		if lo == '\\' && i+1 < len(pattern) {
			i++
			lo = pattern[i]
		}
		i++
		hi := lo
		if i+1 == len(pattern) && pattern[i] == '-' {
			return false, 0, true // "[a-" at the end: glibc matches nothing
		}
		if i+1 < len(pattern) && pattern[i] == '-' && pattern[i+1] != ']' {
			hi = pattern[i+1]
			if hi == '\\' && i+2 < len(pattern) {
				hi = pattern[i+2]
				i++
			}
			i += 2
		}
		if lo <= c && c <= hi {
			ok = true
		}
	}
	return false, 0, false
}

// skipMember records a member left out by the path filter: listed, not
// written, not hashed.
func (st *pkgState) skipMember(rel, line string) error {
	if st.filtered == nil {
		st.filtered = map[string]bool{}
	}
	st.filtered[rel] = true
	st.entries = append(st.entries, entry{line: line, rel: rel})
	return nil
}
