package gvariant

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "", "\n", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Vectors from the spec's worked examples (§2.5) plus framing-offset edge cases.
func TestMarshalVectors(t *testing.T) {
	big := make([]any, 10)
	for i := range big {
		big[i] = []any{"file" + string(rune('0'+i)), bytes.Repeat([]byte{byte(i)}, 32)}
	}
	tests := []struct {
		name, sig string
		v         any
		want      string
	}{
		{"dict entry", "{sv}", []any{"version", Variant{"s", "1.0"}}, "76 65 72 73 69 6f 6e 00 | 31 2e 30 00 00 73 | 08"},
		{"variant", "v", Variant{"s", "1.0"}, "31 2e 30 00 | 00 | 73"},
		{"as", "as", []string{"test"}, "74 65 73 74 00 | 05"},
		{"xattrs", "a(ayay)", []any{[]any{[]byte("user.a\x00"), []byte("1")}, []any{[]byte("user.b\x00"), []byte("2")}},
			"75 73 65 72 2e 61 00 31 07 | 75 73 65 72 2e 62 00 32 07 | 09 12"},
		{"empty dirtree", "(a(say)a(sayay))", []any{[]any{}, []any{}}, "00"},
		{"empty array", "as", []string{}, ""},
		{"bool", "b", true, "01"},
		{"unit", "()", []any{}, "00"},
		{"fixed tuple pads end", "(ty)", []any{uint64(1), uint8(2)}, "0100000000000000 02 00000000000000"},
		{"uuu", "(uuua(ayay))", []any{uint32(0), uint32(0), uint32(0xed410000), []any{}}, "00000000 00000000 000041ed"},
		{"map sorted", "a{sv}", map[string]any{"b": Variant{"b", true}, "a": Variant{"s", ""}},
			"61 00 00 00 00 00 00 00 00 00 73 02 | 00 00 00 00 | 62 00 00 00 00 00 00 00 01 00 62 02 | 0c 1c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.sig, tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("Marshal(%s) = %x, want %x", tt.sig, got, want)
			}
			if !IsNormal(tt.sig, got) {
				t.Errorf("IsNormal(%s, %x) = false", tt.sig, got)
			}
		})
	}
}

func TestOffsetWidths(t *testing.T) {
	tests := []struct {
		elems, elemLen int
		want           int // width of the array's offsets
	}{
		{1, 254, 1},   // 254 + 1 = 255
		{1, 255, 2},   // 255 + 1 > 255
		{100, 600, 2}, // 60000 + 200 <= 65535
		{110, 600, 4}, // 66000 > 65535
	}
	for _, tt := range tests {
		elems := make([]string, tt.elems)
		for i := range elems {
			elems[i] = strings.Repeat("x", tt.elemLen-1)
		}
		b, err := Marshal("as", elems)
		if err != nil {
			t.Fatal(err)
		}
		body := tt.elems * tt.elemLen
		if got := (len(b) - body) / tt.elems; got != tt.want {
			t.Errorf("%d×%d: offset width %d, want %d", tt.elems, tt.elemLen, got, tt.want)
		}
		v, err := Unmarshal("as", b)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(elems, v); diff != "" {
			t.Errorf("round trip: %s", diff)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		sig string
		v   any
	}{
		{"(a{sv}aya(say)sstayay)", []any{
			[]any{[]any{"version", Variant{"s", "1.0"}}, []any{"ostree.ref-binding", Variant{"as", []string{"test"}}}},
			[]byte{}, []any{}, "subj", "", uint64(0x0080926500000000), bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}},
		{"a{sv}", []any{[]any{"n", Variant{"t", uint64(7)}}, []any{"l", Variant{"a(ss)", []any{[]any{"a", "b"}}}}}},
		{"(nqixd)", []any{int16(-2), uint16(3), int32(-4), int64(-5), 1.5}},
		{"aay", []any{[]byte("ab"), []byte{}}},
	}
	for _, tt := range tests {
		b, err := Marshal(tt.sig, tt.v)
		if err != nil {
			t.Fatalf("%s: %v", tt.sig, err)
		}
		v, err := Unmarshal(tt.sig, b)
		if err != nil {
			t.Fatalf("%s: %v", tt.sig, err)
		}
		if diff := cmp.Diff(tt.v, v); diff != "" {
			t.Errorf("%s round trip (-want +got):\n%s", tt.sig, diff)
		}
	}
}

func TestRejects(t *testing.T) {
	tests := []struct {
		sig  string
		data string
	}{
		{"b", "02"},
		{"s", "6161"},
		{"as", "616100 07"},
		{"u", "0000"},
		{"(sv)", "61"},
	}
	for _, tt := range tests {
		if _, err := Unmarshal(tt.sig, unhex(t, tt.data)); !errors.Is(err, ErrNotNormal) {
			t.Errorf("Unmarshal(%s, %s) err = %v, want ErrNotNormal", tt.sig, tt.data, err)
		}
	}
	if _, err := Marshal("s", "a\x00b"); err == nil {
		t.Error("Marshal accepted a string with NUL")
	}
	if _, err := Marshal("y", 300); err == nil {
		t.Error("Marshal accepted 300 as a byte")
	}
	if IsNormal("as", unhex(t, "6100 00 02")) { // padding byte where none belongs
		t.Error("IsNormal accepted a non-normal array")
	}
}
