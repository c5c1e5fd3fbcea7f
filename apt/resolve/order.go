package resolve

import (
	"slices"

	"github.com/apt-ostree/apt-ostree/apt"
)

// InstallOrder returns the packages in an order for unpacking and
// configuring: every package after what it Pre-Depends on, and after what
// it Depends on except inside dependency cycles. Cycles are broken
// deterministically: within a cycle Pre-Depends are still honoured where
// they form no cycle of their own, and ties go to the smaller name.
func (r *Result) InstallOrder() []*apt.Package {
	n := len(r.Packages)
	if n == 0 || r.idx == nil {
		return slices.Clone(r.Packages)
	}
	g := r.depGraph()
	// Tarjan emits each strongly connected component after every component
	// it reaches, i.e. dependencies first.
	t := tarjan{g: g, index: make([]int, n), low: make([]int, n), on: make([]bool, n)}
	for i := range t.index {
		t.index[i] = -1
	}
	for v := range n {
		if t.index[v] < 0 {
			t.visit(v)
		}
	}
	out := make([]*apt.Package, 0, n)
	for _, comp := range t.comps {
		for _, v := range orderCycle(comp, g) {
			out = append(out, r.Packages[v])
		}
	}
	return out
}

type depGraph struct {
	all [][]int        // Depends and Pre-Depends edges, v -> what v needs
	pre []map[int]bool // Pre-Depends edges only
}

// depGraph links each package to the selected package that satisfies
// each of its Depends and Pre-Depends groups (the first alternative that
// is satisfied).
func (r *Result) depGraph() depGraph {
	idx := r.idx
	pos := map[*apt.Package]int{}
	byName := map[string][]int{}
	provs := map[string][]struct {
		v       int
		version string
	}{}
	for i, p := range r.Packages {
		pos[p] = i
		byName[p.Name] = append(byName[p.Name], i)
		if rels := idx.rels[p]; rels != nil {
			for _, pr := range rels.provides {
				provs[pr.Name] = append(provs[pr.Name], struct {
					v       int
					version string
				}{i, pr.Version})
			}
		}
	}
	find := func(from *apt.Package, group []Relation) int {
		for i := range group {
			rel := &group[i]
			for _, v := range byName[rel.Name] {
				q := r.Packages[v]
				if idx.archOK(q, rel, from.Architecture, false) && rel.Satisfies(q.Version) {
					return v
				}
			}
			for _, pv := range provs[rel.Name] {
				q := r.Packages[pv.v]
				if idx.archOK(q, rel, from.Architecture, false) && (rel.Op == OpNone || pv.version != "" && rel.Satisfies(pv.version)) {
					return pv.v
				}
			}
		}
		return -1
	}
	g := depGraph{all: make([][]int, len(r.Packages)), pre: make([]map[int]bool, len(r.Packages))}
	for i, p := range r.Packages {
		rels := idx.rels[p]
		if rels == nil {
			continue
		}
		g.pre[i] = map[int]bool{}
		for _, grp := range rels.pre {
			if v := find(p, grp); v >= 0 && v != i {
				g.pre[i][v] = true
				g.all[i] = append(g.all[i], v)
			}
		}
		for _, grp := range rels.dep {
			if v := find(p, grp); v >= 0 && v != i {
				g.all[i] = append(g.all[i], v)
			}
		}
		slices.Sort(g.all[i])
		g.all[i] = slices.Compact(g.all[i])
	}
	return g
}

type tarjan struct {
	g     depGraph
	index []int
	low   []int
	on    []bool
	stack []int
	next  int
	comps [][]int
}

func (t *tarjan) visit(v int) {
	t.index[v], t.low[v] = t.next, t.next
	t.next++
	t.stack = append(t.stack, v)
	t.on[v] = true
	for _, w := range t.g.all[v] {
		if t.index[w] < 0 {
			t.visit(w)
			t.low[v] = min(t.low[v], t.low[w])
		} else if t.on[w] {
			t.low[v] = min(t.low[v], t.index[w])
		}
	}
	if t.low[v] != t.index[v] {
		return
	}
	var comp []int
	for {
		w := t.stack[len(t.stack)-1]
		t.stack = t.stack[:len(t.stack)-1]
		t.on[w] = false
		comp = append(comp, w)
		if w == v {
			break
		}
	}
	slices.Sort(comp)
	t.comps = append(t.comps, comp)
}

// orderCycle orders the members of one strongly connected component:
// repeatedly the smallest (by name, as indexes follow name order) member
// whose remaining needs are all placed; failing that, the smallest whose
// Pre-Depends are placed; failing that, the smallest.
func orderCycle(comp []int, g depGraph) []int {
	if len(comp) == 1 {
		return comp
	}
	placed := map[int]bool{}
	inComp := map[int]bool{}
	for _, v := range comp {
		inComp[v] = true
	}
	ready := func(v int, preOnly bool) bool {
		for _, w := range g.all[v] {
			if inComp[w] && !placed[w] && (!preOnly || g.pre[v][w]) {
				return false
			}
		}
		return true
	}
	out := make([]int, 0, len(comp))
	for len(out) < len(comp) {
		pick := -1
		for _, preOnly := range []bool{false, true} {
			for _, v := range comp {
				if !placed[v] && ready(v, preOnly) {
					pick = v
					break
				}
			}
			if pick >= 0 {
				break
			}
		}
		if pick < 0 {
			for _, v := range comp {
				if !placed[v] {
					pick = v
					break
				}
			}
		}
		placed[pick] = true
		out = append(out, pick)
	}
	return out
}
