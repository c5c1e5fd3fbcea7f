package lint

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// kargsConfig is one /usr/lib/bootc/kargs.d/*.toml file.
type kargsConfig struct {
	Kargs              []string `toml:"kargs"`
	MatchArchitectures []string `toml:"match-architectures"`
}

// parseKargs parses a kargs.d file as bootc does: UTF-8 TOML with a required
// "kargs" string array, an optional "match-architectures" and no other keys.
func parseKargs(data []byte) (cfg kargsConfig, err error) {
	if !utf8.Valid(data) {
		return cfg, errors.New("not UTF-8 text")
	}
	md, err := toml.Decode(string(data), &cfg)
	if err != nil {
		return cfg, err
	}
	if !md.IsDefined("kargs") {
		return cfg, errors.New("missing field `kargs`")
	}
	if und := md.Undecoded(); len(und) > 0 {
		return cfg, fmt.Errorf("unknown field `%s`, expected `kargs` or `match-architectures`", und[0])
	}
	return cfg, nil
}

// keyFile is a parsed GLib key file: group -> key -> raw value.
type keyFile map[string]map[string]string

// parseKeyFile parses GLib's key file format (used by ostree's prepare-root.conf).
func parseKeyFile(data []byte) (keyFile, error) {
	if !utf8.Valid(data) {
		return nil, errors.New("not UTF-8 text")
	}
	kf := keyFile{}
	group := ""
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		trimmed := strings.TrimLeft(line, " \t\n\v\f\r")
		switch {
		case trimmed == "" || trimmed[0] == '#':
			continue
		case trimmed[0] == '[':
			name, ok := strings.CutSuffix(strings.TrimRight(trimmed, " \t\v\f\r"), "]")
			name = name[1:]
			if !ok || name == "" || strings.ContainsAny(name, "[]") || strings.IndexFunc(name, unicode.IsControl) >= 0 {
				return nil, fmt.Errorf("line %d: invalid group name %q", n+1, line)
			}
			group = name
			if kf[group] == nil {
				kf[group] = map[string]string{}
			}
		default:
			key, value, ok := strings.Cut(trimmed, "=")
			key = strings.TrimRight(key, " \t\v\f\r")
			if !ok || key == "" {
				return nil, fmt.Errorf("line %d: %q is not a key-value pair, group, or comment", n+1, line)
			}
			if group == "" {
				return nil, fmt.Errorf("line %d: key file does not start with a group", n+1)
			}
			kf[group][key] = strings.TrimLeft(value, " \t\v\f\r")
		}
	}
	return kf, nil
}

// str returns an unescaped string value; ok is false when the key is missing.
func (kf keyFile) str(group, key string) (s string, ok bool, err error) {
	raw, ok := kf[group][key]
	if !ok {
		return "", false, nil
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			b.WriteByte(raw[i])
			continue
		}
		i++
		if i == len(raw) {
			return "", true, fmt.Errorf("[%s] %s: value ends in a backslash", group, key)
		}
		switch raw[i] {
		case 's':
			b.WriteByte(' ')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case '\\':
			b.WriteByte('\\')
		default:
			return "", true, fmt.Errorf("[%s] %s: invalid escape \\%c", group, key, raw[i])
		}
	}
	return b.String(), true, nil
}

// boolean returns a boolean value the way GLib parses one; missing is false.
func (kf keyFile) boolean(group, key string) (bool, error) {
	raw, ok := kf[group][key]
	if !ok {
		return false, nil
	}
	switch strings.TrimRight(raw, " \t\v\f\r") {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("[%s] %s: value %q cannot be interpreted as a boolean", group, key, raw)
}

// tmpfilesEntryPath returns the path (second field) of a tmpfiles.d line,
// unquoting and unescaping it as systemd does.
func tmpfilesEntryPath(line string) (string, error) {
	malformed := fmt.Errorf("malformed tmpfiles.d line %q", line)
	i := 0
	for i < len(line) && isASCIISpace(line[i]) {
		i++
	}
	start := i
	for i < len(line) && !isASCIISpace(line[i]) {
		i++
	}
	if i == start {
		return "", malformed
	}
	for i < len(line) && isASCIISpace(line[i]) {
		i++
	}
	quoted := i < len(line) && line[i] == '"'
	if quoted {
		i++
	}
	var b []byte
	for i < len(line) {
		c := line[i]
		if quoted && c == '"' || !quoted && isASCIISpace(c) {
			break
		}
		i++
		if c != '\\' {
			b = append(b, c)
			continue
		}
		if i == len(line) {
			return "", malformed
		}
		c = line[i]
		i++
		switch c {
		case '\\':
			b = append(b, '\\')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'x':
			if i+2 > len(line) {
				return "", malformed
			}
			v, err := strconv.ParseUint(line[i:i+2], 16, 8)
			if err != nil {
				return "", malformed
			}
			b = append(b, byte(v))
			i += 2
		default:
			return "", malformed
		}
	}
	return string(b), nil
}

func isASCIISpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// sysusersKind is the type of a sysusers.d line that matters to the lint.
type sysusersKind int

const (
	sysusersOther sysusersKind = iota
	sysusersUser
	sysusersGroup
	sysusersRange
)

// sysusersEntry is one parsed sysusers.d line.
type sysusersEntry struct {
	kind sysusersKind
	name string
	// uid or gid: a number, a /path, or "" when unset.
	id string
	// group of a user from "uid:group"; may be a name.
	group      string
	start, end uint32
}

// sysusersToken splits off the next whitespace-separated or double-quoted token.
func sysusersToken(s string) (tok, rest string, ok bool) {
	s = strings.TrimLeftFunc(s, unicode.IsSpace)
	if q, found := strings.CutPrefix(s, `"`); found {
		end := strings.IndexByte(q, '"')
		if end < 0 {
			return "", "", false
		}
		tok, rest = q[:end], q[end+1:]
	} else if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		tok, rest = s[:i], s[i:]
	} else {
		tok = s
	}
	return tok, rest, tok != ""
}

