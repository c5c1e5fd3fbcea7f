package bootc

import (
	"context"
	"fmt"
	"os"
	"path"
	"slices"
	"strings"
)

const systemUnitDir = "usr/lib/systemd/system"

// unitDirs lists where packaged units live in root: usr/lib, plus lib on a
// root without the usr merge.
func unitDirs(r rootfs) ([]string, error) {
	dirs := []string{systemUnitDir}
	if ok, err := r.isDir("lib"); err != nil {
		return nil, err
	} else if ok {
		dirs = append(dirs, "lib/systemd/system")
	}
	return dirs, nil
}

// unitFile is a packaged unit found for a name to enable.
type unitFile struct {
	dir  string // e.g. usr/lib/systemd/system
	file string // file name the link points at (an alias resolved, a template's foo@.service)
	link string // name of the link in the .wants directory
	data []byte
}

// findUnit looks name up the way systemctl enable would for a packaged
// unit: an alias symlink is resolved to the unit it names, and foo@bar.service
// falls back to the template foo@.service. A name no file has may be an
// alias that a unit declares in its [Install] section (Debian's ssh.service
// has Alias=sshd.service and ships no sshd.service): that unit is found.
func findUnit(r rootfs, name string) (unitFile, error) {
	if name == "" || strings.Contains(name, "/") || !strings.Contains(name, ".") {
		return unitFile{}, fmt.Errorf("unit %q: not a unit file name", name)
	}
	dirs, err := unitDirs(r)
	if err != nil {
		return unitFile{}, err
	}
	names := []string{name}
	if at := strings.Index(name, "@"); at >= 0 {
		if tmpl := name[:at+1] + name[strings.LastIndex(name, "."):]; tmpl != name {
			names = append(names, tmpl)
		}
	}
	for _, n := range names {
		for _, d := range dirs {
			u, ok, err := loadUnit(r, d, n)
			if err != nil {
				return unitFile{}, err
			}
			if !ok {
				continue
			}
			if n != name { // instance of a template
				u.link = name
			}
			return u, nil
		}
	}
	for _, n := range names {
		u, ok, err := findAliasDeclaration(r, dirs, n)
		if err != nil {
			return unitFile{}, fmt.Errorf("unit %s: %w", name, err)
		}
		if !ok {
			continue
		}
		if n != name { // an instance of a template alias: the same instance of the template
			u.link = strings.Replace(u.file, "@.", name[strings.Index(name, "@"):strings.LastIndex(name, ".")]+".", 1)
		}
		return u, nil
	}
	return unitFile{}, fmt.Errorf("unit %s not found in /%s: install the package that ships it or fix the treefile's units", name, strings.Join(dirs, ", /"))
}

// findAliasDeclaration finds the unit file whose [Install] Alias= lists
// alias. Two different units declaring it is an error: which one to enable
// is then for the treefile to say.
func findAliasDeclaration(r rootfs, dirs []string, alias string) (unitFile, bool, error) {
	var found []unitFile
	seen := map[string]bool{}
	for _, d := range dirs {
		names, err := r.readDirNames(d)
		if err != nil {
			return unitFile{}, false, err
		}
		for _, n := range names {
			if seen[n] || !strings.Contains(n, ".") {
				continue
			}
			rel := path.Join(d, n)
			fi, err := r.lstat(rel)
			if err != nil {
				return unitFile{}, false, err
			}
			if !fi.Mode().IsRegular() { // symlinks are aliases or masks themselves
				continue
			}
			data, _, err := r.readFile(rel)
			if err != nil {
				return unitFile{}, false, err
			}
			if slices.Contains(installSection(data)["Alias"], alias) {
				seen[n] = true
				found = append(found, unitFile{dir: d, file: n, link: n, data: data})
			}
		}
	}
	switch len(found) {
	case 0:
		return unitFile{}, false, nil
	case 1:
		return found[0], true, nil
	}
	var owners []string
	for _, u := range found {
		owners = append(owners, "/"+path.Join(u.dir, u.file))
	}
	return unitFile{}, false, fmt.Errorf("Alias=%s is declared by %s: name the unit to enable instead", alias, strings.Join(owners, " and "))
}

func loadUnit(r rootfs, dir, name string) (unitFile, bool, error) {
	rel := path.Join(dir, name)
	fi, err := r.lstat(rel)
	if err != nil || fi == nil {
		return unitFile{}, false, err
	}
	u := unitFile{dir: dir, file: name, link: name}
	if fi.Mode()&os.ModeSymlink != 0 {
		p, _ := r.path(rel)
		target, err := os.Readlink(p)
		if err != nil {
			return unitFile{}, false, fmt.Errorf("read /%s: %w", rel, err)
		}
		if target == "/dev/null" {
			return unitFile{}, false, fmt.Errorf("unit %s is masked (/%s -> /dev/null)", name, rel)
		}
		// An alias (sshd.service -> ssh.service): enable the real unit.
		if base := path.Base(target); strings.Contains(base, ".") {
			u.file, u.link = base, base
		}
	}
	data, ok, err := r.readFile(rel)
	if err != nil {
		return unitFile{}, false, err
	}
	if !ok {
		return unitFile{}, false, fmt.Errorf("unit /%s is a dangling symlink", rel)
	}
	u.data = data
	return u, true, nil
}

