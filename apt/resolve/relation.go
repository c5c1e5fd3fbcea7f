package resolve

import (
	"fmt"
	"strings"
)

// Op is the version operator of a relation.
type Op uint8

// Version operators, as written in control files.
const (
	OpNone Op = iota
	OpLT      // <<
	OpLE      // <= (also the obsolete <)
	OpEQ      // =
	OpGE      // >= (also the obsolete >)
	OpGT      // >>
)

func (o Op) String() string {
	return [...]string{"", "<<", "<=", "=", ">=", ">>"}[o]
}

// Relation is one alternative of a dependency field, e.g.
// "libc6:any (>= 2.36) [amd64] <!nocheck>".
type Relation struct {
	Name string
	// Arch is the qualifier after ':' ("any", "native" or an architecture),
	// or "" when there is none.
	Arch    string
	Op      Op
	Version string
	// Archs is the architecture restriction list ("[amd64 arm64]"), with
	// NotArchs set when every entry was negated ("[!i386]").
	Archs    []string
	NotArchs bool
	// Profiles is the build-profile restriction: a list of "<...>" groups,
	// each a list of terms such as "nocheck" or "!stage1".
	Profiles [][]string
}

// String formats the relation as it would appear in a control file,
// without restrictions.
func (r Relation) String() string {
	s := r.Name
	if r.Arch != "" {
		s += ":" + r.Arch
	}
	if r.Op != OpNone {
		s += " (" + r.Op.String() + " " + r.Version + ")"
	}
	return s
}

