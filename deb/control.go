package deb

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Field is one field of a control paragraph. Value is the raw text after the
// colon with the leading blank removed, continuation lines included (each
// starting with its original space), without the final newline, so a field
// can be written back byte for byte.
type Field struct {
	Name  string
	Value string
}

// Control is a control paragraph (DEBIAN/control or a status stanza) with its
// fields in file order.
type Control struct {
	Fields []Field
}

// Get returns the value of the named field (case-insensitive), or "".
func (c Control) Get(name string) string {
	for _, f := range c.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Has reports whether the named field is present (case-insensitive).
func (c Control) Has(name string) bool {
	for _, f := range c.Fields {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// ParseControl parses a single deb822 paragraph. Blank lines around the
// paragraph are tolerated; a second paragraph is an error.
func ParseControl(b []byte) (Control, error) {
	paras, err := ParseParagraphs(b)
	if err != nil {
		return Control{}, err
	}
	switch len(paras) {
	case 0:
		return Control{}, fmt.Errorf("empty control paragraph")
	case 1:
		return paras[0], nil
	default:
		return Control{}, fmt.Errorf("control file has %d paragraphs, want 1", len(paras))
	}
}

// ParseParagraphs parses deb822 text (a control file, dpkg's status file,
// an apt .sources file): paragraphs separated by blank lines, fields in
// file order with raw values (see Field). Lines starting with "#" outside
// a field are comments. It is the module's one deb822 reader.
func ParseParagraphs(b []byte) ([]Control, error) {
	var out []Control
	var cur Control
	flush := func() {
		if len(cur.Fields) > 0 {
			out = append(out, cur)
		}
		cur = Control{}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			flush()
		case line[0] == '#':
			// A comment (deb822(5)); it does not end the paragraph.
		case line[0] == ' ' || line[0] == '\t':
			if len(cur.Fields) == 0 {
				return nil, fmt.Errorf("line %d: continuation line before any field", lineNo)
			}
			f := &cur.Fields[len(cur.Fields)-1]
			f.Value += "\n" + line
		default:
			name, value, ok := strings.Cut(line, ":")
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				return nil, fmt.Errorf("line %d: malformed field line %q", lineNo, line)
			}
			for _, f := range cur.Fields {
				if strings.EqualFold(f.Name, name) {
					return nil, fmt.Errorf("line %d: duplicate field %s", lineNo, name)
				}
			}
			cur.Fields = append(cur.Fields, Field{Name: name, Value: strings.TrimLeft(value, " \t")})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	flush()
	return out, nil
}

// writeField appends "Name: Value\n" the way dpkg does: a value that starts
// with a newline (a multi-line field with an empty first line, like
// Conffiles) gets no blank after the colon.
func writeField(w *bytes.Buffer, name, value string) {
	w.WriteString(name)
	w.WriteByte(':')
	if value != "" && value[0] != '\n' {
		w.WriteByte(' ')
	}
	w.WriteString(value)
	w.WriteByte('\n')
}

// Conffile is one line of the conffiles control member.
type Conffile struct {
	Path  string   // absolute path, e.g. "/etc/hello.conf"
	Flags []string // e.g. "remove-on-upgrade", "obsolete"
	// Hash is the md5 dpkg records in status ("newconffile" before the
	// package is configured); empty for the control member.
	Hash string
}

// parseConffiles parses the conffiles member: one absolute path per line,
// optionally preceded by flags ("remove-on-upgrade /etc/sysctl.conf").
func parseConffiles(b []byte) ([]Conffile, error) {
	var out []Conffile
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, " \t\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		words := strings.Fields(line)
		p := words[len(words)-1]
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("conffiles line %d: %q is not an absolute path", i+1, line)
		}
		for _, f := range words[:len(words)-1] {
			if f != "remove-on-upgrade" {
				return nil, fmt.Errorf("conffiles line %d: unknown flag %q", i+1, f)
			}
		}
		out = append(out, Conffile{Path: p, Flags: words[:len(words)-1]})
	}
	return out, nil
}

// Trigger is one directive of the triggers control member.
type Trigger struct {
	Directive string // "interest" or "activate"
	Name      string // an absolute path for a file trigger, else an explicit trigger name
	NoAwait   bool
}

// parseTriggers parses the triggers member (see deb-triggers(5)).
func parseTriggers(b []byte) ([]Trigger, error) {
	var out []Trigger
	for i, line := range strings.Split(string(b), "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		words := strings.Fields(line)
		if len(words) == 0 {
			continue
		}
		if len(words) != 2 {
			return nil, fmt.Errorf("triggers line %d: want \"<directive> <name>\", got %q", i+1, line)
		}
		t := Trigger{Name: words[1]}
		switch words[0] {
		case "interest", "interest-await":
			t.Directive = "interest"
		case "interest-noawait":
			t.Directive, t.NoAwait = "interest", true
		case "activate", "activate-await":
			t.Directive = "activate"
		case "activate-noawait":
			t.Directive, t.NoAwait = "activate", true
		default:
			return nil, fmt.Errorf("triggers line %d: unknown directive %q", i+1, words[0])
		}
		out = append(out, t)
	}
	return out, nil
}