// optional turns "-" into unset.
func optional(tok string) string {
	if tok == "-" {
		return ""
	}
	return tok
}

// parseID accepts what bootc's sysusers parser accepts for an id: a decimal
// u32 (Rust's from_str also takes a leading '+') or a /path.
func parseID(s string) error {
	if strings.HasPrefix(s, "/") {
		return nil
	}
	_, err := strconv.ParseUint(strings.TrimPrefix(s, "+"), 10, 32)
	if strings.HasPrefix(s, "++") || s == "+" {
		return strconv.ErrSyntax
	}
	return err
}

// parseSysusersLine parses one sysusers.d line as bootc does: u, u!, g and r
// lines are understood, other types are returned as sysusersOther.
func parseSysusersLine(line string) (sysusersEntry, error) {
	bad := fmt.Errorf("failed to parse sysusers entry: %s", line)
	typ, s, ok := sysusersToken(line)
	if !ok {
		return sysusersEntry{}, bad
	}
	switch typ {
	case "u", "u!":
		name, s, ok := sysusersToken(s)
		if !ok {
			return sysusersEntry{}, bad
		}
		e := sysusersEntry{kind: sysusersUser, name: name}
		idTok, _, ok := sysusersToken(s)
		if id := optional(idTok); ok && id != "" {
			uid, gid, hasGroup := strings.Cut(id, ":")
			if !hasGroup {
				gid = uid
			}
			if uid != "-" {
				if parseID(uid) != nil {
					return sysusersEntry{}, bad
				}
				e.id = uid
			}
			if gid != "" && (strings.HasPrefix(gid, "/") || strings.IndexFunc(gid, func(r rune) bool { return r < '0' || r > '9' }) >= 0) {
				e.group = gid
			} else if parseID(gid) != nil {
				return sysusersEntry{}, bad
			} else {
				e.group = gid
			}
		}
		return e, nil
	case "g":
		name, s, ok := sysusersToken(s)
		if !ok {
			return sysusersEntry{}, bad
		}
		e := sysusersEntry{kind: sysusersGroup, name: name}
		idTok, _, ok := sysusersToken(s)
		if id := optional(idTok); ok && id != "" {
			if parseID(id) != nil {
				return sysusersEntry{}, bad
			}
			e.id = id
		}
		return e, nil
	case "r":
		_, s, ok := sysusersToken(s)
		if !ok {
			return sysusersEntry{}, bad
		}
		rng, _, ok := sysusersToken(s)
		if !ok {
			return sysusersEntry{}, bad
		}
		a, b, ok := strings.Cut(rng, "-")
		if !ok {
			return sysusersEntry{}, bad
		}
		start, err1 := strconv.ParseUint(a, 10, 32)
		end, err2 := strconv.ParseUint(b, 10, 32)
		if err1 != nil || err2 != nil {
			return sysusersEntry{}, bad
		}
		return sysusersEntry{kind: sysusersRange, start: uint32(start), end: uint32(end)}, nil
	}
	return sysusersEntry{kind: sysusersOther}, nil
}

// dbEntry is a passwd or group line: a name and its numeric id.
type dbEntry struct {
	name string
	id   uint32
}

// parseNSSFile parses /etc/passwd (fields=7) or /etc/group (fields=4) as
// bootc does: blank, '#' and NIS '+'/'-' lines are skipped; every other line
// must have all its fields and a numeric id in the third.
func parseNSSFile(data []byte, fields int) ([]dbEntry, error) {
	kind := "passwd"
	if fields == 4 {
		kind = "group"
	}
	if !utf8.Valid(data) {
		return nil, fmt.Errorf("%s file is not UTF-8 text", kind)
	}
	var out []dbEntry
	text := strings.TrimSuffix(string(data), "\n")
	if text == "" {
		return nil, nil
	}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		parts := strings.SplitN(line, ":", fields)
		if len(parts) < fields {
			return nil, fmt.Errorf("failed to parse %s entry at line %d, content: %s", kind, n, line)
		}
		id, err := strconv.ParseUint(strings.TrimPrefix(parts[2], "+"), 10, 32)
		if err != nil || strings.HasPrefix(parts[2], "++") {
			return nil, fmt.Errorf("failed to parse %s entry at line %d, content: %s", kind, n, line)
		}
		if fields == 7 {
			if _, err := strconv.ParseUint(strings.TrimPrefix(parts[3], "+"), 10, 32); err != nil || strings.HasPrefix(parts[3], "++") {
				return nil, fmt.Errorf("failed to parse %s entry at line %d, content: %s", kind, n, line)
			}
		}
		out = append(out, dbEntry{name: parts[0], id: uint32(id)})
	}
	return out, nil
}
