package deb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
)

// AdminDir is dpkg's database directory, relative to the root.
const AdminDir = "var/lib/dpkg"

// DatabaseOptions tunes WriteDatabase.
type DatabaseOptions struct {
	// Arch is the native architecture (dpkg --print-architecture), required.
	Arch string
	// ForeignArches are extra architectures for var/lib/dpkg/arch. Those
	// of the packages (other than Arch and "all") are added automatically.
	ForeignArches []string
	// Now stamps the files dpkg writes at install time (.list, generated
	// .md5sums); zero means time.Now().
	Now time.Time
}

// statusFieldOrder is the order in which dpkg writes the fields it knows
// (lib/dpkg/parse.c); unknown fields follow in control-file order.
var statusFieldOrder = []string{
	"Package", "Essential", "Protected", "Status", "Priority", "Section",
	"Installed-Size", "Origin", "Maintainer", "Bugs", "Architecture",
	"Multi-Arch", "Source", "Version", "Config-Version", "Replaces",
	"Provides", "Depends", "Pre-Depends", "Recommends", "Suggests", "Breaks",
	"Conflicts", "Enhances", "Conffiles", "Description", "Triggers-Pending",
	"Triggers-Awaited",
}

// notInStatus are control fields dpkg never writes to status (archive
// index fields), or that it computes itself.
var notInStatus = map[string]bool{
	"status": true, "conffiles": true, "config-version": true,
	"filename": true, "size": true, "md5sum": true, "msdos-filename": true,
	"triggers-pending": true, "triggers-awaited": true,
}

// InfoName is the prefix of a package's files in var/lib/dpkg/info:
// "<pkg>" or, for Multi-Arch: same, "<pkg>:<arch>".
func InfoName(p *Package) string {
	if p.MultiArchSame() {
		return p.Name() + ":" + p.Architecture()
	}
	return p.Name()
}

// StatusStanza renders the status-file stanza dpkg writes for a package it
// has just unpacked: the control fields in dpkg's order, "Status: install
// ok unpacked", and Conffiles with "newconffile" tokens.
func StatusStanza(u *Unpacked) []byte {
	ctl := u.Package.Control
	known := map[string]string{}
	var unknown []Field
	canon := map[string]string{}
	for _, n := range statusFieldOrder {
		canon[strings.ToLower(n)] = n
	}
	for _, f := range ctl.Fields {
		low := strings.ToLower(f.Name)
		if notInStatus[low] {
			continue
		}
		v := f.Value
		// dpkg writes these booleans/enums only when they differ from
		// the default.
		if (low == "essential" || low == "protected") && v == "no" ||
			low == "multi-arch" && v == "no" {
			continue
		}
		if n, ok := canon[low]; ok {
			known[n] = v
		} else {
			unknown = append(unknown, f)
		}
	}
	known["Status"] = "install ok unpacked"
	if len(u.Conffiles) > 0 {
		var b strings.Builder
		for _, c := range u.Conffiles {
			b.WriteString("\n " + c.Path + " newconffile")
			for _, fl := range c.Flags {
				b.WriteString(" " + fl)
			}
		}
		known["Conffiles"] = b.String()
	}
	var w bytes.Buffer
	for _, n := range statusFieldOrder {
		if v, ok := known[n]; ok {
			writeField(&w, n, v)
		}
	}
	for _, f := range unknown {
		writeField(&w, f.Name, f.Value)
	}
	return w.Bytes()
}

// WriteDatabase adds unpacked packages to root's dpkg database, creating it
// in var/lib/dpkg if the root has none: OpenDatabase (or NewDatabase) then
// Database.Add.
func WriteDatabase(ctx context.Context, root string, pkgs []*Unpacked, opts DatabaseOptions) error {
	db, err := OpenDatabase(root)
	if errors.Is(err, ErrNoDatabase) {
		db, err = NewDatabase(root, opts.Arch)
	}
	if err != nil {
		return fmt.Errorf("write dpkg database: %w", err)
	}
	return db.Add(ctx, pkgs, opts)
}

