package deb

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/apt-ostree/apt-ostree/internal/rootpath"
)

// AdminDirs are where a root's dpkg database may live, in lookup order:
// dpkg's own place, and where an OSTree commit keeps it read-only (with
// /var/lib/dpkg a link to it on the booted system).
var AdminDirs = []string{AdminDir, OSTreeAdminDir}

// OSTreeAdminDir is where a composed OSTree tree keeps the dpkg database.
const OSTreeAdminDir = "usr/share/dpkg/database"

// ErrNoDatabase is wrapped when a root has no dpkg database (no status file
// in any of AdminDirs).
var ErrNoDatabase = errors.New("no dpkg database")

// ErrJournal is wrapped when the updates/ journal holds entries of an
// interrupted dpkg run: the database must not be written until
// "dpkg --configure -a" has merged them.
var ErrJournal = errors.New("dpkg was interrupted (pending updates/ journal)")

// Installed is one stanza of dpkg's status file.
type Installed struct {
	// Control is the stanza, fields in file order.
	Control                        Control
	Name, Arch, Version, MultiArch string
	// Want, Flag and State are the three words of the Status field.
	Want, Flag, State string
	ConfigVersion     string
	// Conffiles are the Conffiles entries (Hash is the md5 dpkg recorded,
	// or "newconffile" before configure).
	Conffiles []Conffile
}

// InfoName is the prefix of the package's files in info/: "name", or
// "name:arch" for Multi-Arch: same.
func (p *Installed) InfoName() string {
	if p.MultiArch == "same" {
		return p.Name + ":" + p.Arch
	}
	return p.Name
}

// ID is "name:arch".
func (p *Installed) ID() string { return p.Name + ":" + p.Arch }

// String names the package for messages: "name (version)".
func (p *Installed) String() string { return p.InfoName() + " " + p.Version }

// Diversion is one entry of the diversions file.
type Diversion struct {
	From, To string
	// Package is the diverting package, "" for a local diversion.
	Package string
}

// StatOverride is one line of the statoverride file.
type StatOverride struct {
	User, Group string
	Mode        fs.FileMode // permission bits and setuid/setgid/sticky
	Path        string
}

// Alternative is one alternatives/<name> file of update-alternatives.
type Alternative struct {
	Name    string
	Mode    string // "auto" or "manual"
	Link    string // the generic name, e.g. /usr/bin/editor
	Slaves  []AlternativeLink
	Choices []AlternativeChoice
}

// AlternativeLink is a slave link of an alternative group.
type AlternativeLink struct{ Name, Link string }

// AlternativeChoice is one registered alternative.
type AlternativeChoice struct {
	Path     string
	Priority int
	Slaves   []string // one path per Slaves entry, "" when the choice has none
}

// Database is the dpkg database of a root directory (read/write) or of a
// file system (read-only). It is read once when opened; the info files
// (.list, .md5sums) are read on demand. Methods are safe for concurrent
// use.
type Database struct {
	root string // host root directory, "" for a read-only fs.FS
	fsys fs.FS  // reads, relative to the root
	dir  string // admin dir relative to the root, symlinks resolved
	arch string

	mu     sync.Mutex
	pkgs   []*Installed // sorted by name, arch
	owners map[string][]string
	lists  map[string][]string // InfoName -> .list lines, once read
}

