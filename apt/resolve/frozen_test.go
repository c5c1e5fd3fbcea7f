package resolve

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestResolveFrozenBase resolves onto an installed base that must not
// move (apt-ostree install, host layering).
func TestResolveFrozenBase(t *testing.T) {
	const base = `
Package: libc6
Version: 2.41-12
Multi-Arch: same
Priority: required

Package: libncursesw6
Version: 6.4-4
Multi-Arch: same
Depends: libc6 (>= 2.34)

Package: libssl3t64
Version: 3.5.1-1
Multi-Arch: same
Depends: libc6, missing-in-universe

Package: postfix
Version: 3.10-1
Provides: mail-transport-agent
Conflicts: mail-transport-agent

Package: dash
Version: 0.5.12-12
Essential: yes
Breaks: oldtool (<< 2)`
	tests := []struct {
		name     string
		universe string
		req      Request
		want     []string
		wantErr  []string
	}{
		{
			name: "dependencies satisfied by the base at their installed version; only new packages listed",
			universe: `
Package: htop
Version: 3.4.1-5
Depends: libc6 (>= 2.38), libncursesw6 (>= 6)

Package: libc6
Version: 2.41-13
Multi-Arch: same
Priority: required

Package: libncursesw6
Version: 6.5-2
Multi-Arch: same

Package: bash
Version: 5.2
Essential: yes`,
			req:  Request{Packages: []string{"htop"}},
			want: []string{"htop=3.4.1-5"},
		},
		{
			name: "a package needing a newer version of a frozen base package fails with the chain",
			universe: `
Package: htop
Version: 3.4.1-5
Depends: libncursesw6 (>= 6.5)

Package: libncursesw6
Version: 6.5-2
Multi-Arch: same`,
			req: Request{Packages: []string{"htop"}},
			wantErr: []string{"cannot install htop: htop depends on libncursesw6 (>= 6.5), but the base has libncursesw6 6.4-4 installed and it is frozen: " +
				"rebuild the base image or use override replace"},
		},
		{
			name: "the chain goes through new packages",
			universe: `
Package: curl
Version: 8.14
Depends: libcurl4t64 (= 8.14)

Package: libcurl4t64
Version: 8.14
Depends: libssl3t64 (>= 3.6)

Package: libssl3t64
Version: 3.6.0-1`,
			req: Request{Packages: []string{"curl"}},
			wantErr: []string{"cannot install curl: curl depends on libcurl4t64 (= 8.14), libcurl4t64 depends on libssl3t64 (>= 3.6), " +
				"but the base has libssl3t64 3.5.1-1 installed and it is frozen"},
		},
		{
			name:     "requesting a newer version of an installed package",
			universe: "Package: libncursesw6\nVersion: 6.5-2\nMulti-Arch: same",
			req:      Request{Packages: []string{"libncursesw6 (>= 6.5)"}},
			wantErr:  []string{"cannot install libncursesw6 (>= 6.5): the base has libncursesw6 6.4-4 installed and it is frozen"},
		},
		{
			name:     "requesting an installed package adds nothing",
			universe: "Package: libncursesw6\nVersion: 6.5-2\nMulti-Arch: same",
			req:      Request{Packages: []string{"libncursesw6"}},
			want:     []string{},
		},
		{
			name: "a virtual package provided by the base",
			universe: `
Package: mailutils
Version: 1
Depends: default-mta | mail-transport-agent

Package: exim4
Version: 4.98
Provides: mail-transport-agent

Package: default-mta
Version: 1
Depends: exim4`,
			req:  Request{Packages: []string{"mailutils"}},
			want: []string{"mailutils=1"},
		},
		{
			name: "a new package conflicting with the base is not chosen",
			universe: `
Package: tool
Version: 1
Depends: fancy-sh | plain-sh

Package: fancy-sh
Version: 1
Conflicts: dash

Package: plain-sh
Version: 1`,
			req:  Request{Packages: []string{"tool"}},
			want: []string{"plain-sh=1", "tool=1"},
		},
		{
			name: "Conflicts against the base is an error",
			universe: `
Package: fancy-sh
Version: 1
Conflicts: dash`,
			req:     Request{Packages: []string{"fancy-sh"}},
			wantErr: []string{"cannot install fancy-sh: fancy-sh conflicts with dash (installed in the frozen base)"},
		},
		{
			name: "Conflicts with a virtual package the base provides",
			universe: `
Package: exim4
Version: 4.98
Provides: mail-transport-agent
Conflicts: mail-transport-agent`,
			req:     Request{Packages: []string{"exim4"}},
			wantErr: []string{"exim4 conflicts with mail-transport-agent, provided by postfix (installed in the frozen base)"},
		},
		{
			name: "Breaks from the base is an error",
			universe: `
Package: oldtool
Version: 1.5`,
			req:     Request{Packages: []string{"oldtool"}},
			wantErr: []string{"cannot install oldtool: dash (installed in the frozen base) breaks oldtool (<< 2)"},
		},
		{
			name: "Breaks from the base picks a version it allows",
			universe: `
Package: uses-oldtool
Version: 1
Depends: oldtool (>= 1)

Package: oldtool
Version: 1.5

Package: oldtool
Version: 2.1`,
			req:  Request{Packages: []string{"uses-oldtool"}},
			want: []string{"oldtool=2.1", "uses-oldtool=1"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Arch = "amd64"
			tc.req.Installed = universe(t, base)
			res, err := Resolve(universe(t, tc.universe), tc.req)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("resolved %v", names(res.Packages))
				}
				if !errors.Is(err, ErrUnsatisfiable) {
					t.Errorf("error %v does not wrap ErrUnsatisfiable", err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error\n  %s\nlacks\n  %s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, names(res.Packages)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestResolveFrozenBaseOrderAndErrors(t *testing.T) {
	installed := universe(t, "Package: libc6\nVersion: 2.41-12\n\nPackage: libz\nVersion: 1")
	u := universe(t, `
Package: a
Version: 1
Depends: b, libc6, libz

Package: b
Version: 1
Pre-Depends: libc6`)
	res, err := Resolve(u, Request{Arch: "amd64", Packages: []string{"a"}, Installed: installed})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"b=1", "a=1"}, names(res.InstallOrder())); diff != "" {
		t.Errorf("install order (-want +got):\n%s", diff)
	}

	bad := universe(t, "Package: broken\nVersion: 1\nProvides: x (>= 1)")
	if _, err := Resolve(u, Request{Arch: "amd64", Packages: []string{"a"}, Installed: append(installed, bad...)}); err == nil ||
		!strings.Contains(err.Error(), "installed package broken_1_amd64: field Provides") {
		t.Errorf("bad installed Provides: %v", err)
	}
}