// Add records unpacked packages in the database, as dpkg leaves it after
// unpacking them (every package "install ok unpacked"), ready for preinsts
// and "dpkg --configure -a":
//   - status: one stanza per package, replacing any stanza of the same
//     package and keeping the others, sorted by name and architecture; the
//     previous file is kept as status-old, the new one fsynced and renamed
//     into place;
//   - info/<pkg>[:<arch>].list, .md5sums (shipped or generated), and every
//     other control member verbatim (scripts, conffiles, triggers, shlibs,
//     symbols, templates, config, ...) with its mode and mtime; info/format;
//   - paths an unpacked package took over from an installed one
//     (Unpacked.TakenOver) leave that package's .list and .md5sums;
//   - triggers/File and triggers/<name> with the packages' interests, an empty
//     Unincorp and Lock (activations aimed at unconfigured packages are
//     dropped by dpkg, so none are pending);
//   - arch, and empty diversions and statoverride, updates/ and
//     alternatives/ when missing.
//
// "available" is not written: neither dpkg nor apt needs it. Every file is
// written to a temporary name and renamed into place. A database whose
// updates/ journal holds entries is refused (ErrJournal): dpkg must first
// merge them ("dpkg --configure -a").
func (db *Database) Add(ctx context.Context, pkgs []*Unpacked, opts DatabaseOptions) error {
	if db.root == "" {
		return fmt.Errorf("write dpkg database %s: opened read-only from a file system", db.where(""))
	}
	if opts.Arch == "" {
		opts.Arch = db.arch
	}
	if opts.Arch == "" {
		return fmt.Errorf("write dpkg database in %s: no native architecture given", db.root)
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.checkJournal(); err != nil {
		return err
	}
	admin := filepath.Join(db.root, db.dir)
	for _, d := range []string{"", "info", "updates", "alternatives", "triggers"} {
		if err := os.MkdirAll(filepath.Join(admin, d), 0o755); err != nil {
			return fmt.Errorf("write dpkg database: %w", err)
		}
	}
	seen := map[string]string{}
	for _, u := range pkgs {
		n := InfoName(u.Package)
		if prev, dup := seen[n]; dup {
			return fmt.Errorf("write dpkg database: package %s given twice (%s and %s)", n, prev, u.Package)
		}
		seen[n] = u.Package.String()
	}
	for _, u := range pkgs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeInfo(admin, u, now); err != nil {
			return fmt.Errorf("write dpkg database: %s: %w", u.Package, err)
		}
	}
	if err := db.applyTakeovers(pkgs, seen); err != nil {
		return fmt.Errorf("write dpkg database in %s: %w", db.root, err)
	}
	steps := []func() error{
		func() error { return db.writeStatus(pkgs) },
		func() error { return writeTriggers(admin, pkgs) },
		func() error { return writeArch(admin, pkgs, opts) },
		func() error { return writeIfMissing(filepath.Join(admin, "info", "format"), []byte("1\n"), 0o644) },
		func() error { return writeIfMissing(filepath.Join(admin, "diversions"), nil, 0o644) },
		func() error { return writeIfMissing(filepath.Join(admin, "statoverride"), nil, 0o644) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return fmt.Errorf("write dpkg database in %s: %w", db.root, err)
		}
	}
	db.arch = opts.Arch
	return db.load()
}

// checkJournal refuses to write over an interrupted dpkg run.
func (db *Database) checkJournal() error {
	j, err := db.PendingJournal()
	if err != nil {
		return err
	}
	if len(j) > 0 {
		return fmt.Errorf("%s holds %s: %w; run dpkg --configure -a in the root first", db.where("updates"), strings.Join(j, ", "), ErrJournal)
	}
	return nil
}

// applyTakeovers removes the paths unpacked packages took over from the
// .list and .md5sums of the installed packages that had them. A package
// being (re)written by this Add (in mine) is skipped: its files are new.
func (db *Database) applyTakeovers(pkgs []*Unpacked, mine map[string]string) error {
	lost := map[string]map[string]bool{}
	for _, u := range pkgs {
		for _, t := range u.TakenOver {
			if _, ok := mine[t.From]; ok {
				continue
			}
			if lost[t.From] == nil {
				lost[t.From] = map[string]bool{}
			}
			lost[t.From][t.Path] = true
		}
	}
	names := make([]string, 0, len(lost))
	for n := range lost {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := db.dropFilesLocked(n, lost[n]); err != nil {
			return err
		}
	}
	return nil
}