// OpenDatabase opens the dpkg database of the root directory for reading
// and writing. It looks in AdminDirs in order, following symlinks as a
// process chrooted into root would (so a var/lib/dpkg link to
// usr/share/dpkg/database is found as the latter). A root without one gives
// an error wrapping ErrNoDatabase: use NewDatabase.
func OpenDatabase(root string) (*Database, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, d := range AdminDirs {
		host, err := rootpath.ResolveFollow(abs, d)
		if err != nil {
			return nil, fmt.Errorf("open dpkg database of %s: %w", root, err)
		}
		if fi, err := os.Stat(filepath.Join(host, "status")); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		rel, err := filepath.Rel(abs, host)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(found, filepath.ToSlash(rel)) {
			found = append(found, filepath.ToSlash(rel))
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%s: %w (no status file in /%s)", root, ErrNoDatabase, strings.Join(AdminDirs, " or /"))
	case 1:
	default:
		return nil, fmt.Errorf("%s has two dpkg databases, /%s and /%s: remove one (or make /%s a link to /%s)", root, found[0], found[1], AdminDir, OSTreeAdminDir)
	}
	db := &Database{root: abs, fsys: os.DirFS(abs), dir: found[0]}
	if err := db.load(); err != nil {
		return nil, err
	}
	return db, nil
}

// NewDatabase prepares an empty database in root/var/lib/dpkg with native
// architecture arch; nothing is written until Add. A root that already has
// a database is refused: use OpenDatabase.
func NewDatabase(root, arch string) (*Database, error) {
	if arch == "" {
		return nil, fmt.Errorf("new dpkg database in %s: no native architecture given", root)
	}
	if db, err := OpenDatabase(root); err == nil {
		return nil, fmt.Errorf("%s already has a dpkg database in /%s: open it with OpenDatabase", root, db.dir)
	} else if !errors.Is(err, ErrNoDatabase) {
		return nil, err
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	return &Database{root: abs, fsys: os.DirFS(abs), dir: AdminDir, arch: arch}, nil
}

// OpenDatabaseFS opens the dpkg database of a file system read-only (an
// OSTree commit, an image's layers). When fsys implements fs.ReadLinkFS,
// symlinks are resolved inside it as in a chroot; otherwise they are left
// to fsys.
func OpenDatabaseFS(fsys fs.FS) (*Database, error) {
	var found []string
	for _, d := range AdminDirs {
		real := d
		if rfs, ok := fsys.(rootpath.FS); ok {
			r, err := rootpath.ResolveFollowFS(rfs, d)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("open dpkg database: /%s: %w", d, err)
			}
			real = r
		}
		if fi, err := fs.Stat(fsys, real+"/status"); err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if !slices.Contains(found, real) {
			found = append(found, real)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w (no status file in /%s)", ErrNoDatabase, strings.Join(AdminDirs, " or /"))
	case 1:
	default:
		return nil, fmt.Errorf("two dpkg databases, /%s and /%s: remove one", found[0], found[1])
	}
	db := &Database{fsys: fsys, dir: found[0]}
	if err := db.load(); err != nil {
		return nil, err
	}
	return db, nil
}

// where names a file of the database in messages.
func (db *Database) where(name string) string {
	if db.root != "" {
		return filepath.Join(db.root, db.dir, name)
	}
	return "/" + path.Join(db.dir, name)
}

func (db *Database) readFile(name string) ([]byte, error) {
	return fs.ReadFile(db.fsys, path.Join(db.dir, name))
}

func (db *Database) load() error {
	if b, err := db.readFile("arch"); err == nil {
		if w := strings.Fields(string(b)); len(w) > 0 {
			db.arch = w[0]
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read %s: %w", db.where("arch"), err)
	}
	b, err := db.readFile("status")
	if err != nil {
		return fmt.Errorf("read %s: %w", db.where("status"), err)
	}
	pkgs, err := parseStatus(b)
	if err != nil {
		return fmt.Errorf("%s: %w", db.where("status"), err)
	}
	db.pkgs = pkgs
	db.owners, db.lists = nil, nil
	return nil
}

// parseStatus parses a status file into sorted stanzas.
func parseStatus(b []byte) ([]*Installed, error) {
	paras, err := ParseParagraphs(b)
	if err != nil {
		return nil, err
	}
	out := make([]*Installed, 0, len(paras))
	for i, c := range paras {
		p, err := installedFrom(c)
		if err != nil {
			return nil, fmt.Errorf("stanza %d (%s): %w", i+1, c.Get("Package"), err)
		}
		out = append(out, p)
	}
	sortInstalled(out)
	return out, nil
}

func sortInstalled(pkgs []*Installed) {
	sort.SliceStable(pkgs, func(i, j int) bool {
		if pkgs[i].Name != pkgs[j].Name {
			return pkgs[i].Name < pkgs[j].Name
		}
		return pkgs[i].Arch < pkgs[j].Arch
	})
}

func installedFrom(c Control) (*Installed, error) {
	st := strings.Fields(c.Get("Status"))
	p := &Installed{
		Control: c, Name: c.Get("Package"), Arch: c.Get("Architecture"), Version: c.Get("Version"),
		MultiArch: c.Get("Multi-Arch"), ConfigVersion: c.Get("Config-Version"),
	}
	if p.Name == "" {
		return nil, fmt.Errorf("no Package field")
	}
	if len(st) != 3 {
		return nil, fmt.Errorf("bad Status %q, want three words", c.Get("Status"))
	}
	p.Want, p.Flag, p.State = st[0], st[1], st[2]
	for _, line := range strings.Split(c.Get("Conffiles"), "\n") {
		w := strings.Fields(line)
		if len(w) == 0 {
			continue
		}
		cf := Conffile{Path: w[0]}
		if len(w) > 1 {
			cf.Hash, cf.Flags = w[1], w[2:]
		}
		p.Conffiles = append(p.Conffiles, cf)
	}
	return p, nil
}

// Dir is the admin directory relative to the root, symlinks resolved,
// e.g. "var/lib/dpkg" or "usr/share/dpkg/database".
func (db *Database) Dir() string { return db.dir }

// Root is the host directory the database belongs to, "" for OpenDatabaseFS.
func (db *Database) Root() string { return db.root }

// Arch is the native architecture (first line of the arch file), "" when
// the database has no arch file.
func (db *Database) Arch() string { return db.arch }

// Packages returns every status stanza, sorted by name and architecture,
// whatever its state.
func (db *Database) Packages() []*Installed {
	db.mu.Lock()
	defer db.mu.Unlock()
	return slices.Clone(db.pkgs)
}

// Lookup returns the stanza of name for arch; arch "" matches the native
// architecture or "all" (or the only instance). nil if absent.
func (db *Database) Lookup(name, arch string) *Installed {
	db.mu.Lock()
	defer db.mu.Unlock()
	var any []*Installed
	for _, p := range db.pkgs {
		if p.Name != name {
			continue
		}
		if arch != "" {
			if p.Arch == arch {
				return p
			}
			continue
		}
		if p.Arch == db.arch || p.Arch == "all" {
			return p
		}
		any = append(any, p)
	}
	if len(any) == 1 {
		return any[0]
	}
	return nil
}

// InfoPath is the root-relative path of the package's info file member
// ("list", "md5sums", "postinst", ...).
func (db *Database) InfoPath(p *Installed, member string) string {
	return path.Join(db.dir, "info", p.InfoName()+"."+member)
}

// Files returns the package's .list lines ("/.", "/usr", ...); a package
// without a .list (config-files, not-installed) has none.
func (db *Database) Files(p *Installed) ([]string, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.filesLocked(p.InfoName())
}

func (db *Database) filesLocked(infoName string) ([]string, error) {
	if l, ok := db.lists[infoName]; ok {
		return slices.Clone(l), nil
	}
	b, err := db.readFile("info/" + infoName + ".list")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", db.where("info/"+infoName+".list"), err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	if db.lists == nil {
		db.lists = map[string][]string{}
	}
	db.lists[infoName] = out
	return slices.Clone(out), nil
}

// MD5sums returns the package's .md5sums as path (with a leading "/") ->
// hex digest; a package without the file has none.
func (db *Database) MD5sums(p *Installed) (map[string]string, error) {
	b, err := db.readFile("info/" + p.InfoName() + ".md5sums")
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", db.where("info/"+p.InfoName()+".md5sums"), err)
	}
	out := map[string]string{}
	for i, l := range strings.Split(string(b), "\n") {
		if l == "" {
			continue
		}
		sum, f, ok := strings.Cut(l, "  ")
		if !ok {
			return nil, fmt.Errorf("%s line %d: want \"<md5>  <path>\", got %q", db.where("info/"+p.InfoName()+".md5sums"), i+1, l)
		}
		out["/"+strings.TrimPrefix(f, "/")] = sum
	}
	return out, nil
}

// Owners returns the InfoNames of the packages whose .list names path
// (absolute, as in .list: "/usr/bin/dpkg"), sorted. The index is built on
// first use from every package's .list.
func (db *Database) Owners(p string) ([]string, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if err := db.indexLocked(); err != nil {
		return nil, err
	}
	return slices.Clone(db.owners[p]), nil
}

func (db *Database) indexLocked() error {
	if db.owners != nil {
		return nil
	}
	owners := map[string][]string{}
	for _, p := range db.pkgs {
		files, err := db.filesLocked(p.InfoName())
		if err != nil {
			return err
		}
		for _, f := range files {
			owners[f] = append(owners[f], p.InfoName())
		}
	}
	for _, o := range owners {
		sort.Strings(o)
	}
	db.owners = owners
	return nil
}

// Diversions parses the diversions file (triples of lines: from, to,
// package, where ":" means a local diversion).
func (db *Database) Diversions() ([]Diversion, error) {
	b, err := db.readFile("diversions")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(b) == 0 {
		return nil, nil
	}
	if len(lines)%3 != 0 {
		return nil, fmt.Errorf("%s: %d lines, want a multiple of 3 (from, to, package)", db.where("diversions"), len(lines))
	}
	var out []Diversion
	for i := 0; i < len(lines); i += 3 {
		d := Diversion{From: lines[i], To: lines[i+1], Package: lines[i+2]}
		if d.Package == ":" {
			d.Package = ""
		}
		out = append(out, d)
	}
	return out, nil
}

// StatOverrides parses the statoverride file ("user group mode path").
func (db *Database) StatOverrides() ([]StatOverride, error) {
	b, err := db.readFile("statoverride")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []StatOverride
	for i, l := range strings.Split(string(b), "\n") {
		if strings.TrimSpace(l) == "" {
			continue
		}
		w := strings.SplitN(l, " ", 4)
		if len(w) != 4 {
			return nil, fmt.Errorf("%s line %d: want \"user group mode path\", got %q", db.where("statoverride"), i+1, l)
		}
		m, err := strconv.ParseUint(w[2], 8, 32)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: bad mode %q", db.where("statoverride"), i+1, w[2])
		}
		out = append(out, StatOverride{User: w[0], Group: w[1], Mode: unixMode(uint32(m)), Path: w[3]})
	}
	return out, nil
}

