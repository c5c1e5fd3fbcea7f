package gvariant

import (
	"fmt"
	"sync"
)

// Type is a parsed GVariant type string with its alignment and fixed size.
type Type struct {
	sig    string
	kind   byte    // first character of the type string
	elem   *Type   // array element
	fields []*Type // tuple or dict-entry members
	align  int
	fixed  int // 0 when the type is variable-size
	nOff   int // tuples: number of framing offsets (variable members that are not last)
}

// String returns the type string, e.g. "a{sv}".
func (t *Type) String() string { return t.sig }

// Fixed reports the fixed serialized size, or 0 for variable-size types.
func (t *Type) Fixed() int { return t.fixed }

var typeCache sync.Map // string -> *Type

// ParseType parses one complete GVariant type string.
func ParseType(sig string) (*Type, error) {
	if t, ok := typeCache.Load(sig); ok {
		return t.(*Type), nil
	}
	t, rest, err := parseOne(sig)
	if err != nil {
		return nil, fmt.Errorf("gvariant type %q: %w", sig, err)
	}
	if rest != "" {
		return nil, fmt.Errorf("gvariant type %q: trailing %q after a complete type", sig, rest)
	}
	typeCache.Store(sig, t)
	return t, nil
}

// MustParseType is ParseType for type strings known at compile time.
func MustParseType(sig string) *Type {
	t, err := ParseType(sig)
	if err != nil {
		panic(err)
	}
	return t
}

func basic(k byte) bool {
	switch k {
	case 'y', 'b', 'n', 'q', 'i', 'u', 'x', 't', 'h', 'd', 's', 'o', 'g':
		return true
	}
	return false
}

func parseOne(s string) (*Type, string, error) {
	if s == "" {
		return nil, "", fmt.Errorf("unexpected end of type string")
	}
	k := s[0]
	t := &Type{kind: k}
	rest := s[1:]
	switch k {
	case 'y', 'b':
		t.align, t.fixed = 1, 1
	case 'n', 'q':
		t.align, t.fixed = 2, 2
	case 'i', 'u', 'h':
		t.align, t.fixed = 4, 4
	case 'x', 't', 'd':
		t.align, t.fixed = 8, 8
	case 's', 'o', 'g':
		t.align = 1
	case 'v':
		t.align = 8
	case 'a':
		e, r, err := parseOne(rest)
		if err != nil {
			return nil, "", err
		}
		t.elem, rest, t.align = e, r, e.align
	case '(', '{':
		closer := byte(')')
		if k == '{' {
			closer = '}'
		}
		for {
			if rest == "" {
				return nil, "", fmt.Errorf("missing %q", closer)
			}
			if rest[0] == closer {
				rest = rest[1:]
				break
			}
			f, r, err := parseOne(rest)
			if err != nil {
				return nil, "", err
			}
			t.fields, rest = append(t.fields, f), r
		}
		if k == '{' && (len(t.fields) != 2 || !basic(t.fields[0].kind)) {
			return nil, "", fmt.Errorf("dict entry needs a basic key and one value")
		}
		t.layoutTuple()
	default:
		return nil, "", fmt.Errorf("unsupported type character %q", k)
	}
	t.sig = s[:len(s)-len(rest)]
	return t, rest, nil
}

func (t *Type) layoutTuple() {
	t.align = 1
	fixed := true
	off := 0
	for i, f := range t.fields {
		t.align = max(t.align, f.align)
		if f.fixed == 0 {
			fixed = false
			if i != len(t.fields)-1 {
				t.nOff++
			}
		} else {
			off = alignUp(off, f.align) + f.fixed
		}
	}
	if !fixed {
		return
	}
	if len(t.fields) == 0 {
		t.fixed = 1
		return
	}
	t.fixed = alignUp(off, t.align)
}

func alignUp(n, a int) int { return (n + a - 1) &^ (a - 1) }