// dropFilesLocked rewrites infoName's .list and .md5sums without paths.
func (db *Database) dropFilesLocked(infoName string, paths map[string]bool) error {
	files, err := db.filesLocked(infoName)
	if err != nil {
		return err
	}
	kept := slices.DeleteFunc(files, func(f string) bool { return paths[f] })
	if err := db.writeListLocked(infoName, kept); err != nil {
		return err
	}
	sumsPath := filepath.Join(db.root, db.dir, "info", infoName+".md5sums")
	sums, err := os.ReadFile(sumsPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(sums), "\n") {
		if _, p, ok := strings.Cut(strings.TrimSuffix(line, "\n"), "  "); ok && paths["/"+strings.TrimPrefix(p, "/")] {
			continue
		}
		out.WriteString(line)
	}
	return writeAtomic(sumsPath, out.Bytes(), 0o644, time.Time{})
}

func (db *Database) writeListLocked(infoName string, files []string) error {
	var b bytes.Buffer
	for _, f := range files {
		b.WriteString(f)
		b.WriteByte('\n')
	}
	if err := writeAtomic(filepath.Join(db.root, db.dir, "info", infoName+".list"), b.Bytes(), 0o644, time.Time{}); err != nil {
		return err
	}
	if db.lists == nil {
		db.lists = map[string][]string{}
	}
	db.lists[infoName] = slices.Clone(files)
	db.owners = nil
	return nil
}

