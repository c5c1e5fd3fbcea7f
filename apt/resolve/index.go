package resolve

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/apt-ostree/apt-ostree/apt"
)

// index is the universe prepared for one resolution: packages by name and
// by what they provide, with relation fields parsed only for the packages
// the solver looks at.
type index struct {
	arch     string
	byName   map[string][]*apt.Package // highest version first, native arch before foreign
	provides map[string][]provider
	// base lists the names of Essential: yes and Priority: required
	// packages of the native architecture or arch all, in universe order.
	base []string
	rels map[*apt.Package]*pkgRels
	// provErr records Provides fields that failed to parse; such a package
	// is no provider, and installing it is an error.
	provErr map[*apt.Package]error
	// excluded holds the exclude-packages names that had packages.
	excluded map[string]bool
	// restrict limits names to pinned or locked versions.
	restrict map[string]*restriction
	// installed holds the frozen base (Request.Installed).
	installed map[*apt.Package]bool
}

type provider struct {
	pkg     *apt.Package
	version string // "" for an unversioned Provides
	pos     int    // the provider's position in the universe, the last tie-breaker
}

// restriction is a pin (from "name=version" in the request) or a lock
// (from a lockfile) on a package name.
type restriction struct {
	pin     string        // version pinned by the request, or ""
	pinText string        // the request entry that pinned it
	locks   []lockedBuild // allowed builds from the lockfile, or nil
}

type lockedBuild struct{ version, arch, sha256 string }

func (r *restriction) allows(p *apt.Package) bool {
	if r.pin != "" && CompareVersions(p.Version, r.pin) != 0 {
		return false
	}
	if r.locks == nil {
		return true
	}
	for _, l := range r.locks {
		if l.version == p.Version && (l.arch == "" || l.arch == p.Architecture) &&
			(l.sha256 == "" || strings.EqualFold(l.sha256, p.SHA256)) {
			return true
		}
	}
	return false
}

type pkgRels struct {
	pre, dep, rec [][]Relation // only groups whose restrictions apply
	conflicts     []Relation   // Conflicts
	breaks        []Relation   // Breaks
	provides      []Relation
}

func newIndex(universe []*apt.Package, arch string, exclude map[string]bool) *index {
	idx := &index{
		arch:      arch,
		byName:    make(map[string][]*apt.Package, len(universe)),
		provides:  make(map[string][]provider, len(universe)),
		rels:      make(map[*apt.Package]*pkgRels),
		provErr:   make(map[*apt.Package]error),
		excluded:  make(map[string]bool),
		restrict:  make(map[string]*restriction),
		installed: make(map[*apt.Package]bool),
	}
	// Most names have one package and most provided names one provider:
	// their one-element lists are capacity-limited windows into shared
	// arrays, so building the index costs a few allocations instead of one
	// per package (a later append copies out of the shared array).
	pkgSlots := make([]*apt.Package, 0, len(universe))
	var provSlots []provider
	var scratch []provided
	for i, p := range universe {
		if exclude[p.Name] {
			idx.excluded[p.Name] = true
			continue
		}
		if list, ok := idx.byName[p.Name]; ok {
			idx.byName[p.Name] = append(list, p)
		} else {
			pkgSlots = append(pkgSlots, p)
			n := len(pkgSlots)
			idx.byName[p.Name] = pkgSlots[n-1 : n : n]
		}
		if (p.Essential || p.Priority == "required") && idx.archRank(p) == 0 {
			idx.base = append(idx.base, p.Name)
		}
		if p.Provides == "" {
			continue
		}
		err := scanProvides(p.Provides, &scratch, func(name, version string) {
			pv := provider{pkg: p, version: version, pos: i}
			if list, ok := idx.provides[name]; ok {
				idx.provides[name] = append(list, pv)
				return
			}
			if len(provSlots) == cap(provSlots) {
				provSlots = make([]provider, 0, 4096)
			}
			provSlots = append(provSlots, pv)
			n := len(provSlots)
			idx.provides[name] = provSlots[n-1 : n : n]
		})
		if err != nil {
			idx.provErr[p] = err
		}
	}
	for name, list := range idx.byName {
		if len(list) < 2 {
			continue
		}
		slices.SortStableFunc(list, func(a, b *apt.Package) int {
			if c := CompareVersions(b.Version, a.Version); c != 0 {
				return c
			}
			return cmp.Compare(idx.archRank(a), idx.archRank(b))
		})
		// The same build found in two suites is one candidate.
		idx.byName[name] = slices.CompactFunc(list, func(a, b *apt.Package) bool {
			return a.Version == b.Version && a.Architecture == b.Architecture && a.SHA256 == b.SHA256
		})
	}
	return idx
}

