package assemble

import (
	"fmt"
	"sort"
	"strings"

	"github.com/apt-ostree/apt-ostree/deb"
)

// pkgState is what assemble needs of one status stanza.
type pkgState struct {
	Name, Arch, Version, MultiArch string
	Want, Flag, State              string // the three words of Status
	ConfigVersion                  string
	PreDepends, Provides           string
	inst                           *deb.Installed
}

// ID is "name" or, for Multi-Arch: same, "name:arch" (dpkg's info file prefix).
func (p pkgState) ID() string {
	if p.MultiArch == "same" {
		return p.Name + ":" + p.Arch
	}
	return p.Name
}

// readStatus opens the root's dpkg database (wherever package deb finds
// it) and returns its stanzas.
func readStatus(root string) (*deb.Database, []pkgState, error) {
	db, err := deb.OpenDatabase(root)
	if err != nil {
		return nil, nil, fmt.Errorf("read dpkg database: %w (unpack the packages first)", err)
	}
	var out []pkgState
	for _, p := range db.Packages() {
		out = append(out, pkgState{
			Name: p.Name, Arch: p.Arch, Version: p.Version, MultiArch: p.MultiArch,
			Want: p.Want, Flag: p.Flag, State: p.State, ConfigVersion: p.ConfigVersion,
			PreDepends: p.Control.Get("Pre-Depends"), Provides: p.Control.Get("Provides"),
			inst: p,
		})
	}
	return db, out, nil
}

// depNames returns, per comma-separated group of a dependency field, the
// package names of its alternatives (versions and arch qualifiers dropped).
func depNames(field string) [][]string {
	var groups [][]string
	for _, g := range strings.Split(field, ",") {
		var alts []string
		for _, a := range strings.Split(g, "|") {
			a = strings.TrimSpace(a)
			if i := strings.IndexAny(a, " (["); i >= 0 {
				a = a[:i]
			}
			a, _, _ = strings.Cut(a, ":")
			if a != "" {
				alts = append(alts, a)
			}
		}
		if len(alts) > 0 {
			groups = append(groups, alts)
		}
	}
	return groups
}

// preinstFirst runs before everything else: its preinst writes /etc/passwd
// and /etc/group, which later preinsts and dpkg itself resolve names with
// (spec §2.2, §6 step 5).
const preinstFirst = "base-passwd"

// preinstOrder sorts pkgs so that each package comes after the packages it
// Pre-Depends on (by name or Provides), base-passwd first, ties broken by
// name. A cycle is broken at its alphabetically first package.
func preinstOrder(pkgs []pkgState) []pkgState {
	byName := map[string][]int{}
	for i, p := range pkgs {
		byName[p.Name] = append(byName[p.Name], i)
	}
	for i, p := range pkgs {
		for _, g := range depNames(p.Provides) {
			byName[g[0]] = append(byName[g[0]], i)
		}
	}
	deps := make([]map[int]bool, len(pkgs))
	for i, p := range pkgs {
		deps[i] = map[int]bool{}
		for _, g := range depNames(p.PreDepends) {
			for _, alt := range g {
				if js := byName[alt]; len(js) > 0 {
					for _, j := range js {
						if j != i {
							deps[i][j] = true
						}
					}
					break
				}
			}
		}
	}
	less := func(a, b int) bool {
		if (pkgs[a].Name == preinstFirst) != (pkgs[b].Name == preinstFirst) {
			return pkgs[a].Name == preinstFirst
		}
		if pkgs[a].Name != pkgs[b].Name {
			return pkgs[a].Name < pkgs[b].Name
		}
		return pkgs[a].Arch < pkgs[b].Arch
	}
	// Kahn's algorithm; the ready set is kept sorted so the order is stable.
	indeg := make([]int, len(pkgs))
	users := make([][]int, len(pkgs))
	for i := range pkgs {
		indeg[i] = len(deps[i])
		for j := range deps[i] {
			users[j] = append(users[j], i)
		}
	}
	done := make([]bool, len(pkgs))
	var ready []int
	for i := range pkgs {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	out := make([]pkgState, 0, len(pkgs))
	for len(out) < len(pkgs) {
		if len(ready) == 0 { // cycle: take the first remaining package
			for i := range pkgs {
				if !done[i] && (len(ready) == 0 || less(i, ready[0])) {
					ready = []int{i}
				}
			}
		}
		sort.Slice(ready, func(a, b int) bool { return less(ready[a], ready[b]) })
		i := ready[0]
		ready = ready[1:]
		if done[i] {
			continue
		}
		done[i] = true
		out = append(out, pkgs[i])
		for _, u := range users[i] {
			indeg[u]--
			if indeg[u] == 0 && !done[u] {
				ready = append(ready, u)
			}
		}
	}
	return out
}
