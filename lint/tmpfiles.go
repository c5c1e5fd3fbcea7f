package lint

import (
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// tmpfilesDirs are read in this order; a later one overrides an earlier one
// for the same path (bootc#1732), which for presence checks changes nothing.
var tmpfilesDirs = []string{"usr/lib/tmpfiles.d", "etc/tmpfiles.d"}

// confFiles lists the *.conf files of dir (a name with a stem and the
// extension "conf", as Rust's Path::extension sees it), sorted.
func confFiles(t *tree, dir string) ([]string, error) {
	ok, err := t.isDir(dir)
	if err != nil || !ok {
		return nil, err
	}
	ents, err := t.readDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, ".conf") && strings.TrimPrefix(n, ".") != "conf" && !e.IsDir() {
			out = append(out, dir+"/"+n)
		}
	}
	return out, nil
}

// pathKey names a file by the symlink-free path of its parent directory plus
// its own name: the "physical identity" bootc matches tmpfiles.d entries by.
func pathKey(parent, leaf string) string {
	if parent == "." {
		return leaf
	}
	return parent + "/" + leaf
}

// tmpfilesDeclared reads tmpfiles.d and returns the keys of every declared
// path, plus the lines that could not be parsed.
func tmpfilesDeclared(t *tree) (map[string]bool, []string, error) {
	declared := map[string]bool{}
	var malformed []string
	for _, dir := range tmpfilesDirs {
		files, err := confFiles(t, dir)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range files {
			data, _, err := t.readFile(f)
			if err != nil {
				return nil, nil, err
			}
			for _, line := range strings.Split(string(data), "\n") {
				if line == "" || line[0] == '#' {
					continue
				}
				p, err := tmpfilesEntryPath(line)
				if err != nil {
					malformed = append(malformed, f+": "+strings.TrimSpace(line))
					continue
				}
				var parts []string
				for _, c := range strings.Split(p, "/") {
					if c != "" && c != "." {
						parts = append(parts, c)
					}
				}
				if len(parts) == 0 {
					continue
				}
				leaf := parts[len(parts)-1]
				parent, err := t.resolve(strings.Join(parts[:len(parts)-1], "/"), true)
				if err != nil {
					// A parent that is missing, loops or cannot be read declares nothing here.
					continue
				}
				if fi, err := t.rawLstat(parent); err != nil || !fi.IsDir() {
					continue
				}
				declared[pathKey(parent, leaf)] = true
			}
		}
	}
	return declared, malformed, nil
}

// userDB maps ids to names from the image's own passwd and group files.
type userDB struct {
	users, groups map[uint32]string
}

// loadUserDB reads etc/passwd and etc/group, then usr/lib/passwd and
// usr/lib/group (nss-altfiles); the first name for an id wins.
func loadUserDB(t *tree) (*userDB, error) {
	db := &userDB{users: map[uint32]string{}, groups: map[uint32]string{}}
	for _, f := range []struct {
		name   string
		fields int
		into   map[uint32]string
	}{
		{"etc/passwd", 7, db.users}, {"usr/lib/passwd", 7, db.users},
		{"etc/group", 4, db.groups}, {"usr/lib/group", 4, db.groups},
	} {
		data, ok, err := t.readFile(f.name)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		ents, err := parseNSSFile(data, f.fields)
		if err != nil {
			// A broken file is the sysusers lint's to report; use what parses.
			continue
		}
		for _, e := range ents {
			if _, dup := f.into[e.id]; !dup {
				f.into[e.id] = e.name
			}
		}
	}
	return db, nil
}

// name returns the name for id, or the number itself (which tmpfiles.d
// accepts) when the image does not know it.
func lookup(m map[uint32]string, id uint32) string {
	if n, ok := m[id]; ok {
		return n
	}
	return strconv.FormatUint(uint64(id), 10)
}

// octalMode prints permission bits with setuid/setgid/sticky as 4 octal digits.
func octalMode(m fs.FileMode) string {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return fmt.Sprintf("%04o", v)
}

// checkVarTmpfiles lists /var content that no tmpfiles.d entry declares.
// Unlike bootc it inspects the given root (not the live "/") and resolves
// owners through that root's own user database.
func checkVarTmpfiles(t *tree, cfg *config) ([]string, error) {
	ok, err := t.isDir("var")
	if err != nil || !ok {
		return nil, err
	}
	declared, malformed, err := tmpfilesDeclared(t)
	if err != nil {
		return nil, err
	}
	db, err := loadUserDB(t)
	if err != nil {
		return nil, err
	}
	varDir, err := t.resolve("var", true)
	if err != nil {
		return nil, err
	}
	var entries, unsupported []string
	seen := map[string]bool{}
	var walk func(logical, physical string) error
	walk = func(logical, physical string) error {
		ents, err := t.readDir(physical)
		if err != nil {
			return err
		}
		for _, e := range ents {
			lp := logical + "/" + e.Name()
			pp := pathKey(physical, e.Name())
			if !declared[pp] {
				fi, err := e.Info()
				if err != nil {
					return fmt.Errorf("lstat /%s: %w", lp, err)
				}
				switch {
				case fi.IsDir():
					uid, gid, _ := ownerOf(fi)
					line := fmt.Sprintf("d %s %s %s %s - -", tmpfilesPath("/"+lp), octalMode(fi.Mode()), lookup(db.users, uid), lookup(db.groups, gid))
					if !seen[line] {
						seen[line] = true
						entries = append(entries, line)
					}
				case isSymlink(fi):
					target, err := t.rawReadLink(pp)
					if err != nil {
						return fmt.Errorf("readlink /%s: %w", lp, err)
					}
					line := fmt.Sprintf("L %s - - - - %s", tmpfilesPath("/"+lp), tmpfilesPath(target))
					if !seen[line] {
						seen[line] = true
						entries = append(entries, line)
					}
				default:
					unsupported = append(unsupported, lp)
				}
			}
			if e.IsDir() {
				mp, err := t.isMount(pp)
				if err != nil {
					return err
				}
				if !mp {
					if err := walk(lp, pp); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
	if err := walk("var", varDir); err != nil {
		return nil, err
	}
	sort.Strings(entries)
	var msg []string
	msg = append(msg, cfg.items("Malformed tmpfiles.d lines", malformed)...)
	msg = append(msg, cfg.items("Found content in /var missing systemd tmpfiles.d entries", entries)...)
	msg = append(msg, cfg.items("Found non-directory/non-symlink files in /var", quoteAll(unsupported))...)
	return msg, nil
}