func parseProvides(field string) ([]Relation, error) {
	groups, err := ParseRelations(field)
	if err != nil {
		return nil, err
	}
	out := make([]Relation, 0, len(groups))
	for _, g := range groups {
		if len(g) != 1 {
			return nil, fmt.Errorf("%q: alternatives are not allowed in Provides", field)
		}
		r := g[0]
		if r.Arch != "" || (r.Op != OpNone && r.Op != OpEQ) || len(r.Archs) > 0 || len(r.Profiles) > 0 {
			return nil, fmt.Errorf("%q: Provides allows only \"name\" or \"name (= version)\"", field)
		}
		out = append(out, r)
	}
	return out, nil
}

// scanProvides calls fn for each "name" or "name (= version)" entry of a
// Provides field, without allocating beyond scratch. A field with
// anything else is an error and fn is not called.
func scanProvides(field string, scratch *[]provided, fn func(name, version string)) error {
	*scratch = (*scratch)[:0]
	if !walkProvides(field, func(n, v string) { *scratch = append(*scratch, provided{n, v}) }) {
		if _, err := parseProvides(field); err != nil {
			return err
		}
		return fmt.Errorf("%q: Provides allows only \"name\" or \"name (= version)\"", field)
	}
	for _, e := range *scratch {
		fn(e.name, e.version)
	}
	return nil
}

type provided struct{ name, version string }

// walkProvides reports whether field is a well-formed Provides field,
// calling fn for each entry up to the first error.
func walkProvides(field string, fn func(name, version string)) bool {
	p := relParser{s: field}
	if p.skipSpace(); p.i == len(p.s) {
		return true
	}
	for {
		p.skipSpace()
		name := p.token(isNameChar)
		if name == "" || !(isDigit(name[0]) || name[0] >= 'a' && name[0] <= 'z') {
			return false
		}
		p.skipSpace()
		version := ""
		if p.peek() == '(' {
			p.i++
			p.skipSpace()
			if p.peek() != '=' {
				return false
			}
			p.i++
			p.skipSpace()
			version = p.token(isVersionChar)
			p.skipSpace()
			if p.peek() != ')' || !validVersion(version) {
				return false
			}
			p.i++
			p.skipSpace()
		}
		fn(name, version)
		if p.i == len(p.s) {
			return true
		}
		if p.peek() != ',' {
			return false
		}
		p.i++
	}
}

// archRank orders native and arch:all packages before foreign ones.
func (idx *index) archRank(p *apt.Package) int {
	if p.Architecture == idx.arch || p.Architecture == "all" {
		return 0
	}
	return 1
}

// native maps arch:all to the native architecture, as dpkg does when
// matching relations.
func (idx *index) native(arch string) string {
	if arch == "all" || arch == "" {
		return idx.arch
	}
	return arch
}

// archOK reports whether q can satisfy r written in a package of
// architecture fromArch, following dpkg's Multi-Arch rules. For conflicts,
// ":any" matches every architecture.
func (idx *index) archOK(q *apt.Package, r *Relation, fromArch string, conflict bool) bool {
	if q.MultiArch == "foreign" {
		return true
	}
	var want string
	switch r.Arch {
	case "any":
		if q.MultiArch == "allowed" || conflict {
			return true
		}
		return false
	case "", "native":
		if r.Arch == "native" {
			want = idx.arch
		} else {
			want = idx.native(fromArch)
		}
	default:
		want = r.Arch
	}
	return idx.native(q.Architecture) == want
}

