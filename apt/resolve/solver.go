package resolve

import (
	"fmt"
	"slices"

	"github.com/apt-ostree/apt-ostree/apt"
)

// solver is a depth-first search over goals with chronological
// backtracking. Everything it selects is recorded on a trail so that a
// choice point can undo back to its own state.
type solver struct {
	idx        *index
	recommends bool

	trail       []*apt.Package
	isSel       map[*apt.Package]bool
	selName     map[string][]*apt.Package // selected packages by name
	selProv     map[string][]provider     // selected packages by what they provide
	conflictsOn map[string][]conflictRef  // selected Conflicts/Breaks by target name
	reason      map[*apt.Package]*goal    // the goal that selected each package

	// frozen is how many trail entries, at its start, are the installed
	// base; they are never undone and their dependencies are not pushed.
	frozen int

	choices    []choice
	firstErr   *UnsatisfiableError
	backtracks int
}

type conflictRef struct {
	from   *apt.Package
	rel    *Relation
	breaks bool
}

// choice is a goal with alternatives left to try, and the state to try
// them from. A nil candidate means "leave the goal unsatisfied" (only for
// Recommends).
type choice struct {
	g     goal
	stack []goal
	trail int
	cands []*apt.Package
	next  int
	// conflicts collects the packages that later failures blamed while
	// this choice was being tried; once its candidates run out, the search
	// jumps back to the latest choice that selected one of them.
	conflicts map[*apt.Package]bool
}

// current is the candidate the choice is trying (nil: none, or "skip").
func (c *choice) current() *apt.Package { return c.cands[c.next-1] }

func newSolver(idx *index, recommends bool) *solver {
	return &solver{
		idx:         idx,
		recommends:  recommends,
		isSel:       map[*apt.Package]bool{},
		selName:     map[string][]*apt.Package{},
		selProv:     map[string][]provider{},
		conflictsOn: map[string][]conflictRef{},
		reason:      map[*apt.Package]*goal{},
	}
}

func (s *solver) run(goals []goal) error {
	// Like apt-get, first select every top-level package, then expand
	// their dependencies in order: a dependency already satisfied by any
	// requested (or essential) package keeps it.
	stack := []goal{{kind: kindExpandTop}}
	for i := len(goals) - 1; i >= 0; i-- {
		stack = append(stack, goals[i])
	}
	for len(stack) > 0 {
		g := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if g.kind == kindExpandTop {
			for i := len(s.trail) - 1; i >= s.frozen; i-- {
				stack = s.pushDeps(s.trail[i], stack)
			}
			continue
		}
		if s.satisfied(&g) {
			continue
		}
		cands, err := s.viable(&g)
		if err != nil {
			return err
		}
		if g.soft() {
			cands = append(cands, nil)
		}
		if len(cands) == 0 {
			if s.firstErr == nil {
				s.firstErr = s.explain(&g)
			}
			var ok bool
			if stack, ok = s.backtrack(s.blame(&g)); !ok {
				if s.backtracks > maxBacktracks {
					s.firstErr.Msg += " (gave up after trying other alternatives)"
				}
				return s.firstErr
			}
			continue
		}
		if len(cands) > 1 {
			s.choices = append(s.choices, choice{g: g, stack: slices.Clone(stack), trail: len(s.trail), cands: cands, next: 1})
		}
		if cands[0] != nil {
			stack = s.install(cands[0], g, stack)
		}
	}
	return nil
}

// freeze selects the installed base before the search starts.
func (s *solver) freeze(installed []*apt.Package) error {
	g := &goal{kind: kindInstalled, label: "installed"}
	for _, p := range installed {
		if p.Provides != "" {
			if _, err := parseProvides(p.Provides); err != nil {
				return fmt.Errorf("installed package %s: field Provides: %w", p.ID(), err)
			}
		}
		if _, err := s.idx.relsOf(p); err != nil {
			return fmt.Errorf("installed %w", err)
		}
		s.idx.installed[p] = true
		s.select1(p, g)
	}
	s.frozen = len(s.trail)
	return nil
}

// blame returns the selected packages that make goal g fail: what brought
// g in, and what each of its candidates clashes with, with everything that
// brought those in.
func (s *solver) blame(g *goal) map[*apt.Package]bool {
	set := map[*apt.Package]bool{}
	s.addAncestors(set, g.from)
	for _, q := range s.idx.candidates(g.group, g.fromArch(s.idx), func(p *apt.Package) bool { return s.isSel[p] }) {
		if c := s.conflict(q); c != nil {
			s.addAncestors(set, c.other)
		}
	}
	return set
}

