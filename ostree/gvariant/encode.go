package gvariant

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"unicode/utf8"
)

// Variant is a value of type "v": a value together with its own type string.
type Variant struct {
	Type  string
	Value any
}

// Marshal serializes v as type sig in normal form.
//
// Accepted Go values: bool for b; any Go integer for y n q i u h x t (range
// checked); float64 for d; string for s o g; Variant for v; []byte for ay;
// slices (and, for arrays of dict entries, maps with sorted keys) for arrays;
// []any for tuples and dict entries. Numbers are written little-endian;
// callers byte-swap fields that a format defines as big-endian.
func Marshal(sig string, v any) ([]byte, error) {
	t, err := ParseType(sig)
	if err != nil {
		return nil, err
	}
	return MarshalType(t, v)
}

// MarshalType is Marshal with a pre-parsed type.
func MarshalType(t *Type, v any) ([]byte, error) {
	return encode(nil, t, v)
}

func pad(buf []byte, a int) []byte {
	for len(buf)%a != 0 {
		buf = append(buf, 0)
	}
	return buf
}

// offsetSize is the framing-offset width GLib picks for a container whose
// body is body bytes long and which carries n offsets.
func offsetSize(body, n int) int {
	switch {
	case n == 0:
		return 0
	case body+n <= math.MaxUint8:
		return 1
	case body+2*n <= math.MaxUint16:
		return 2
	case uint64(body+4*n) <= math.MaxUint32:
		return 4
	}
	return 8
}

func appendOffset(buf []byte, off, w int) []byte {
	switch w {
	case 1:
		return append(buf, byte(off))
	case 2:
		return binary.LittleEndian.AppendUint16(buf, uint16(off))
	case 4:
		return binary.LittleEndian.AppendUint32(buf, uint32(off))
	}
	return binary.LittleEndian.AppendUint64(buf, uint64(off))
}

// encode appends v to buf. Containers are always placed at offsets that
// satisfy their alignment, so aligning on len(buf) equals aligning relative
// to the enclosing container as long as the top-level value starts at 0.
func encode(buf []byte, t *Type, v any) ([]byte, error) {
	switch t.kind {
	case 'b':
		b, ok := v.(bool)
		if !ok {
			return nil, typeErr(t, v)
		}
		if b {
			return append(buf, 1), nil
		}
		return append(buf, 0), nil
	case 'y', 'n', 'q', 'i', 'u', 'h', 'x', 't':
		return encodeInt(buf, t, v)
	case 'd':
		f, ok := v.(float64)
		if !ok {
			return nil, typeErr(t, v)
		}
		return binary.LittleEndian.AppendUint64(buf, math.Float64bits(f)), nil
	case 's', 'o', 'g':
		s, ok := v.(string)
		if !ok {
			return nil, typeErr(t, v)
		}
		if strings.IndexByte(s, 0) >= 0 || !utf8.ValidString(s) {
			return nil, fmt.Errorf("gvariant: string %q is not valid UTF-8 without NUL", s)
		}
		buf = append(buf, s...)
		return append(buf, 0), nil
	case 'v':
		vv, ok := v.(Variant)
		if !ok {
			if p, isPtr := v.(*Variant); isPtr && p != nil {
				vv, ok = *p, true
			}
		}
		if !ok {
			return nil, typeErr(t, v)
		}
		ct, err := ParseType(vv.Type)
		if err != nil {
			return nil, err
		}
		if buf, err = encode(buf, ct, vv.Value); err != nil {
			return nil, err
		}
		buf = append(buf, 0)
		return append(buf, ct.sig...), nil
	case 'a':
		return encodeArray(buf, t, v)
	case '(', '{':
		vals, ok := v.([]any)
		if !ok || len(vals) != len(t.fields) {
			return nil, typeErr(t, v)
		}
		return encodeTuple(buf, t, vals)
	}
	return nil, fmt.Errorf("gvariant: cannot encode type %s", t.sig)
}

func typeErr(t *Type, v any) error {
	return fmt.Errorf("gvariant: cannot encode Go value of type %T as %s", v, t.sig)
}

