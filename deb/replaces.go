package deb

import (
	"strings"

	"pault.ag/go/debian/version"
)

// replaces reports whether a's Replaces field names b (by package name, an
// optional ":any"/":<arch>" qualifier, and a version restriction), as
// dpkg's does_replace decides: Provides are not considered.
func replaces(a, b *Package) bool {
	return replacesNamed(a, b.Name(), b.Architecture(), b.Version())
}

// replacesNamed is replaces for a package b known by name, architecture
// and version (an installed one).
func replacesNamed(a *Package, name, arch, ver string) bool {
	field := a.Control.Get("Replaces")
	if field == "" {
		return false
	}
	for _, rel := range strings.Split(field, ",") {
		for _, alt := range strings.Split(rel, "|") {
			if relationMatches(strings.TrimSpace(strings.ReplaceAll(alt, "\n", " ")), name, arch, ver) {
				return true
			}
		}
	}
	return false
}

func relationMatches(rel, bName, bArch, bVersion string) bool {
	name, restr, _ := strings.Cut(rel, "(")
	name = strings.TrimSpace(name)
	if i := strings.IndexByte(name, '['); i >= 0 {
		name = strings.TrimSpace(name[:i])
	}
	if n, arch, ok := strings.Cut(name, ":"); ok {
		name = n
		if arch != "any" && arch != bArch {
			return false
		}
	}
	if name != bName {
		return false
	}
	restr, _, _ = strings.Cut(restr, ")")
	restr = strings.TrimSpace(restr)
	if restr == "" {
		return true
	}
	op := restr[:strings.IndexAny(restr+" ", " 0123456789")]
	want := strings.TrimSpace(restr[len(op):])
	if op == "" {
		op = "="
	}
	wv, err := version.Parse(want)
	if err != nil {
		return false
	}
	bv, err := version.Parse(bVersion)
	if err != nil {
		return false
	}
	c := version.Compare(bv, wv)
	switch op {
	case "<<":
		return c < 0
	case "<=", "<":
		return c <= 0
	case "=":
		return c == 0
	case ">=", ">":
		return c >= 0
	case ">>":
		return c > 0
	}
	return false
}
