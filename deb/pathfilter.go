package deb

import (
	"archive/tar"
	"fmt"
	"strings"
)

// pathRule is one --path-exclude or --path-include pattern.
type pathRule struct {
	pattern string
	include bool
}

// pathFilter decides, as dpkg's filters do (src/main/filters.c), which
// data.tar members are left out of the root. Filtered paths stay in the
// package's .list (dpkg lists them too) but get no md5sum of their own.
type pathFilter []pathRule

// newPathFilter builds the filter of Options.PathExclude and PathInclude,
// in the order dpkg would apply "--path-exclude=<each> --path-include=<each>".
func newPathFilter(exclude, include []string) (pathFilter, error) {
	var f pathFilter
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
