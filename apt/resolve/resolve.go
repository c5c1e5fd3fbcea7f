package resolve

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/apt-ostree/apt-ostree/apt"
	"github.com/apt-ostree/apt-ostree/apt/lockfile"
)

// ErrUnsatisfiable is wrapped by every error that says the request cannot
// be satisfied by the universe; the message names the failing chain.
var ErrUnsatisfiable = errors.New("unsatisfiable")

// ErrLocked is wrapped by the error returned when a package pinned by a
// lockfile is missing from the repositories or has another SHA256.
var ErrLocked = errors.New("locked package unavailable")

// LockError says that a package pinned by the lockfile is missing from
// the repositories or has another SHA256. errors.Is(err, ErrLocked) holds.
type LockError struct {
	Msg string
}

func (e *LockError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrLocked) true.
func (e *LockError) Is(target error) bool { return target == ErrLocked }

// Request is what to resolve.
type Request struct {
	// Arch is the native (dpkg) architecture, e.g. "amd64". Required.
	Arch string
	// Packages to install. Each entry is "name", "name:arch",
	// "name=version" (pins the name to that version everywhere),
	// "name:arch=version", or a constraint such as "name (>= 1.2)",
	// "'name (>= 1.2)'" or "name >= 1.2". A name may be a virtual package.
	Packages []string
	// Exclude names packages removed from the universe (exclude-packages).
	Exclude []string
	// Recommends makes the resolver also install Recommends where they can
	// be satisfied; unsatisfiable ones are dropped.
	Recommends bool
	// Lock, when set, restricts every name it lists to the locked version
	// (and architecture and SHA256 where given). Names it does not list
	// resolve freely, and a locked name is not installed unless something
	// needs it. A locked entry absent from the universe is an error
	// wrapping ErrLocked. Merge several lockfiles with lockfile.Merge.
	Lock *lockfile.Lock
	// Installed is a frozen base: the packages already installed in the
	// target root (an image or a composed tree; see apt.InstalledPackage
	// for dpkg status stanzas). When set, the request is resolved like
	// apt-get install on that root except that the base never moves:
	//   - an installed package satisfies dependencies (and its Provides)
	//     at exactly its installed version, and is never upgraded,
	//     removed or replaced by another build of its name; a dependency
	//     it cannot satisfy fails with an error naming the chain and the
	//     installed version;
	//   - Conflicts and Breaks between a new package and an installed one
	//     (either way) rule the new package out;
	//   - Essential and required packages of the universe are not added:
	//     the base already made that choice;
	//   - Result.Packages lists only the new packages to install.
	// Their own dependencies are taken as satisfied, whatever they are.
	Installed []*apt.Package
}

// Result is a resolved package set.
type Result struct {
	// Packages sorted by name, then architecture. With Request.Installed,
	// only the packages to add to the base.
	Packages []*apt.Package

	idx *index
}

type goalKind uint8

const (
	kindRequest goalKind = iota
	kindBase             // Essential: yes or Priority: required
	kindPreDepends
	kindDepends
	kindRecommends
	kindExpandTop // push the dependencies of every top-level package
	kindInstalled // a package of the frozen base (Request.Installed)
)

func (k goalKind) verb() string {
	switch k {
	case kindPreDepends:
		return "pre-depends on"
	case kindRecommends:
		return "recommends"
	default:
		return "depends on"
	}
}

// goal is one obligation: satisfy one alternative of group.
type goal struct {
	kind  goalKind
	from  *apt.Package // the package whose field this is; nil for top-level goals
	group []Relation
	label string // for top-level goals: the request entry or base package
}

func (g *goal) soft() bool { return g.kind == kindRecommends }

func (g *goal) fromArch(idx *index) string {
	if g.from == nil {
		return idx.arch
	}
	return g.from.Architecture
}

func groupString(g []Relation) string {
	parts := make([]string, len(g))
	for i, r := range g {
		parts[i] = r.String()
	}
	return strings.Join(parts, " | ")
}

// maxBacktracks bounds the search; past it the first failure is reported.
const maxBacktracks = 1000

// Resolve chooses the packages to install for req from universe: the
// requested packages, every Essential: yes and Priority: required package
// of the native architecture (or arch all), and everything they depend on.
// It works like apt-get install: all top-level packages are selected
// first, then their dependencies depth first in field order (Pre-Depends,
// Depends, then Recommends if asked), taking the first satisfiable
// alternative, the highest allowed version, a real package before a
// virtual one. When a choice leads to a conflict it jumps back to the
// latest choice that selected a package involved in the conflict and tries
// its next alternative (at most maxBacktracks times). The same universe
// and request always give the same result. Errors wrap
// ErrUnsatisfiable or ErrLocked; bad relation fields in a package the
// search visits are errors naming the package and field.
func Resolve(universe []*apt.Package, req Request) (*Result, error) {
	if req.Arch == "" {
		return nil, errors.New("resolve: Request.Arch is empty")
	}
	exclude := make(map[string]bool, len(req.Exclude))
	for _, e := range req.Exclude {
		exclude[e] = true
	}
	idx := newIndex(universe, req.Arch, exclude)
	goals, err := topGoals(idx, req, exclude)
	if err != nil {
		return nil, err
	}
	if err := applyLock(idx, req.Lock); err != nil {
		return nil, err
	}
	s := newSolver(idx, req.Recommends)
	if err := s.freeze(req.Installed); err != nil {
		return nil, err
	}
	if err := s.run(goals); err != nil {
		return nil, err
	}
	res := &Result{Packages: slices.Clone(s.trail[s.frozen:]), idx: idx}
	slices.SortFunc(res.Packages, func(a, b *apt.Package) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Architecture, b.Architecture))
	})
	return res, nil
}