func (s *solver) addAncestors(set map[*apt.Package]bool, p *apt.Package) {
	for p != nil && !set[p] {
		set[p] = true
		p = s.reason[p].from
	}
}

// backtrack undoes the search back to the latest choice that selected a
// package in blamed (conflict-directed backjumping; without such a choice,
// simply the latest choice), installs that choice's next candidate and
// returns the goal stack to continue with. It reports false when no
// choice is left or the bound is reached.
func (s *solver) backtrack(blamed map[*apt.Package]bool) ([]goal, bool) {
	for len(s.choices) > 0 {
		s.backtracks++
		if s.backtracks > maxBacktracks {
			return nil, false
		}
		k := len(s.choices) - 1
		if blamed != nil {
			for k >= 0 && !blamed[s.choices[k].current()] {
				k--
			}
			if k < 0 {
				k, blamed = len(s.choices)-1, nil
			}
		}
		s.choices = s.choices[:k+1]
		cp := &s.choices[k]
		s.undo(cp.trail)
		if blamed != nil {
			if cp.conflicts == nil {
				cp.conflicts = map[*apt.Package]bool{}
			}
			for p := range blamed {
				if p != cp.current() {
					cp.conflicts[p] = true
				}
			}
		}
		if cp.next < len(cp.cands) {
			c, g := cp.cands[cp.next], cp.g
			cp.next++
			stack := slices.Clone(cp.stack)
			if c != nil {
				stack = s.install(c, g, stack)
			}
			return stack, true
		}
		// Every candidate failed: blame what the candidates were blamed
		// for, and what brought this goal in.
		if blamed != nil {
			blamed = cp.conflicts
			s.addAncestors(blamed, cp.g.from)
		}
		s.choices = s.choices[:k]
	}
	return nil, false
}

// satisfied reports whether a selected package already satisfies one of
// the goal's alternatives.
func (s *solver) satisfied(g *goal) bool {
	fromArch := g.fromArch(s.idx)
	for i := range g.group {
		r := &g.group[i]
		for _, y := range s.selName[r.Name] {
			if s.idx.archOK(y, r, fromArch, false) && r.Satisfies(y.Version) {
				return true
			}
		}
		for _, pv := range s.selProv[r.Name] {
			if s.idx.archOK(pv.pkg, r, fromArch, false) && (r.Op == OpNone || pv.version != "" && r.Satisfies(pv.version)) {
				return true
			}
		}
	}
	return false
}

// viable lists the goal's candidates that can join the current selection.
func (s *solver) viable(g *goal) ([]*apt.Package, error) {
	cands := s.idx.candidates(g.group, g.fromArch(s.idx), func(p *apt.Package) bool { return s.isSel[p] })
	out := cands[:0]
	for _, q := range cands {
		if _, err := s.idx.relsOf(q); err != nil {
			return nil, err
		}
		if s.conflict(q) == nil {
			out = append(out, q)
		}
	}
	return out, nil
}

func (s *solver) install(q *apt.Package, g goal, stack []goal) []goal {
	s.select1(q, &g)
	if g.from == nil {
		return stack // expanded by the kindExpandTop goal
	}
	return s.pushDeps(q, stack)
}

// select1 adds q to the selection, recording g as the reason.
func (s *solver) select1(q *apt.Package, g *goal) {
	rels := s.idx.rels[q] // parsed by viable or freeze
	s.trail = append(s.trail, q)
	s.isSel[q] = true
	s.selName[q.Name] = append(s.selName[q.Name], q)
	for _, r := range rels.provides {
		s.selProv[r.Name] = append(s.selProv[r.Name], provider{pkg: q, version: r.Version})
	}
	for i := range rels.conflicts {
		r := &rels.conflicts[i]
		s.conflictsOn[r.Name] = append(s.conflictsOn[r.Name], conflictRef{from: q, rel: r})
	}
	for i := range rels.breaks {
		r := &rels.breaks[i]
		s.conflictsOn[r.Name] = append(s.conflictsOn[r.Name], conflictRef{from: q, rel: r, breaks: true})
	}
	s.reason[q] = g
}

