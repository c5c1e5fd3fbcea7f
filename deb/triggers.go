package deb

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
)

// fileInterest is one line of triggers/File: a package interested in a
// path (and everything below it).
type fileInterest struct {
	path, pkg string // pkg is an InfoName
}

// fileInterests reads triggers/File ("<path> <pkg>[/noawait]").
func (db *Database) fileInterests() ([]fileInterest, error) {
	b, err := db.readFile("triggers/File")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []fileInterest
	for _, l := range strings.Split(string(b), "\n") {
		w := strings.Fields(l)
		if len(w) != 2 {
			continue
		}
		pkg, _, _ := strings.Cut(w[1], "/")
		out = append(out, fileInterest{path: w[0], pkg: pkg})
	}
	return out, nil
}

// fileActivations are the file triggers that unpacking pkgs activates in
// the packages already configured in the database, as dpkg's unpack
// would (it activates a file trigger for every path it extracts below an
// interest): InfoName -> trigger names, in triggers/File order. Packages
// not yet configured are skipped, as dpkg skips them: their postinst
// will see the files anyway.
func (db *Database) fileActivations(pkgs []*Unpacked, mine map[string]string) (map[string][]string, error) {
	interests, err := db.fileInterests()
	if err != nil || len(interests) == 0 {
		return nil, err
	}
	configured := map[string]bool{}
	for _, p := range db.pkgs {
		switch p.State {
		case "installed", "triggers-pending", "triggers-awaited":
			configured[p.InfoName()] = true
		}
	}
	out := map[string][]string{}
	for _, in := range interests {
		if _, isNew := mine[in.pkg]; isNew || !configured[in.pkg] || slices.Contains(out[in.pkg], in.path) {
			continue
		}
		if activates(pkgs, in.path) {
			out[in.pkg] = append(out[in.pkg], in.path)
		}
	}
	return out, nil
}

func activates(pkgs []*Unpacked, interest string) bool {
	for _, u := range pkgs {
		for _, f := range u.Files {
			if f == interest || strings.HasPrefix(f, interest) && f[len(interest)] == '/' || interest == "/" {
				return true
			}
		}
	}
	return false
}

// withPendingTriggers returns c with the triggers added to its
// Triggers-Pending field (after Description, where dpkg writes it) and its
// Status state set to triggers-pending.
func withPendingTriggers(c Control, names []string) Control {
	var out Control
	pending := strings.Fields(c.Get("Triggers-Pending"))
	for _, n := range names {
		if !slices.Contains(pending, n) {
			pending = append(pending, n)
		}
	}
	tp := Field{Name: "Triggers-Pending", Value: strings.Join(pending, " ")}
	placed := false
	for _, f := range c.Fields {
		switch strings.ToLower(f.Name) {
		case "status":
			if w := strings.Fields(f.Value); len(w) == 3 {
				f.Value = w[0] + " " + w[1] + " triggers-pending"
			}
		case "triggers-pending":
			f, placed = tp, true
		}
		out.Fields = append(out.Fields, f)
		if strings.EqualFold(f.Name, "description") && !c.Has("Triggers-Pending") {
			out.Fields = append(out.Fields, tp)
			placed = true
		}
	}
	if !placed {
		out.Fields = append(out.Fields, tp)
	}
	return out
}

// FileTriggerActivations lists, as "<interest> <package>" in triggers/File
// order, the file triggers of configured packages that unpacking pkgs
// activates; Add records them as Triggers-Pending, so that the next
// "dpkg --configure -a" runs each interested postinst once.
func (db *Database) FileTriggerActivations(pkgs []*Unpacked) ([]string, error) {
	names := map[string]string{}
	for _, u := range pkgs {
		names[InfoName(u.Package)] = ""
	}
	activated, err := db.fileActivations(pkgs, names)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, p := range db.pkgs {
		for _, t := range activated[p.InfoName()] {
			out = append(out, t+" "+p.InfoName())
		}
	}
	return out, nil
}