// relsOf parses p's relation fields once.
func (idx *index) relsOf(p *apt.Package) (*pkgRels, error) {
	if r, ok := idx.rels[p]; ok {
		return r, nil
	}
	if err := idx.provErr[p]; err != nil {
		return nil, fmt.Errorf("package %s: field Provides: %w", p.ID(), err)
	}
	r := &pkgRels{}
	var err error
	parse := func(field, value string) [][]Relation {
		if err != nil || value == "" {
			return nil
		}
		groups, perr := ParseRelations(value)
		if perr != nil {
			err = fmt.Errorf("package %s: field %s: %w", p.ID(), field, perr)
			return nil
		}
		return idx.applicable(groups)
	}
	r.pre = parse("Pre-Depends", p.PreDepends)
	r.dep = parse("Depends", p.Depends)
	r.rec = parse("Recommends", p.Recommends)
	r.conflicts = slices.Concat(parse("Conflicts", p.Conflicts)...)
	r.breaks = slices.Concat(parse("Breaks", p.Breaks)...)
	if err != nil {
		return nil, err
	}
	if p.Provides != "" {
		r.provides, _ = parseProvides(p.Provides) // checked in newIndex
	}
	idx.rels[p] = r
	return r, nil
}

// applicable drops alternatives whose architecture or profile
// restrictions exclude them, and groups left empty.
func (idx *index) applicable(groups [][]Relation) [][]Relation {
	out := groups[:0]
	for _, g := range groups {
		kept := g[:0]
		for _, r := range g {
			if r.Applies(idx.arch) {
				kept = append(kept, r)
			}
		}
		if len(kept) > 0 {
			out = append(out, kept)
		}
	}
	return out
}

var priorityRank = map[string]int{"required": 0, "important": 1, "standard": 2, "optional": 3, "extra": 4}

func rankPriority(p string) int {
	if r, ok := priorityRank[p]; ok {
		return r
	}
	return len(priorityRank)
}

// candidates lists, best first, the packages that could satisfy one of
// the group's alternatives, ignoring the current selection except to prefer
// already selected providers: for each alternative in order, the real
// package's versions (highest first) and then its providers.
func (idx *index) candidates(group []Relation, fromArch string, selected func(*apt.Package) bool) []*apt.Package {
	var out []*apt.Package
	seen := map[*apt.Package]bool{}
	add := func(p *apt.Package) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for i := range group {
		r := &group[i]
		for _, q := range idx.byName[r.Name] {
			if idx.archOK(q, r, fromArch, false) && r.Satisfies(q.Version) && idx.allowed(q) {
				add(q)
			}
		}
		var provs []provider
		for _, pv := range idx.provides[r.Name] {
			q := pv.pkg
			if !idx.archOK(q, r, fromArch, false) || !idx.allowed(q) {
				continue
			}
			if r.Op != OpNone && (pv.version == "" || !r.Satisfies(pv.version)) {
				continue
			}
			provs = append(provs, pv)
		}
		slices.SortStableFunc(provs, func(a, b provider) int {
			sa, sb := selected(a.pkg), selected(b.pkg)
			if sa != sb {
				if sa {
					return -1
				}
				return 1
			}
			if c := cmp.Compare(rankPriority(a.pkg.Priority), rankPriority(b.pkg.Priority)); c != 0 {
				return c
			}
			if c := cmp.Compare(a.pkg.Name, b.pkg.Name); c != 0 {
				return c
			}
			if c := CompareVersions(b.pkg.Version, a.pkg.Version); c != 0 {
				return c
			}
			if c := cmp.Compare(idx.archRank(a.pkg), idx.archRank(b.pkg)); c != 0 {
				return c
			}
			return cmp.Compare(a.pos, b.pos)
		})
		for _, pv := range provs {
			add(pv.pkg)
		}
	}
	return out
}

func (idx *index) allowed(p *apt.Package) bool {
	r := idx.restrict[p.Name]
	return r == nil || r.allows(p)
}