// Applies reports whether the relation's architecture and build-profile
// restrictions keep it for the given host architecture. No build profile is
// ever active when installing, so a profile group matches only if all its
// terms are negated.
func (r Relation) Applies(arch string) bool {
	if len(r.Archs) > 0 {
		hit := false
		for _, a := range r.Archs {
			if archMatches(a, arch) {
				hit = true
				break
			}
		}
		if hit == r.NotArchs {
			return false
		}
	}
	if len(r.Profiles) == 0 {
		return true
	}
	for _, group := range r.Profiles {
		ok := true
		for _, term := range group {
			if !strings.HasPrefix(term, "!") {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// Satisfies reports whether version v satisfies the relation's version
// constraint.
func (r Relation) Satisfies(v string) bool {
	if r.Op == OpNone {
		return true
	}
	c := CompareVersions(v, r.Version)
	switch r.Op {
	case OpLT:
		return c < 0
	case OpLE:
		return c <= 0
	case OpEQ:
		return c == 0
	case OpGE:
		return c >= 0
	default:
		return c > 0
	}
}

// archMatches matches an architecture or wildcard ("any", "linux-any",
// "any-amd64") against a Debian architecture name.
func archMatches(pattern, arch string) bool {
	if pattern == "any" || pattern == arch {
		return true
	}
	pos, pcpu, ok := strings.Cut(pattern, "-")
	if !ok {
		return false
	}
	os, cpu := "linux", arch
	if o, c, ok := strings.Cut(arch, "-"); ok {
		os, cpu = o, c
	}
	return (pos == "any" || pos == os) && (pcpu == "any" || pcpu == cpu)
}

// ParseRelations parses a relation field (Depends, Pre-Depends, Conflicts,
// Provides, ...) into groups of alternatives. Unlike lenient parsers it
// rejects anything that is not well-formed: empty alternatives, bad package
// names, bad operators or versions, unbalanced brackets.
func ParseRelations(field string) ([][]Relation, error) {
	p := relParser{s: field}
	p.skipSpace()
	if p.i == len(p.s) {
		return nil, nil
	}
	var groups [][]Relation
	for {
		var alts []Relation
		for {
			r, err := p.relation()
			if err != nil {
				return nil, fmt.Errorf("%q: %w", field, err)
			}
			alts = append(alts, r)
			p.skipSpace()
			if p.peek() != '|' {
				break
			}
			p.i++
		}
		groups = append(groups, alts)
		p.skipSpace()
		if p.i == len(p.s) {
			return groups, nil
		}
		if p.peek() != ',' {
			return nil, fmt.Errorf("%q: unexpected %q at offset %d", field, p.s[p.i], p.i)
		}
		p.i++
	}
}

type relParser struct {
	s string
	i int
}

func (p *relParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *relParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// token reads a run of bytes accepted by ok.
func (p *relParser) token(ok func(byte) bool) string {
	start := p.i
	for p.i < len(p.s) && ok(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || isDigit(c) || c == '+' || c == '-' || c == '.'
}

func isArchChar(c byte) bool { return c >= 'a' && c <= 'z' || isDigit(c) || c == '-' }

func isVersionChar(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '.' || c == '+' || c == '-' || c == '~' || c == ':'
}

func isProfileChar(c byte) bool { return isArchChar(c) || c == '.' || c == '+' }

func (p *relParser) relation() (Relation, error) {
	var r Relation
	p.skipSpace()
	r.Name = p.token(isNameChar)
	if r.Name == "" {
		if p.i == len(p.s) {
			return r, fmt.Errorf("missing package name at end")
		}
		return r, fmt.Errorf("expected a package name at offset %d, found %q", p.i, p.s[p.i])
	}
	if !isDigit(r.Name[0]) && !(r.Name[0] >= 'a' && r.Name[0] <= 'z') {
		return r, fmt.Errorf("bad package name %q", r.Name)
	}
	if p.peek() == ':' {
		p.i++
		r.Arch = p.token(isArchChar)
		if r.Arch == "" {
			return r, fmt.Errorf("empty architecture qualifier after %q", r.Name)
		}
	}
	p.skipSpace()
	if p.peek() == '(' {
		p.i++
		p.skipSpace()
		op := p.token(func(c byte) bool { return c == '<' || c == '>' || c == '=' })
		switch op {
		case "<<":
			r.Op = OpLT
		case "<=", "<":
			r.Op = OpLE
		case "=":
			r.Op = OpEQ
		case ">=", ">":
			r.Op = OpGE
		case ">>":
			r.Op = OpGT
		default:
			return r, fmt.Errorf("bad version operator %q for %s", op, r.Name)
		}
		p.skipSpace()
		r.Version = p.token(isVersionChar)
		if r.Version == "" || !validVersion(r.Version) {
			return r, fmt.Errorf("bad version in relation on %s", r.Name)
		}
		p.skipSpace()
		if p.peek() != ')' {
			return r, fmt.Errorf("missing ')' in relation on %s", r.Name)
		}
		p.i++
		p.skipSpace()
	}
	if p.peek() == '[' {
		p.i++
		for {
			p.skipSpace()
			if p.peek() == ']' {
				p.i++
				break
			}
			neg := false
			if p.peek() == '!' {
				neg = true
				p.i++
			}
			a := p.token(isArchChar)
			if a == "" {
				return r, fmt.Errorf("bad architecture restriction in relation on %s", r.Name)
			}
			if len(r.Archs) > 0 && neg != r.NotArchs {
				return r, fmt.Errorf("architecture restriction on %s mixes negated and plain entries", r.Name)
			}
			r.NotArchs = neg
			r.Archs = append(r.Archs, a)
		}
		if len(r.Archs) == 0 {
			return r, fmt.Errorf("empty architecture restriction on %s", r.Name)
		}
		p.skipSpace()
	}
	for p.peek() == '<' {
		p.i++
		var group []string
		for {
			p.skipSpace()
			if p.peek() == '>' {
				p.i++
				break
			}
			neg := ""
			if p.peek() == '!' {
				neg = "!"
				p.i++
			}
			t := p.token(isProfileChar)
			if t == "" {
				return r, fmt.Errorf("bad build profile restriction in relation on %s", r.Name)
			}
			group = append(group, neg+t)
		}
		if len(group) == 0 {
			return r, fmt.Errorf("empty build profile restriction on %s", r.Name)
		}
		r.Profiles = append(r.Profiles, group)
		p.skipSpace()
	}
	return r, nil
}

// validVersion checks the shape dpkg requires: an optional numeric epoch,
// and an upstream part that starts with a digit.
func validVersion(v string) bool {
	if e, rest, ok := strings.Cut(v, ":"); ok {
		if e == "" || strings.TrimFunc(e, func(c rune) bool { return c >= '0' && c <= '9' }) != "" {
			return false
		}
		v = rest
	}
	if strings.LastIndexByte(v, '-') == len(v)-1 {
		return false
	}
	return v != "" && isDigit(v[0])
}