// SetFiles rewrites p's .list (for example after files were removed from
// the package, or ownership moved), as dpkg does, and drops the removed
// paths from its .md5sums.
func (db *Database) SetFiles(p *Installed, files []string) error {
	if db.root == "" {
		return fmt.Errorf("write %s: opened read-only from a file system", db.where("info"))
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.checkJournal(); err != nil {
		return err
	}
	old, err := db.filesLocked(p.InfoName())
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, f := range files {
		keep[f] = true
	}
	gone := map[string]bool{}
	for _, f := range old {
		if !keep[f] {
			gone[f] = true
		}
	}
	if err := db.writeListLocked(p.InfoName(), files); err != nil {
		return fmt.Errorf("write %s: %w", db.where("info/"+p.InfoName()+".list"), err)
	}
	if len(gone) == 0 {
		return nil
	}
	if err := db.dropFilesLocked(p.InfoName(), gone); err != nil {
		return fmt.Errorf("write %s: %w", db.where("info/"+p.InfoName()+".md5sums"), err)
	}
	return nil
}

// UpdateStatus rewrites the status stanzas of the changed packages (matched
// by InfoName): their Control with the Status field set from Want, Flag and
// State, and Conffiles from Conffiles (dropped when empty). Other stanzas
// keep their bytes.
func (db *Database) UpdateStatus(changed []*Installed) error {
	if db.root == "" {
		return fmt.Errorf("write %s: opened read-only from a file system", db.where("status"))
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.checkJournal(); err != nil {
		return err
	}
	byName := map[string]*Installed{}
	for _, c := range changed {
		byName[c.InfoName()] = c
	}
	pkgs := slices.Clone(db.pkgs)
	for i, p := range pkgs {
		c, ok := byName[p.InfoName()]
		if !ok {
			continue
		}
		delete(byName, p.InfoName())
		n := *c
		n.Control = syncControl(c)
		pkgs[i] = &n
	}
	for name := range byName {
		return fmt.Errorf("update %s: package %s is not in it", db.where("status"), name)
	}
	var out bytes.Buffer
	for _, p := range pkgs {
		out.Write(renderControl(p.Control))
		out.WriteByte('\n')
	}
	if err := writeStatusFile(filepath.Join(db.root, db.dir), out.Bytes()); err != nil {
		return fmt.Errorf("write %s: %w", db.where("status"), err)
	}
	db.pkgs = pkgs
	return nil
}

// syncControl returns p.Control with Status and Conffiles set from p's
// fields, in place (a missing Status goes after Package, a missing
// Conffiles at the end).
func syncControl(p *Installed) Control {
	var c Control
	status := p.Want + " " + p.Flag + " " + p.State
	var conff string
	for _, cf := range p.Conffiles {
		conff += "\n " + cf.Path + " " + cf.Hash
		for _, f := range cf.Flags {
			conff += " " + f
		}
	}
	hadStatus, hadConff := p.Control.Has("Status"), false
	for _, f := range p.Control.Fields {
		switch strings.ToLower(f.Name) {
		case "status":
			f.Value = status
		case "conffiles":
			hadConff = true
			if conff == "" {
				continue
			}
			f.Value = conff
		}
		c.Fields = append(c.Fields, f)
		if !hadStatus && strings.EqualFold(f.Name, "package") {
			c.Fields = append(c.Fields, Field{Name: "Status", Value: status})
			hadStatus = true
		}
	}
	if !hadConff && conff != "" {
		c.Fields = append(c.Fields, Field{Name: "Conffiles", Value: conff})
	}
	return c
}

func renderControl(c Control) []byte {
	var w bytes.Buffer
	for _, f := range c.Fields {
		writeField(&w, f.Name, f.Value)
	}
	return w.Bytes()
}

func writeInfo(admin string, u *Unpacked, now time.Time) error {
	prefix := filepath.Join(admin, "info", InfoName(u.Package)+".")
	var list bytes.Buffer
	for _, f := range u.Files {
		list.WriteString(f)
		list.WriteByte('\n')
	}
	if err := writeAtomic(prefix+"list", list.Bytes(), 0o644, now); err != nil {
		return err
	}
	md5time := now
	if m, ok := u.Package.Member("md5sums"); ok {
		md5time = m.ModTime
	}
	if err := writeAtomic(prefix+"md5sums", u.MD5sums, 0o644, md5time); err != nil {
		return err
	}
	for _, m := range u.Package.Members {
		if m.Name == "control" || m.Name == "md5sums" {
			continue
		}
		if m.Name == "list" || strings.Contains(m.Name, ".") {
			return fmt.Errorf("control member %q would clash with dpkg's own info files", m.Name)
		}
		if err := writeAtomic(prefix+m.Name, m.Data, fs.FileMode(m.Mode&0o777), m.ModTime); err != nil {
			return err
		}
	}
	return nil
}

func stanzaKey(c Control) string {
	if c.Get("Multi-Arch") == "same" {
		return c.Get("Package") + ":" + c.Get("Architecture")
	}
	return c.Get("Package")
}

func (db *Database) writeStatus(pkgs []*Unpacked) error {
	type stanza struct {
		name, arch string
		text       []byte
	}
	var all []stanza
	mine := map[string]bool{}
	for _, u := range pkgs {
		mine[stanzaKey(u.Package.Control)] = true
		all = append(all, stanza{u.Package.Name(), u.Package.Architecture(), StatusStanza(u)})
	}
	for _, p := range db.pkgs {
		if mine[stanzaKey(p.Control)] {
			continue
		}
		all = append(all, stanza{p.Name, p.Arch, renderControl(p.Control)})
	}
	sort.SliceStable(all, func(i, j int) bool {
		if all[i].name != all[j].name {
			return all[i].name < all[j].name
		}
		return all[i].arch < all[j].arch
	})
	var out bytes.Buffer
	for _, s := range all {
		out.Write(s.text)
		out.WriteByte('\n')
	}
	return writeStatusFile(filepath.Join(db.root, db.dir), out.Bytes())
}

// writeStatusFile replaces admin/status as dpkg does: the new file is
// written and fsynced under a temporary name, the old one is kept as
// status-old (a hard link), then the new one is renamed into place.
func writeStatusFile(admin string, b []byte) error {
	p := filepath.Join(admin, "status")
	if _, err := os.Lstat(p); err == nil {
		old := filepath.Join(admin, "status-old")
		if err := os.Remove(old); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.Link(p, old); err != nil {
			return fmt.Errorf("keep status-old: %w", err)
		}
	}
	return writeAtomic(p, b, 0o644, time.Time{})
}

// writeTriggers records the packages' trigger interests as dpkg does while
// unpacking: file triggers in triggers/File ("<path> <pkg>[/noawait]"),
// explicit ones in triggers/<name> ("<pkg>[/noawait]"). Lines of other
// packages already present are kept.
func writeTriggers(admin string, pkgs []*Unpacked) error {
	dir := filepath.Join(admin, "triggers")
	mine := map[string]bool{}
	for _, u := range pkgs {
		mine[InfoName(u.Package)] = true
	}
	owner := func(line string) string {
		f := strings.Fields(line)
		if len(f) == 0 {
			return ""
		}
		o, _, _ := strings.Cut(f[len(f)-1], "/")
		return o
	}
	files := map[string][]string{"File": nil}
	var order []string
	for _, u := range pkgs {
		for _, t := range u.Package.Triggers {
			if t.Directive != "interest" {
				continue
			}
			who := InfoName(u.Package)
			if t.NoAwait {
				who += "/noawait"
			}
			if strings.HasPrefix(t.Name, "/") {
				files["File"] = append(files["File"], t.Name+" "+who)
				continue
			}
			if strings.ContainsAny(t.Name, "/") || t.Name == "File" || t.Name == "Unincorp" || t.Name == "Lock" {
				return fmt.Errorf("%s: bad trigger name %q", u.Package, t.Name)
			}
			if _, ok := files[t.Name]; !ok {
				order = append(order, t.Name)
			}
			files[t.Name] = append(files[t.Name], who)
		}
	}
	order = append([]string{"File"}, order...)
	for _, name := range order {
		p := filepath.Join(dir, name)
		var keep []string
		if old, err := os.ReadFile(p); err == nil {
			for _, l := range strings.Split(strings.TrimRight(string(old), "\n"), "\n") {
				if l != "" && !mine[owner(l)] {
					keep = append(keep, l)
				}
			}
		}
		lines := append(keep, files[name]...)
		if len(lines) == 0 && name == "File" {
			if _, err := os.Stat(p); err == nil {
				if err := writeAtomic(p, nil, 0o644, time.Time{}); err != nil {
					return err
				}
			}
			continue
		}
		body := strings.Join(lines, "\n")
		if body != "" {
			body += "\n"
		}
		if err := writeAtomic(p, []byte(body), 0o644, time.Time{}); err != nil {
			return err
		}
	}
	if err := writeIfMissing(filepath.Join(dir, "Unincorp"), nil, 0o644); err != nil {
		return err
	}
	return writeIfMissing(filepath.Join(dir, "Lock"), nil, 0o600)
}

func writeArch(admin string, pkgs []*Unpacked, opts DatabaseOptions) error {
	p := filepath.Join(admin, "arch")
	arches := []string{opts.Arch}
	have := map[string]bool{opts.Arch: true, "all": true}
	add := func(a string) {
		if a != "" && !have[a] {
			have[a] = true
			arches = append(arches, a)
		}
	}
	if old, err := os.ReadFile(p); err == nil {
		lines := strings.Fields(string(old))
		if len(lines) > 0 && lines[0] != opts.Arch {
			return fmt.Errorf("%s says the native architecture is %s, not %s", p, lines[0], opts.Arch)
		}
		for _, a := range lines {
			add(a)
		}
	}
	for _, a := range opts.ForeignArches {
		add(a)
	}
	for _, u := range pkgs {
		add(u.Package.Architecture())
	}
	return writeAtomic(p, []byte(strings.Join(arches, "\n")+"\n"), 0o644, time.Time{})
}

func writeIfMissing(p string, b []byte, mode fs.FileMode) error {
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	return writeAtomic(p, b, mode, time.Time{})
}

// writeAtomic writes b to a temporary file beside p and renames it over p;
// a non-zero mtime is applied.
func writeAtomic(p string, b []byte, mode fs.FileMode, mtime time.Time) error {
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil && filepath.Base(p) == "status" {
		// dpkg fsyncs status; the rest of a freshly built root can be
		// rebuilt after a crash.
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !mtime.IsZero() {
		err = os.Chtimes(tmp, mtime, mtime)
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
