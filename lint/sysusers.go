package lint

import (
	"sort"
	"strings"
	"unicode/utf8"
)

const sysusersDir = "usr/lib/sysusers.d"

// readSysusers returns the users and groups usr/lib/sysusers.d declares: a
// u or u! line declares a user and a group of the same name, a g line a group.
// Lines that do not parse are returned as problems.
func readSysusers(t *tree) (users, groups map[string]bool, problems []string, err error) {
	users, groups = map[string]bool{}, map[string]bool{}
	files, err := confFiles(t, sysusersDir)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, f := range files {
		if !utf8.ValidString(f) {
			continue
		}
		data, _, err := t.readFile(f)
		if err != nil {
			return nil, nil, nil, err
		}
		for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			line = strings.TrimSuffix(line, "\r")
			if line == "" || line[0] == '#' {
				continue
			}
			e, err := parseSysusersLine(line)
			if err != nil {
				problems = append(problems, "Failed to parse sysusers entry from "+fileBase(f)+": "+err.Error())
				continue
			}
			switch e.kind {
			case sysusersUser:
				users[e.name] = true
				groups[e.name] = true
			case sysusersGroup:
				groups[e.name] = true
			}
		}
	}
	return users, groups, problems, nil
}

func fileBase(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

func checkSysusers(t *tree, cfg *config) ([]string, error) {
	passwdData, ok, err := t.readFile("etc/passwd")
	if err != nil || !ok {
		return nil, err
	}
	passwd, err := parseNSSFile(passwdData, 7)
	if err != nil {
		return fail("Failed to load etc/passwd: %v", err)
	}
	groupData, ok, err := t.readFile("etc/group")
	if err != nil {
		return nil, err
	}
	if !ok {
		return fail("Failed to load etc/group: No such file or directory")
	}
	group, err := parseNSSFile(groupData, 4)
	if err != nil {
		return fail("Failed to load etc/group: %v", err)
	}
	users, groups, problems, err := readSysusers(t)
	if err != nil {
		return nil, err
	}
	missing := func(ents []dbEntry, declared map[string]bool) []string {
		set := map[string]bool{}
		for _, e := range ents {
			if !declared[e.name] {
				set[e.name] = true
			}
		}
		var out []string
		for n := range set {
			out = append(out, n)
		}
		sort.Strings(out)
		return out
	}
	var msg []string
	msg = append(msg, cfg.items("Failed to parse sysusers.d", problems)...)
	msg = append(msg, cfg.items("Found /etc/passwd entry without corresponding systemd sysusers.d", missing(passwd, users))...)
	msg = append(msg, cfg.items("Found /etc/group entry without corresponding systemd sysusers.d", missing(group, groups))...)
	return msg, nil
}
