package resolve

import (
	"fmt"
	"slices"
	"strings"

	"github.com/apt-ostree/apt-ostree/apt"
)

// UnsatisfiableError says why a request cannot be resolved, naming the
// chain of dependencies that fails. errors.Is(err, ErrUnsatisfiable) holds.
type UnsatisfiableError struct {
	Msg string
}

func (e *UnsatisfiableError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrUnsatisfiable) true.
func (e *UnsatisfiableError) Is(target error) bool { return target == ErrUnsatisfiable }

// explain builds the error for a goal none of whose candidates fits the
// current selection: "cannot install ROOT: A depends on B, B depends on
// C (>= 2), but only C 1.5 is available".
func (s *solver) explain(g *goal) *UnsatisfiableError {
	why := s.whyNot(g)
	if g.from == nil {
		return &UnsatisfiableError{Msg: fmt.Sprintf("cannot install %s: %s", g.label, why)}
	}
	root, links := s.chain(g.from)
	links = append(links, link(g))
	return &UnsatisfiableError{Msg: fmt.Sprintf("cannot install %s: %s, but %s", root, strings.Join(links, ", "), why)}
}

func link(g *goal) string {
	return g.from.Name + " " + g.kind.verb() + " " + groupString(g.group)
}

// chain walks from p up to the top-level goal that brought it in.
func (s *solver) chain(p *apt.Package) (root string, links []string) {
	for cur := p; ; {
		g := s.reason[cur]
		if g.from == nil {
			root = g.label
			break
		}
		links = append(links, link(g))
		cur = g.from
	}
	slices.Reverse(links)
	return root, links
}

// because says why a selected package is in the selection.
func (s *solver) because(p *apt.Package) string {
	g := s.reason[p]
	switch {
	case g.from != nil:
		return "(selected because " + link(g) + ")"
	case g.kind == kindInstalled:
		return "(installed in the frozen base)"
	case g.kind == kindBase:
		_, why, _ := strings.Cut(g.label, " (")
		return "(" + why
	default:
		return "(requested)"
	}
}

func (s *solver) whyNot(g *goal) string {
	parts := make([]string, len(g.group))
	for i := range g.group {
		parts[i] = s.whyNotAlt(&g.group[i], g.fromArch(s.idx))
	}
	return strings.Join(parts, ", and ")
}

// whyNotAlt explains why no candidate satisfies r, peeling off the
// filters in the order the candidates went through them.
func (s *solver) whyNotAlt(r *Relation, fromArch string) string {
	idx := s.idx
	if inst := s.installedNamed(r, fromArch); inst != nil {
		// Installed and selected, so its version is what fails r.
		return fmt.Sprintf("the base has %s %s installed and it is frozen: rebuild the base image or use override replace",
			inst.Name, inst.Version)
	}
	var real []*apt.Package
	var provs []provider
	real = idx.byName[r.Name]
	provs = idx.provides[r.Name]
	if len(real) == 0 && len(provs) == 0 {
		if idx.excluded[r.Name] {
			return r.Name + " is excluded by exclude-packages"
		}
		return r.Name + " is not available"
	}
	real = slices.DeleteFunc(slices.Clone(real), func(q *apt.Package) bool { return !idx.archOK(q, r, fromArch, false) })
	provs = slices.DeleteFunc(slices.Clone(provs), func(pv provider) bool { return !idx.archOK(pv.pkg, r, fromArch, false) })
	if len(real) == 0 && len(provs) == 0 {
		if r.Arch == "any" {
			return fmt.Sprintf("%s is not Multi-Arch: allowed, so %s:any cannot be satisfied", r.Name, r.Name)
		}
		want := r.Arch
		if want == "" || want == "native" {
			want = idx.native(fromArch)
		}
		return fmt.Sprintf("%s is not available for architecture %s", r.Name, want)
	}
	var cands []*apt.Package
	for _, q := range real {
		if r.Satisfies(q.Version) {
			cands = append(cands, q)
		}
	}
	for _, pv := range provs {
		if r.Op == OpNone || pv.version != "" && r.Satisfies(pv.version) {
			cands = append(cands, pv.pkg)
		}
	}
	if len(cands) == 0 {
		if len(real) == 0 {
			return "no package provides " + r.String()
		}
		var vs []string
		for _, q := range real {
			if !slices.Contains(vs, q.Version) {
				vs = append(vs, q.Version)
			}
		}
		if len(vs) == 1 {
			return fmt.Sprintf("only %s %s is available", r.Name, vs[0])
		}
		return fmt.Sprintf("only %s %s are available", r.Name, strings.Join(vs, ", "))
	}
	allowed := slices.DeleteFunc(slices.Clone(cands), func(q *apt.Package) bool { return !idx.allowed(q) })
	if len(allowed) == 0 {
		q := cands[0]
		rs := idx.restrict[q.Name]
		if rs.pin != "" && CompareVersions(q.Version, rs.pin) != 0 {
			return fmt.Sprintf("%s is pinned to %s by the request %q", q.Name, rs.pin, rs.pinText)
		}
		var vs []string
		for _, l := range rs.locks {
			vs = append(vs, l.version)
		}
		return fmt.Sprintf("%s is locked to %s by the lockfile", q.Name, strings.Join(vs, ", "))
	}
	q := allowed[0]
	c := s.conflict(q)
	if c == nil {
		// Only reachable if the selection changed since the goal failed.
		return fmt.Sprintf("%s cannot be installed", q.Name)
	}
	verb := "conflicts with"
	if c.breaks {
		verb = "breaks"
	}
	y := c.other
	switch c.kind {
	case clashSameName:
		return fmt.Sprintf("%s cannot be installed alongside %s %s", label(q), label(y), s.because(y))
	case clashTheirs:
		target := c.rel.String()
		if c.rel.Name != y.Name {
			target += ", provided by " + y.Name
		}
		return fmt.Sprintf("%s %s %s %s", q.Name, verb, target, s.because(y))
	default:
		target := c.rel.String()
		if c.rel.Name != q.Name {
			target += ", which " + q.Name + " provides"
		}
		return fmt.Sprintf("%s %s %s %s", y.Name, s.because(y), verb, target)
	}
}

// installedNamed returns the frozen base's package named by r that r's
// architecture rules accept, or nil.
func (s *solver) installedNamed(r *Relation, fromArch string) *apt.Package {
	for _, y := range s.selName[r.Name] {
		if s.idx.installed[y] && s.idx.archOK(y, r, fromArch, false) {
			return y
		}
	}
	return nil
}

func label(p *apt.Package) string {
	return p.Name + " " + p.Version + " (" + p.Architecture + ")"
}
