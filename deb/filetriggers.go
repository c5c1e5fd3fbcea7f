package deb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// FileTriggerActivation is one file trigger that newly unpacked paths
// activate in an installed package.
type FileTriggerActivation struct {
	Interest string // the interest path, e.g. "/usr/lib/foo"
	Package  string // the interested package as triggers/File names it (without /noawait)
	Path     string // the first new path at or below Interest
}

// ActivateFileTriggers does what dpkg does for each path it unpacks (spec
// §3.1): every file-trigger interest in triggers/File that a path equals
// or lies below (textually: /lib/x does not match /usr/lib) is activated
// when the interested package is installed at least triggers-awaited
// (dpkg drops activations for packages not yet configured, whose postinst
// does the whole job). Activations are appended to
// triggers/Unincorp as "<interest> -" (nobody awaits them), which the next
// dpkg run folds into the interested packages' Triggers-Pending; dpkg
// --configure -a then runs each interested postinst "triggered" once.
// paths are .list lines ("/usr/lib/foo/x").
func (db *Database) ActivateFileTriggers(paths []string) ([]FileTriggerActivation, error) {
	if db.root == "" {
		return nil, errors.New("activate file triggers: the database is read-only")
	}
	dir := filepath.Join(db.root, db.dir, "triggers")
	b, err := os.ReadFile(filepath.Join(dir, "File"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read file triggers: %w", err)
	}
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	var acts []FileTriggerActivation
	seen := map[string]bool{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		interest := f[0]
		pkg, _, _ := strings.Cut(f[1], "/")
		if !db.takesTriggers(pkg) {
			continue
		}
		if hit := firstAtOrBelow(sorted, interest); hit != "" && !seen[interest+" "+pkg] {
			seen[interest+" "+pkg] = true
			acts = append(acts, FileTriggerActivation{Interest: interest, Package: pkg, Path: hit})
		}
	}
	if len(acts) == 0 {
		return nil, nil
	}
	unincorp := filepath.Join(dir, "Unincorp")
	old, err := os.ReadFile(unincorp)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	body := string(old)
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	have := map[string]bool{}
	for _, l := range strings.Split(body, "\n") {
		have[l] = true
	}
	for _, a := range acts {
		if l := a.Interest + " -"; !have[l] {
			have[l] = true
			body += l + "\n"
		}
	}
	if err := writeAtomic(unincorp, []byte(body), 0o644, time.Time{}); err != nil {
		return nil, fmt.Errorf("record file trigger activations: %w", err)
	}
	return acts, nil
}

// firstAtOrBelow returns the first of sorted that is dir or below it.
func firstAtOrBelow(sorted []string, dir string) string {
	dir = strings.TrimSuffix(dir, "/")
	i := sort.SearchStrings(sorted, dir)
	for ; i < len(sorted); i++ {
		p := sorted[i]
		if p == dir || strings.HasPrefix(p, dir+"/") {
			return p
		}
		if !strings.HasPrefix(p, dir) {
			break
		}
	}
	return ""
}

// takesTriggers reports whether the package triggers/File names (its
// InfoName) is at least triggers-awaited.
func (db *Database) takesTriggers(infoName string) bool {
	for _, p := range db.Packages() {
		if p.InfoName() != infoName {
			continue
		}
		switch p.State {
		case "triggers-awaited", "triggers-pending", "installed":
			return true
		}
	}
	return false
}
