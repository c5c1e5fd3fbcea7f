package apt

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParsePackages(t *testing.T) {
	repo := &RepoRef{URL: "http://127.0.0.1:1/debian", Suite: "trixie", Component: "main"}
	tests := []struct {
		name    string
		in      string
		arch    string
		want    []Package
		wantErr string
	}{
		{
			name: "full stanza",
			in: `Package: bash
Source: bash (5.2.37-2)
Version: 5.2.37-2+b1
Installed-Size: 7164
Maintainer: Someone <a@test.invalid>
Architecture: amd64
Multi-Arch: foreign
Replaces: bash-completion (<< 20060301-0)
Depends: base-files (>= 2.1.12), debianutils (>= 5.6-0.1)
Pre-Depends: libc6 (>= 2.36), libtinfo6 (>= 6)
Recommends: bash-completion (>= 20060301-0)
Suggests: bash-doc
Conflicts: bash-completion (<< 20060301-0)
Breaks: old-bash
Provides: sh
Description: GNU Bourne Again SHell
Essential: yes
Section: shells
Priority: required
Filename: pool/main/b/bash/bash_5.2.37-2+b1_amd64.deb
Size: 1500000
MD5sum: 00000000000000000000000000000000
SHA256: abcdef
`,
			arch: "amd64",
			want: []Package{{
				Name: "bash", Source: "", Version: "5.2.37-2+b1", InstalledSize: 7164, Architecture: "amd64",
				MultiArch: "foreign", Replaces: "bash-completion (<< 20060301-0)",
				Depends: "base-files (>= 2.1.12), debianutils (>= 5.6-0.1)", PreDepends: "libc6 (>= 2.36), libtinfo6 (>= 6)",
				Recommends: "bash-completion (>= 20060301-0)", Suggests: "bash-doc", Conflicts: "bash-completion (<< 20060301-0)",
				Breaks: "old-bash", Provides: "sh", Essential: true, Section: "shells", Priority: "required",
				Filename: "pool/main/b/bash/bash_5.2.37-2+b1_amd64.deb", Size: 1500000, SHA256: "abcdef",
			}},
		},
		{
			name: "arch filter keeps arch and all, in order",
			in: "Package: a\nArchitecture: amd64\nVersion: 1\n\nPackage: b\nArchitecture: arm64\nVersion: 1\n\n" +
				"Package: c\nArchitecture: all\nVersion: 2\nSource: csrc\n",
			arch: "amd64",
			want: []Package{{Name: "a", Architecture: "amd64", Version: "1"}, {Name: "c", Architecture: "all", Version: "2", Source: "csrc"}},
		},
		{
			name: "empty arch keeps everything",
			in:   "Package: a\nArchitecture: amd64\n\nPackage: b\nArchitecture: arm64\n",
			want: []Package{{Name: "a", Architecture: "amd64"}, {Name: "b", Architecture: "arm64"}},
		},
		{
			name: "folded fields, CRLF, extra blank lines, no final newline",
			in:   "\n\nPackage: a\r\nArchitecture: amd64\r\nDepends: x,\r\n  y (>= 1),\r\n\tz\r\nTag: role::program,\r\n implemented-in::c\r\n\r\n\r\n\nPackage: b\nArchitecture: amd64",
			arch: "amd64",
			want: []Package{{Name: "a", Architecture: "amd64", Depends: "x, y (>= 1), z"}, {Name: "b", Architecture: "amd64"}},
		},
		{
			name: "case-insensitive field names and surrounding space",
			in:   "package:   a  \narchitecture: amd64\nDEPENDS: b\n",
			arch: "amd64",
			want: []Package{{Name: "a", Architecture: "amd64", Depends: "b"}},
		},
		{name: "no Package", in: "Version: 1\n\n", wantErr: "no Package field"},
		{name: "bad Size", in: "Package: a\nSize: big\n", wantErr: "package a: bad Size"},
		{name: "malformed line", in: "Package: a\nthis is junk\n", wantErr: "line 2: malformed field"},
		{name: "continuation first", in: " x\n", wantErr: "line 1: continuation"},
		{name: "empty input", in: "", want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePackages([]byte(tc.in), tc.arch, repo)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var vals []Package
			for _, p := range got {
				if p.Repo != repo {
					t.Errorf("%s: Repo not set", p.Name)
				}
				c := *p
				c.Repo = nil
				vals = append(vals, c)
			}
			if diff := cmp.Diff(tc.want, vals); diff != "" {
				t.Errorf("mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestParsePackagesParallel checks that an index big enough to be split
// across goroutines gives the same records, in order, as a serial parse.
func TestParsePackagesParallel(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 12<<20; i++ {
		arch := []string{"amd64", "all", "arm64"}[i%3]
		fmt.Fprintf(&b, "Package: pkg%d\nVersion: %d.0\nArchitecture: %s\nSource: src%d (%d)\nDepends: libc6 (>= 2.36), pkg%d\nDescription: a package\n long text\n that goes on\nFilename: pool/main/p/pkg%d.deb\nSize: %d\nSHA256: %064x\n\n",
			i, i, arch, i/10, i, i+1, i, i*7, i)
	}
	data := []byte(b.String())
	if n := len(splitStanzas(data, 4)); n < 2 {
		t.Fatalf("test input not split (%d chunk)", n)
	}
	par, err := ParsePackages(data, "amd64", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := newParser("amd64", nil)
	if err := p.parse(data, 1); err != nil {
		t.Fatal(err)
	}
	if len(par) != len(p.out) || len(par) == 0 {
		t.Fatalf("parallel %d records, serial %d", len(par), len(p.out))
	}
	for i := range par {
		if *par[i] != *p.out[i] {
			t.Fatalf("record %d: %+v != %+v", i, par[i], p.out[i])
		}
	}
	// Errors in a later chunk carry the right line number.
	bad := append([]byte(nil), data...)
	bad = append(bad, "Package: x\nno colon here\n"...)
	_, err = ParsePackages(bad, "amd64", nil)
	wantLine := strings.Count(string(data), "\n") + 2
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("line %d:", wantLine)) {
		t.Fatalf("err = %v, want line %d", err, wantLine)
	}
}

func FuzzParsePackages(f *testing.F) {
	f.Add([]byte("Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b,\n c\n\nPackage: d\n"), "amd64")
	f.Fuzz(func(t *testing.T, data []byte, arch string) {
		pkgs, err := ParsePackages(data, arch, nil)
		if err != nil {
			return
		}
		for _, p := range pkgs {
			if p.Name == "" {
				t.Fatal("record without name")
			}
			if arch != "" && p.Architecture != arch && p.Architecture != "all" {
				t.Fatalf("arch %q kept for %q", p.Architecture, arch)
			}
		}
	})
}