// pushDeps pushes q's dependency goals.
func (s *solver) pushDeps(q *apt.Package, stack []goal) []goal {
	rels := s.idx.rels[q]
	// Pushed in reverse so that Pre-Depends come off the stack first, then
	// Depends, then Recommends, each in field order.
	if s.recommends {
		for i := len(rels.rec) - 1; i >= 0; i-- {
			stack = append(stack, goal{kind: kindRecommends, from: q, group: rels.rec[i]})
		}
	}
	for i := len(rels.dep) - 1; i >= 0; i-- {
		stack = append(stack, goal{kind: kindDepends, from: q, group: rels.dep[i]})
	}
	for i := len(rels.pre) - 1; i >= 0; i-- {
		stack = append(stack, goal{kind: kindPreDepends, from: q, group: rels.pre[i]})
	}
	return stack
}

// undo unselects everything selected after the trail had length n. Each
// list the selection appended to was appended to in trail order, so
// undoing in reverse trail order pops the last element.
func (s *solver) undo(n int) {
	for len(s.trail) > n {
		q := s.trail[len(s.trail)-1]
		s.trail = s.trail[:len(s.trail)-1]
		rels := s.idx.rels[q]
		popLast(s.selName, q.Name)
		for _, r := range rels.provides {
			popLast(s.selProv, r.Name)
		}
		for _, r := range rels.conflicts {
			popLast(s.conflictsOn, r.Name)
		}
		for _, r := range rels.breaks {
			popLast(s.conflictsOn, r.Name)
		}
		delete(s.isSel, q)
		delete(s.reason, q)
	}
}

func popLast[T any](m map[string][]T, key string) {
	l := m[key]
	if len(l) <= 1 {
		delete(m, key)
		return
	}
	m[key] = l[:len(l)-1]
}

// clash describes why a package cannot join the selection.
type clash struct {
	kind   clashKind
	other  *apt.Package
	rel    *Relation
	breaks bool
}

type clashKind uint8

const (
	clashSameName clashKind = iota // another build of the same name is selected
	clashTheirs                    // the candidate conflicts with / breaks other
	clashOurs                      // other (selected) conflicts with / breaks the candidate
)

// coinstallable reports whether two builds of one name can both be
// installed: only Multi-Arch: same builds of one version on different
// architectures.
func coinstallable(a, b *apt.Package) bool {
	return a.Architecture != b.Architecture && a.Architecture != "all" && b.Architecture != "all" &&
		a.MultiArch == "same" && b.MultiArch == "same" && a.Version == b.Version
}

func (s *solver) conflict(q *apt.Package) *clash {
	idx := s.idx
	for _, y := range s.selName[q.Name] {
		if y != q && !coinstallable(y, q) {
			return &clash{kind: clashSameName, other: y}
		}
	}
	rels := idx.rels[q]
	check := func(list []Relation, breaks bool) *clash {
		for i := range list {
			r := &list[i]
			for _, y := range s.selName[r.Name] {
				if y != q && idx.archOK(y, r, q.Architecture, true) && r.Satisfies(y.Version) {
					return &clash{kind: clashTheirs, other: y, rel: r, breaks: breaks}
				}
			}
			for _, pv := range s.selProv[r.Name] {
				if pv.pkg != q && idx.archOK(pv.pkg, r, q.Architecture, true) &&
					(r.Op == OpNone || pv.version != "" && r.Satisfies(pv.version)) {
					return &clash{kind: clashTheirs, other: pv.pkg, rel: r, breaks: breaks}
				}
			}
		}
		return nil
	}
	if c := check(rels.conflicts, false); c != nil {
		return c
	}
	if c := check(rels.breaks, true); c != nil {
		return c
	}
	for _, cr := range s.conflictsOn[q.Name] {
		if cr.from != q && idx.archOK(q, cr.rel, cr.from.Architecture, true) && cr.rel.Satisfies(q.Version) {
			return &clash{kind: clashOurs, other: cr.from, rel: cr.rel, breaks: cr.breaks}
		}
	}
	for _, pr := range rels.provides {
		for _, cr := range s.conflictsOn[pr.Name] {
			if cr.from != q && idx.archOK(q, cr.rel, cr.from.Architecture, true) &&
				(cr.rel.Op == OpNone || pr.Version != "" && cr.rel.Satisfies(pr.Version)) {
				return &clash{kind: clashOurs, other: cr.from, rel: cr.rel, breaks: cr.breaks}
			}
		}
	}
	return nil
}