func encodeInt(buf []byte, t *Type, v any) ([]byte, error) {
	var u uint64
	var neg bool
	switch x := v.(type) {
	case uint8:
		u = uint64(x)
	case uint16:
		u = uint64(x)
	case uint32:
		u = uint64(x)
	case uint64:
		u = x
	case uint:
		u = uint64(x)
	case int8:
		u, neg = uint64(x), x < 0
	case int16:
		u, neg = uint64(x), x < 0
	case int32:
		u, neg = uint64(x), x < 0
	case int64:
		u, neg = uint64(x), x < 0
	case int:
		u, neg = uint64(x), x < 0
	default:
		return nil, typeErr(t, v)
	}
	signed := t.kind == 'n' || t.kind == 'i' || t.kind == 'h' || t.kind == 'x'
	bits := uint(t.fixed * 8)
	if neg && !signed {
		return nil, fmt.Errorf("gvariant: negative value %v for unsigned type %s", v, t.sig)
	}
	if bits < 64 {
		if signed {
			s := int64(u)
			if s < -(1<<(bits-1)) || s >= 1<<(bits-1) {
				return nil, fmt.Errorf("gvariant: value %v out of range for %s", v, t.sig)
			}
		} else if u >= 1<<bits {
			return nil, fmt.Errorf("gvariant: value %v out of range for %s", v, t.sig)
		}
	}
	switch t.fixed {
	case 1:
		return append(buf, byte(u)), nil
	case 2:
		return binary.LittleEndian.AppendUint16(buf, uint16(u)), nil
	case 4:
		return binary.LittleEndian.AppendUint32(buf, uint32(u)), nil
	}
	return binary.LittleEndian.AppendUint64(buf, u), nil
}

func encodeArray(buf []byte, t *Type, v any) ([]byte, error) {
	if b, ok := v.([]byte); ok && t.elem.kind == 'y' {
		return append(buf, b...), nil
	}
	var elems []any
	switch x := v.(type) {
	case []any:
		elems = x
	case []string:
		elems = make([]any, len(x))
		for i := range x {
			elems[i] = x[i]
		}
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Slice, reflect.Array:
			elems = make([]any, rv.Len())
			for i := range elems {
				elems[i] = rv.Index(i).Interface()
			}
		case reflect.Map:
			if t.elem.kind != '{' || rv.Type().Key().Kind() != reflect.String {
				return nil, typeErr(t, v)
			}
			keys := make([]string, 0, rv.Len())
			for _, k := range rv.MapKeys() {
				keys = append(keys, k.String())
			}
			slices.Sort(keys)
			for _, k := range keys {
				elems = append(elems, []any{k, rv.MapIndex(reflect.ValueOf(k).Convert(rv.Type().Key())).Interface()})
			}
		default:
			return nil, typeErr(t, v)
		}
	}
	var err error
	if t.elem.fixed != 0 {
		for _, e := range elems {
			if buf, err = encode(buf, t.elem, e); err != nil {
				return nil, err
			}
		}
		return buf, nil
	}
	start := len(buf)
	offs := make([]int, 0, len(elems))
	for _, e := range elems {
		buf = pad(buf, t.elem.align)
		if buf, err = encode(buf, t.elem, e); err != nil {
			return nil, err
		}
		offs = append(offs, len(buf)-start)
	}
	w := offsetSize(len(buf)-start, len(offs))
	for _, o := range offs {
		buf = appendOffset(buf, o, w)
	}
	return buf, nil
}

func encodeTuple(buf []byte, t *Type, vals []any) ([]byte, error) {
	start := len(buf)
	var offs []int
	var err error
	for i, f := range t.fields {
		buf = pad(buf, f.align)
		if buf, err = encode(buf, f, vals[i]); err != nil {
			return nil, err
		}
		if f.fixed == 0 && i != len(t.fields)-1 {
			offs = append(offs, len(buf)-start)
		}
	}
	if t.fixed != 0 {
		if len(t.fields) == 0 {
			return append(buf, 0), nil
		}
		for len(buf)-start < t.fixed {
			buf = append(buf, 0)
		}
		return buf, nil
	}
	w := offsetSize(len(buf)-start, len(offs))
	for i := len(offs) - 1; i >= 0; i-- {
		buf = appendOffset(buf, offs[i], w)
	}
	return buf, nil
}