// installSection returns the [Install] settings of a unit file: a key's
// values across lines, an empty assignment resetting them, as systemd reads.
func installSection(data []byte) map[string][]string {
	out := map[string][]string{}
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			in = line == "[Install]"
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !in || !ok {
			continue
		}
		k = strings.TrimSpace(k)
		if v = strings.TrimSpace(v); v == "" {
			delete(out, k)
			continue
		}
		out[k] = append(out[k], strings.Fields(v)...)
	}
	return out
}

// PostprocessUnits enables opts.Units as `systemctl enable` would for the
// image: a symlink /etc/systemd/system/<target>.wants/<unit> ->
// /usr/lib/systemd/system/<unit> for each WantedBy= target of the unit
// (RequiredBy= and UpheldBy= give .requires and .upholds), multi-user.target
// if it names none (compose_postprocess_units); Alias= names become links
// in /etc/systemd/system and Also= units are enabled the same way (without
// the multi-user.target default). A name that is only declared as an
// Alias= of a unit enables that unit (Debian's sshd.service enables
// ssh.service). A unit that is not installed is an error; a link already
// present is kept. It
// works on a root whose /etc is not yet moved to /usr/etc, so assembly may
// call it too.
func PostprocessUnits(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	if len(opts.Units) == 0 {
		return nil
	}
	etc, err := etcDir(r)
	if err != nil {
		return err
	}
	todo := append([]string(nil), opts.Units...)
	seen := map[string]bool{}
	for i := 0; len(todo) > 0; i++ {
		name := todo[0]
		todo = todo[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		also, err := enableUnit(r, path.Join(etc, "systemd/system"), name, i < len(opts.Units))
		if err != nil {
			return err
		}
		todo = append(todo, also...)
	}
	return nil
}

// enableUnit makes the links for one unit under sysconf (etc/systemd/system)
// and returns its Also= units. A unit the treefile names (requested) goes
// into multi-user.target when its [Install] names no target, as in
// rpm-ostree; an Also= unit gets only what its [Install] says, as with
// systemctl (NetworkManager-dispatcher.service has only an Alias=).
func enableUnit(r rootfs, sysconf, name string, requested bool) ([]string, error) {
	u, err := findUnit(r, name)
	if err != nil {
		return nil, err
	}
	inst := installSection(u.data)
	if strings.Contains(u.link, "@.") {
		def := inst["DefaultInstance"]
		if len(def) == 0 {
			return nil, fmt.Errorf("unit %s is a template without DefaultInstance=: name an instance, e.g. %s", name, strings.Replace(u.link, "@.", "@NAME.", 1))
		}
		u.link = strings.Replace(u.link, "@.", "@"+def[len(def)-1]+".", 1)
	}
	var links []string
	for _, kind := range []struct{ key, suffix string }{{"WantedBy", ".wants"}, {"RequiredBy", ".requires"}, {"UpheldBy", ".upholds"}} {
		for _, t := range inst[kind.key] {
			links = append(links, path.Join(sysconf, t+kind.suffix, u.link))
		}
	}
	if len(links) == 0 && requested {
		links = []string{path.Join(sysconf, "multi-user.target.wants", u.link)}
	}
	for _, alias := range inst["Alias"] {
		if alias != u.link && !strings.Contains(alias, "/") {
			links = append(links, path.Join(sysconf, alias))
		}
	}
	target := "/" + path.Join(u.dir, u.file)
	for _, rel := range links {
		if fi, err := r.lstat(rel); err != nil {
			return nil, err
		} else if fi != nil {
			continue
		}
		if err := r.symlink(target, rel); err != nil {
			return nil, fmt.Errorf("enable unit %s: %w", name, err)
		}
	}
	return inst["Also"], nil
}

// PostprocessDefaultTarget makes /usr/lib/systemd/system/default.target a
// symlink to opts.DefaultTarget (compose_postprocess_default_target: in
// /usr, as part of the OS defaults) and removes an /etc override, which
// would win over it.
func PostprocessDefaultTarget(ctx context.Context, root string, opts Options) error {
	if opts.DefaultTarget == "" {
		return nil
	}
	r := rootfs(root)
	t := opts.DefaultTarget
	if !strings.HasSuffix(t, ".target") || strings.Contains(t, "/") {
		return fmt.Errorf("default-target %q: not a .target unit name", t)
	}
	u, err := findUnit(r, t)
	if err != nil {
		return fmt.Errorf("default-target: %w", err)
	}
	etc, err := etcDir(r)
	if err != nil {
		return err
	}
	override := path.Join(etc, "systemd/system/default.target")
	if fi, err := r.lstat(override); err != nil {
		return err
	} else if fi != nil {
		opts.log().Info("removing /etc/systemd/system/default.target: the treefile's default-target replaces it")
		if err := removeNonDir(r, override); err != nil {
			return err
		}
	}
	return r.symlink("/"+path.Join(u.dir, u.file), path.Join(systemUnitDir, "default.target"))
}

// presetUnits are ostree's own units rpm-ostree always enables: the remount
// of /sysroot and /var after boot, and staged-deployment finalization.
var presetUnits = []string{"ostree-remount.service", "ostree-finalize-staged.path"}

// postprocessPresets enables presetUnits, when the image has them, through
// /usr/lib/systemd/system/multi-user.target.wants (postprocess_presets),
// so no preset or /etc state can leave them off.
func postprocessPresets(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	for _, u := range presetUnits {
		fi, err := r.lstat(path.Join(systemUnitDir, u))
		if err != nil {
			return err
		}
		if fi == nil {
			continue
		}
		if err := r.symlink("../"+u, path.Join(systemUnitDir, "multi-user.target.wants", u)); err != nil {
			return err
		}
	}
	return nil
}