// topGoals turns the request entries and the base (essential/required)
// packages into goals, in that order.
func topGoals(idx *index, req Request, exclude map[string]bool) ([]goal, error) {
	var goals []goal
	requested := map[string]bool{}
	for _, entry := range req.Packages {
		r, pin, err := parseRequest(entry)
		if err != nil {
			return nil, err
		}
		if exclude[r.Name] {
			return nil, fmt.Errorf("package %s is both requested and in exclude-packages; remove it from one of them", r.Name)
		}
		if pin {
			rs := idx.restriction(r.Name)
			if rs.pin != "" && CompareVersions(rs.pin, r.Version) != 0 {
				return nil, fmt.Errorf("package %s is pinned twice, to %s (%s) and to %s (%s)", r.Name, rs.pin, rs.pinText, r.Version, entry)
			}
			rs.pin, rs.pinText = r.Version, entry
		}
		requested[r.Name] = true
		goals = append(goals, goal{kind: kindRequest, group: []Relation{r}, label: strings.Trim(strings.TrimSpace(entry), "'")})
	}
	var base []string
	if len(req.Installed) > 0 {
		return goals, nil // the frozen base already chose its essential set
	}
	for _, name := range idx.base {
		if !requested[name] {
			base = append(base, name)
		}
	}
	slices.Sort(base)
	base = slices.Compact(base)
	for _, name := range base {
		why := "priority required"
		for _, p := range idx.byName[name] {
			if p.Essential {
				why = "essential"
			}
		}
		goals = append(goals, goal{kind: kindBase, group: []Relation{{Name: name}}, label: name + " (" + why + ")"})
	}
	return goals, nil
}

// parseRequest parses one Request.Packages entry. pin reports a
// "name=version" entry, which restricts the name everywhere.
func parseRequest(entry string) (r Relation, pin bool, err error) {
	s := strings.TrimSpace(entry)
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	bad := func(e error) (Relation, bool, error) {
		return Relation{}, false, fmt.Errorf("bad package request %q: %w", entry, e)
	}
	if name, ver, ok := strings.Cut(s, "="); ok && !strings.ContainsAny(s, "<>( ") {
		s, pin = name+" (= "+ver+")", true
	} else if !strings.Contains(s, "(") {
		// "name >= 1.2", the rpm-ostree spelling.
		if f := strings.Fields(s); len(f) == 3 {
			s = f[0] + " (" + f[1] + " " + f[2] + ")"
		}
	}
	groups, err := ParseRelations(s)
	if err != nil {
		return bad(err)
	}
	if len(groups) != 1 || len(groups[0]) != 1 {
		return bad(errors.New("want exactly one package"))
	}
	r = groups[0][0]
	if len(r.Archs) > 0 || len(r.Profiles) > 0 {
		return bad(errors.New("restrictions are not allowed here"))
	}
	if r.Arch == "any" || r.Arch == "native" {
		return bad(errors.New("use a concrete architecture, not :" + r.Arch))
	}
	return r, pin, nil
}

func (idx *index) restriction(name string) *restriction {
	rs := idx.restrict[name]
	if rs == nil {
		rs = &restriction{}
		idx.restrict[name] = rs
	}
	return rs
}

// applyLock restricts locked names and checks that every locked build is
// still in the universe.
func applyLock(idx *index, lock *lockfile.Lock) error {
	if lock == nil {
		return nil
	}
	for _, e := range lock.Packages {
		if idx.excluded[e.Name] {
			continue
		}
		var found, sameVersion *apt.Package
		for _, p := range idx.byName[e.Name] {
			if p.Version != e.Version || (e.Arch != "" && p.Architecture != e.Arch) {
				continue
			}
			sameVersion = p
			if e.SHA256 == "" || strings.EqualFold(e.SHA256, p.SHA256) {
				found = p
				break
			}
		}
		desc := e.Name + " " + e.Version
		if e.Arch != "" {
			desc += " (" + e.Arch + ")"
		}
		switch {
		case found != nil:
		case sameVersion != nil:
			return &LockError{Msg: fmt.Sprintf("locked package %s: the repositories have sha256:%s, the lockfile has sha256:%s; update the lockfile",
				desc, sameVersion.SHA256, e.SHA256)}
		default:
			return &LockError{Msg: fmt.Sprintf("locked package %s is not available in the configured repositories (it may have been superseded); update the lockfile",
				desc)}
		}
		rs := idx.restriction(e.Name)
		rs.locks = append(rs.locks, lockedBuild{version: e.Version, arch: e.Arch, sha256: e.SHA256})
	}
	return nil
}