// unixMode converts permission and setuid/setgid/sticky bits to fs.FileMode.
func unixMode(m uint32) fs.FileMode {
	fm := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		fm |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}

// Alternatives parses every alternatives/<name> file, sorted by name.
func (db *Database) Alternatives() ([]Alternative, error) {
	ents, err := fs.ReadDir(db.fsys, path.Join(db.dir, "alternatives"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Alternative
	for _, e := range ents {
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := db.readFile("alternatives/" + e.Name())
		if err != nil {
			return nil, err
		}
		a, err := parseAlternative(e.Name(), b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", db.where("alternatives/"+e.Name()), err)
		}
		out = append(out, a)
	}
	return out, nil
}

// parseAlternative reads update-alternatives' administrative file: mode,
// link, slave name/link pairs up to a blank line, then per choice its path,
// priority and one line per slave, up to a final blank line.
func parseAlternative(name string, b []byte) (Alternative, error) {
	a := Alternative{Name: name}
	sc := bufio.NewScanner(bytes.NewReader(b))
	next := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return sc.Text(), true
	}
	var ok bool
	if a.Mode, ok = next(); !ok {
		return a, fmt.Errorf("empty file")
	}
	if a.Link, ok = next(); !ok {
		return a, fmt.Errorf("no link line")
	}
	for {
		n, ok := next()
		if !ok {
			return a, fmt.Errorf("no blank line after the slave links")
		}
		if n == "" {
			break
		}
		l, ok := next()
		if !ok {
			return a, fmt.Errorf("slave %s has no link", n)
		}
		a.Slaves = append(a.Slaves, AlternativeLink{Name: n, Link: l})
	}
	for {
		p, ok := next()
		if !ok || p == "" {
			break
		}
		pr, ok := next()
		if !ok {
			return a, fmt.Errorf("choice %s has no priority", p)
		}
		prio, err := strconv.Atoi(pr)
		if err != nil {
			return a, fmt.Errorf("choice %s: bad priority %q", p, pr)
		}
		c := AlternativeChoice{Path: p, Priority: prio}
		for range a.Slaves {
			s, ok := next()
			if !ok {
				return a, fmt.Errorf("choice %s: missing slave lines", p)
			}
			c.Slaves = append(c.Slaves, s)
		}
		a.Choices = append(a.Choices, c)
	}
	return a, sc.Err()
}

// PendingJournal lists the entries of the updates/ journal that an
// interrupted dpkg left (dpkg's scratch file tmp.i is not one).
func (db *Database) PendingJournal() ([]string, error) {
	ents, err := fs.ReadDir(db.fsys, path.Join(db.dir, "updates"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.Name() != "tmp.i" {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
