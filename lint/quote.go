package lint

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// quotePath prints a path the way bootc's PathQuotedDisplay does: as is when
// it is UTF-8 made only of alphanumerics and "/.-_,=:", else quoted for a
// POSIX shell (invalid UTF-8 shown as U+FFFD).
func quotePath(p string) string {
	if utf8.ValidString(p) && strings.IndexFunc(p, func(r rune) bool { return !shellSafe(r) }) < 0 {
		return p
	}
	s := strings.ToValidUTF8(p, "\uFFFD")
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	if !strings.ContainsAny(s, "!\n") {
		r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "`", "\\`")
		return `"` + r.Replace(s) + `"`
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func shellSafe(r rune) bool {
	switch r {
	case '/', '.', '-', '_', ',', '=', ':':
		return true
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// debugName prints a file name as Rust's Debug for OsStr does: in double
// quotes, invalid bytes as \xNN (upper case), special characters escaped.
func debugName(name string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(name); {
		r, size := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&b, `\x%02X`, name[i])
			i++
			continue
		}
		i += size
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case 0:
			b.WriteString(`\0`)
		default:
			if unicode.IsPrint(r) || r == ' ' {
				b.WriteRune(r)
			} else {
				fmt.Fprintf(&b, `\u{%x}`, r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}

// tmpfilesEscape prints a path for a tmpfiles.d line the way bootc's
// tmpfiles crate does: printable ASCII as is, everything else as \xnn.
func tmpfilesEscape(p string) string {
	if strings.IndexFunc(p, func(r rune) bool { return !(r < 0x80 && (isASCIIAlnum(byte(r)) || r == '/')) }) < 0 {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\':
			b.WriteString(`\\`)
		case isASCIIAlnum(c) || isASCIIPunct(c):
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c == '\r':
			b.WriteString(`\r`)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	return b.String()
}

func isASCIIAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isASCIIPunct(c byte) bool {
	return c >= '!' && c <= '/' || c >= ':' && c <= '@' || c >= '[' && c <= '`' || c >= '{' && c <= '~'
}

// tmpfilesPath maps /var/run to /run, as bootc does before escaping.
func tmpfilesPath(p string) string {
	if p == "/var/run" {
		p = "/run"
	} else if rest, ok := strings.CutPrefix(p, "/var/run/"); ok {
		p = "/run/" + rest
	}
	return tmpfilesEscape(p)
}
