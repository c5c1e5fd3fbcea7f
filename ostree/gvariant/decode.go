package gvariant

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"unicode/utf8"
)

// ErrNotNormal reports data that is not a GVariant in normal form.
var ErrNotNormal = errors.New("gvariant: data is not in normal form")

// Unmarshal decodes data as type sig.
//
// Result types: bool (b), uint8 (y), int16 (n), uint16 (q), int32 (i, h),
// uint32 (u), int64 (x), uint64 (t), float64 (d), string (s o g), Variant (v),
// []byte (ay, a copy), []string (as), []any (other arrays, tuples and dict
// entries). Data that could not have come from Marshal is rejected with an
// error wrapping ErrNotNormal.
func Unmarshal(sig string, data []byte) (any, error) {
	t, err := ParseType(sig)
	if err != nil {
		return nil, err
	}
	return UnmarshalType(t, data)
}

// UnmarshalType is Unmarshal with a pre-parsed type.
func UnmarshalType(t *Type, data []byte) (any, error) {
	return decode(t, data)
}

// IsNormal reports whether data is the normal-form serialization of a value of type sig.
func IsNormal(sig string, data []byte) bool {
	v, err := Unmarshal(sig, data)
	if err != nil {
		return false
	}
	again, err := Marshal(sig, v)
	return err == nil && bytes.Equal(again, data)
}

func notNormal(t *Type, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrNotNormal, t.sig, fmt.Sprintf(format, args...))
}

// readOffsetWidth is the framing-offset width of a container of the given size.
func readOffsetWidth(size int) int {
	switch {
	case uint64(size) > math.MaxUint32:
		return 8
	case size > math.MaxUint16:
		return 4
	case size > math.MaxUint8:
		return 2
	case size > 0:
		return 1
	}
	return 0
}

func readOffset(b []byte, w int) int {
	switch w {
	case 1:
		return int(b[0])
	case 2:
		return int(binary.LittleEndian.Uint16(b))
	case 4:
		return int(binary.LittleEndian.Uint32(b))
	}
	return int(binary.LittleEndian.Uint64(b))
}

func decode(t *Type, d []byte) (any, error) {
	if t.fixed != 0 && len(d) != t.fixed {
		return nil, notNormal(t, "size %d, want %d", len(d), t.fixed)
	}
	switch t.kind {
	case 'b':
		if d[0] > 1 {
			return nil, notNormal(t, "boolean byte %#x", d[0])
		}
		return d[0] == 1, nil
	case 'y':
		return d[0], nil
	case 'n':
		return int16(binary.LittleEndian.Uint16(d)), nil
	case 'q':
		return binary.LittleEndian.Uint16(d), nil
	case 'i', 'h':
		return int32(binary.LittleEndian.Uint32(d)), nil
	case 'u':
		return binary.LittleEndian.Uint32(d), nil
	case 'x':
		return int64(binary.LittleEndian.Uint64(d)), nil
	case 't':
		return binary.LittleEndian.Uint64(d), nil
	case 'd':
		return math.Float64frombits(binary.LittleEndian.Uint64(d)), nil
	case 's', 'o', 'g':
		if len(d) == 0 || d[len(d)-1] != 0 {
			return nil, notNormal(t, "string not NUL-terminated")
		}
		s := string(d[:len(d)-1])
		if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
			return nil, notNormal(t, "string has NUL or invalid UTF-8")
		}
		return s, nil
	case 'v':
		i := bytes.LastIndexByte(d, 0)
		if i < 0 {
			return nil, notNormal(t, "variant without type separator")
		}
		ct, err := ParseType(string(d[i+1:]))
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNotNormal, err)
		}
		cv, err := decode(ct, d[:i])
		if err != nil {
			return nil, err
		}
		return Variant{Type: ct.sig, Value: cv}, nil
	case 'a':
		return decodeArray(t, d)
	case '(', '{':
		return decodeTuple(t, d)
	}
	return nil, fmt.Errorf("gvariant: cannot decode type %s", t.sig)
}

func decodeArray(t *Type, d []byte) (any, error) {
	if t.elem.kind == 'y' {
		return bytes.Clone(d), nil
	}
	var parts [][]byte
	if fs := t.elem.fixed; fs != 0 {
		if len(d)%fs != 0 {
			return nil, notNormal(t, "size %d not a multiple of %d", len(d), fs)
		}
		for i := 0; i < len(d); i += fs {
			parts = append(parts, d[i:i+fs])
		}
	} else if len(d) > 0 {
		w := readOffsetWidth(len(d))
		last := readOffset(d[len(d)-w:], w)
		if last > len(d) || (len(d)-last)%w != 0 {
			return nil, notNormal(t, "bad framing offsets")
		}
		n := (len(d) - last) / w
		pos := 0
		for i := range n {
			end := readOffset(d[last+i*w:], w)
			start := alignUp(pos, t.elem.align)
			if end < start || end > last {
				return nil, notNormal(t, "element %d out of range", i)
			}
			parts = append(parts, d[start:end])
			pos = end
		}
	}
	if t.elem.kind == 's' {
		out := make([]string, len(parts))
		for i, p := range parts {
			v, err := decode(t.elem, p)
			if err != nil {
				return nil, err
			}
			out[i] = v.(string)
		}
		return out, nil
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		v, err := decode(t.elem, p)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func decodeTuple(t *Type, d []byte) (any, error) {
	w := readOffsetWidth(len(d))
	limit := len(d) - t.nOff*w
	if t.fixed != 0 {
		limit = len(d)
	}
	if limit < 0 {
		return nil, notNormal(t, "too small for its framing offsets")
	}
	out := make([]any, len(t.fields))
	pos, offIdx := 0, 0
	for i, f := range t.fields {
		start := alignUp(pos, f.align)
		var end int
		switch {
		case f.fixed != 0:
			end = start + f.fixed
		case i == len(t.fields)-1:
			end = limit
		default:
			offIdx++
			end = readOffset(d[len(d)-offIdx*w:], w)
		}
		if start > end || end > limit {
			return nil, notNormal(t, "member %d out of range", i)
		}
		v, err := decode(f, d[start:end])
		if err != nil {
			return nil, err
		}
		out[i] = v
		pos = end
	}
	return out, nil
}
