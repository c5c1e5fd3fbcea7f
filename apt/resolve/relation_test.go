package resolve

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"pault.ag/go/debian/version"
)

func TestParseRelations(t *testing.T) {
	tests := []struct {
		in      string
		want    [][]Relation
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "  ", want: nil},
		{in: "libc6 (>= 2.36)", want: [][]Relation{{{Name: "libc6", Op: OpGE, Version: "2.36"}}}},
		{in: "a|b (<< 1:2.3~rc1-1+b2),\n c:any, d:native (=1), e:i386 (>>2)", want: [][]Relation{
			{{Name: "a"}, {Name: "b", Op: OpLT, Version: "1:2.3~rc1-1+b2"}},
			{{Name: "c", Arch: "any"}},
			{{Name: "d", Arch: "native", Op: OpEQ, Version: "1"}},
			{{Name: "e", Arch: "i386", Op: OpGT, Version: "2"}},
		}},
		{in: "a (< 1), b (> 2), c (<=3)", want: [][]Relation{
			{{Name: "a", Op: OpLE, Version: "1"}}, {{Name: "b", Op: OpGE, Version: "2"}}, {{Name: "c", Op: OpLE, Version: "3"}},
		}},
		{in: "a [amd64 arm64] <!nocheck> <stage1 cross>", want: [][]Relation{{{
			Name: "a", Archs: []string{"amd64", "arm64"}, Profiles: [][]string{{"!nocheck"}, {"stage1", "cross"}},
		}}}},
		{in: "g++-14 [!i386 !armel]", want: [][]Relation{{{Name: "g++-14", Archs: []string{"i386", "armel"}, NotArchs: true}}}},
		{in: ":,0", wantErr: true},
		{in: "a,", wantErr: true},
		{in: "a | ", wantErr: true},
		{in: ", a", wantErr: true},
		{in: "a (>= )", wantErr: true},
		{in: "a (=> 1)", wantErr: true},
		{in: "a (>= 1", wantErr: true},
		{in: "a (>= abc)", wantErr: true},
		{in: "a (>= 1:)", wantErr: true},
		{in: "a (>= x:1)", wantErr: true},
		{in: "a [amd64", wantErr: true},
		{in: "a [amd64 !i386]", wantErr: true},
		{in: "a []", wantErr: true},
		{in: "a <>", wantErr: true},
		{in: "Foo", wantErr: true},
		{in: "a:", wantErr: true},
		{in: "a b", wantErr: true},
		{in: "a (>= ${binary:Version})", wantErr: true},
		{in: "\xff", wantErr: true},
	}
	for _, tt := range tests {
		got, err := ParseRelations(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseRelations(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseRelations(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("ParseRelations(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func FuzzParseRelations(f *testing.F) {
	for _, s := range []string{"a (>= 1) | b:any [amd64] <!nocheck>, c", ":,0", "a (<< 1:2-3)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		groups, err := ParseRelations(s)
		if err != nil {
			return
		}
		// Whatever parses must format and reparse to the same relations.
		var text string
		for i, g := range groups {
			if i > 0 {
				text += ", "
			}
			text += groupString(g)
		}
		again, err := ParseRelations(text)
		if err != nil {
			t.Fatalf("%q parsed, but its formatting %q does not: %v", s, text, err)
		}
		for i := range again {
			for j := range again[i] {
				a, b := again[i][j], groups[i][j]
				if a.Name != b.Name || a.Arch != b.Arch || a.Op != b.Op || a.Version != b.Version {
					t.Fatalf("%q -> %q changed %v into %v", s, text, b, a)
				}
			}
		}
	})
}

func TestApplies(t *testing.T) {
	tests := []struct {
		rel  string
		arch string
		want bool
	}{
		{"a", "amd64", true},
		{"a [amd64]", "amd64", true},
		{"a [amd64]", "arm64", false},
		{"a [!amd64]", "amd64", false},
		{"a [!amd64]", "arm64", true},
		{"a [linux-any]", "arm64", true},
		{"a [any-amd64]", "amd64", true},
		{"a [any-amd64]", "arm64", false},
		{"a [kfreebsd-any]", "amd64", false},
		{"a [hurd-any]", "hurd-i386", true},
		{"a [any-i386]", "hurd-i386", true},
		{"a <nocheck>", "amd64", false},
		{"a <!nocheck>", "amd64", true},
		{"a <stage1> <!nocheck>", "amd64", true},
		{"a <!stage1 nocheck>", "amd64", false},
	}
	for _, tt := range tests {
		g, err := ParseRelations(tt.rel)
		if err != nil {
			t.Fatal(err)
		}
		if got := g[0][0].Applies(tt.arch); got != tt.want {
			t.Errorf("%q on %s: Applies = %v, want %v", tt.rel, tt.arch, got, tt.want)
		}
	}
}

// CompareVersions must agree with pault.ag/go/debian's implementation of
// dpkg's algorithm on every pair.
func TestCompareVersions(t *testing.T) {
	vs := []string{
		"0", "1", "1.0", "1.0-1", "1.0-1+b1", "1.0-2", "1.0~rc1", "1.0~rc1-1", "1.0+dfsg-1", "1.0a", "1.0.1",
		"1:0.9", "2:0", "01:1.0", "1.00", "1.0-0", "1.0-", "10", "9", "1.0~~", "1.0~", "1.0~a", "2.41-12+deb13u1",
		"2.41-12", "2.41-6", "257.9-1~deb13u1", "257.9-1", "6.12.57-1", "6.12.48+deb13-amd64", "a", "1.2.3-4.5-6",
		"0:1.0", "1.0-1.1", "1.0-1~bpo13+1", "3.0.17-1~deb13u3",
	}
	sign := func(n int) int {
		switch {
		case n < 0:
			return -1
		case n > 0:
			return 1
		}
		return 0
	}
	for _, a := range vs {
		for _, b := range vs {
			va, err1 := version.Parse(a)
			vb, err2 := version.Parse(b)
			if err1 != nil || err2 != nil {
				continue
			}
			want := sign(version.Compare(va, vb))
			if got := sign(CompareVersions(a, b)); got != want {
				t.Errorf("CompareVersions(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
	for _, c := range []struct {
		a, b string
		want int
	}{{"1.0~rc1", "1.0", -1}, {"1:0.9", "2.0", 1}, {"1.0-1", "1.0-1+b1", -1}, {"1.0", "1.0-0", 0}} {
		if got := sign(CompareVersions(c.a, c.b)); got != c.want {
			t.Errorf("CompareVersions(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

// scanProvides must accept exactly what parseProvides accepts, with the
// same entries.
func TestScanProvides(t *testing.T) {
	for _, in := range []string{
		"a", "a, b (= 1.0), c(=2:3-4)", "a (>= 1)", "a:any", "a | b", "a,", "", "a [amd64]", "a (= )",
		"a, b, c, d, e, f, g, h, i, j, k (= 1)", "x (= 1) ,\n y",
	} {
		var got []string
		err := scanProvides(in, new([]provided), func(n, v string) { got = append(got, n+"="+v) })
		rels, perr := parseProvides(in)
		if (err == nil) != (perr == nil) {
			t.Errorf("%q: scanProvides error %v, parseProvides error %v", in, err, perr)
			continue
		}
		if err != nil {
			if got != nil {
				t.Errorf("%q: fn called before the error", in)
			}
			continue
		}
		var want []string
		for _, r := range rels {
			want = append(want, r.Name+"="+r.Version)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q (-parseProvides +scanProvides):\n%s", in, diff)
		}
	}
}
