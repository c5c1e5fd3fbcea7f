package resolve

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/apt-ostree/apt-ostree/apt/lockfile"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		name     string
		universe string
		req      Request // Arch defaults to amd64
		want     []string
		wantErr  string
	}{
		{
			name: "versioned depends picks the highest satisfying version",
			universe: `
Package: foo
Version: 1.0
Depends: a (<< 2), b (<= 2), c (= 2), d (>= 2), e (>> 2)

Package: a
Version: 1

Package: a
Version: 2

Package: b
Version: 2

Package: b
Version: 3

Package: c
Version: 3

Package: c
Version: 2

Package: d
Version: 1

Package: d
Version: 3

Package: e
Version: 2

Package: e
Version: 2.1~rc1`,
			req:  Request{Packages: []string{"foo"}},
			want: []string{"a=1", "b=2", "c=2", "d=3", "e=2.1~rc1", "foo=1.0"},
		},
		{
			name: "first satisfiable alternative",
			universe: `
Package: foo
Version: 1
Depends: missing | y | x

Package: x
Version: 1

Package: y
Version: 1`,
			req:  Request{Packages: []string{"foo"}},
			want: []string{"foo=1", "y=1"},
		},
		{
			name: "alternative already selected satisfies the group",
			universe: `
Package: foo
Version: 1
Depends: x | y

Package: x
Version: 1

Package: y
Version: 1`,
			req:  Request{Packages: []string{"y", "foo"}},
			want: []string{"foo=1", "y=1"},
		},
		{
			name: "virtual package: provider by priority, then name",
			universe: `
Package: foo
Version: 1
Depends: mta, httpd

Package: postfix
Version: 1
Provides: mta

Package: exim
Version: 1
Priority: standard
Provides: mta

Package: zhttpd
Version: 1
Provides: httpd

Package: ahttpd
Version: 1
Provides: httpd`,
			req:  Request{Packages: []string{"foo"}},
			want: []string{"ahttpd=1", "exim=1", "foo=1"},
		},
		{
			name: "virtual package: a selected provider is kept",
			universe: `
Package: foo
Version: 1
Depends: mta

Package: exim
Version: 1
Priority: important
Provides: mta

Package: postfix
Version: 1
Provides: mta`,
			req:  Request{Packages: []string{"postfix", "foo"}},
			want: []string{"foo=1", "postfix=1"},
		},
		{
			name: "versioned provides",
			universe: `
Package: foo
Version: 1
Depends: v (>= 2)

Package: p1
Version: 1
Provides: v (= 1)

Package: p2
Version: 1
Provides: v (= 3)

Package: p0
Version: 1
Provides: v`,
			req:  Request{Packages: []string{"foo"}},
			want: []string{"foo=1", "p2=1"},
		},
		{
			name: "a real package before a virtual one",
			universe: `
Package: foo
Version: 1
Depends: bar

Package: abar
Version: 1
Priority: important
Provides: bar

Package: bar
Version: 1`,
			req:  Request{Packages: []string{"foo"}},
			want: []string{"bar=1", "foo=1"},
		},
		{
			name: "requesting a virtual package installs a provider",
			universe: `
Package: postfix
Version: 1
Provides: mail-transport-agent`,
			req:  Request{Packages: []string{"mail-transport-agent"}},
			want: []string{"postfix=1"},
		},
		{
			name: "conflicts skip an alternative",
			universe: `
Package: foo
Version: 1
Depends: a | b

Package: a
Version: 1
Conflicts: c

Package: b
Version: 1

Package: c
Version: 1`,
			req:  Request{Packages: []string{"c", "foo"}},
			want: []string{"b=1", "c=1", "foo=1"},
		},
		{
			name: "breaks skip an alternative, checked from the selected side",
			universe: `
Package: foo
Version: 1
Depends: a | b

Package: a
Version: 1

Package: b
Version: 1

Package: c
Version: 1
Breaks: a (<< 2)`,
			req:  Request{Packages: []string{"c", "foo"}},
			want: []string{"b=1", "c=1", "foo=1"},
		},
		{
			name: "versioned conflicts and breaks that do not match",
			universe: `
Package: foo
Version: 1
Depends: a, b
Conflicts: a (<< 2), v (<< 1)
Breaks: b (>> 3)

Package: a
Version: 2

Package: b
Version: 3

Package: p
Version: 1
Provides: v (= 1)

Package: q
Version: 1
Provides: v`,
			req:  Request{Packages: []string{"p", "q", "foo"}},
			want: []string{"a=2", "b=3", "foo=1", "p=1", "q=1"},
		},
		{
			name: "versioned conflict on a versioned provides",
			universe: `
Package: foo
Version: 1
Conflicts: v (<< 2)

Package: p
Version: 1
Provides: v (= 1)`,
			req:     Request{Packages: []string{"p", "foo"}},
			wantErr: "cannot install foo: foo conflicts with v (<< 2), provided by p (requested)",
		},
		{
			name: "a package conflicting with what it provides installs",
			universe: `
Package: postfix
Version: 1
Provides: mail-transport-agent
Conflicts: mail-transport-agent`,
			req:  Request{Packages: []string{"postfix"}},
			want: []string{"postfix=1"},
		},
		{
			name: "backtracking over an alternative that leads to a conflict",
			universe: `
Package: foo
Version: 1
Depends: x | y, z

Package: x
Version: 1
Depends: w

Package: y
Version: 1

Package: w
Version: 1

Package: z
Version: 1
Conflicts: w`,
			req:  Request{Packages: []string{"foo"}},
			want: []string{"foo=1", "y=1", "z=1"},
		},
		{
			name: "backtracking to an older version",
			universe: `
Package: foo
Version: 1
Depends: lib, tool

Package: lib
Version: 2

Package: lib
Version: 1

Package: tool
Version: 1
Depends: lib (<< 2)`,
			req:  Request{Packages: []string{"foo"}},
			want: []string{"foo=1", "lib=1", "tool=1"},
		},
		{
			name: "recommends off by default",
			universe: `
Package: foo
Version: 1
Recommends: r

Package: r
Version: 1`,
			req:  Request{Packages: []string{"foo"}},
			want: []string{"foo=1"},
		},
		{
			name: "recommends on; unsatisfiable ones dropped",
			universe: `
Package: foo
Version: 1
Recommends: r, missing, c

Package: r
Version: 1

Package: c
Version: 1
Conflicts: foo`,
			req:  Request{Packages: []string{"foo"}, Recommends: true},
			want: []string{"foo=1", "r=1"},
		},
		{
			name: "a recommends that a later dependency conflicts with is dropped",
			universe: `
Package: foo
Version: 1
Recommends: r

Package: r
Version: 1

Package: bar
Version: 1
Depends: x

Package: x
Version: 1
Conflicts: r`,
			req:  Request{Packages: []string{"foo", "bar"}, Recommends: true},
			want: []string{"bar=1", "foo=1", "x=1"},
		},
		{
			name: "requested packages are all selected before their dependencies",
			universe: `
Package: foo
Version: 1
Depends: mta

Package: exim
Version: 1
Priority: important
Provides: mta

Package: postfix
Version: 1
Provides: mta`,
			req:  Request{Packages: []string{"foo", "postfix"}},
			want: []string{"foo=1", "postfix=1"},
		},
		{
			name: "recommends on an excluded package is dropped",
			universe: `
Package: foo
Version: 1
Recommends: r

Package: r
Version: 1`,
			req:  Request{Packages: []string{"foo"}, Recommends: true, Exclude: []string{"r"}},
			want: []string{"foo=1"},
		},
		{
			name: "hard dependency on an excluded package names the chain",
			universe: `
Package: foo
Version: 1
Depends: a

Package: a
Version: 1
Depends: r

Package: r
Version: 1`,
			req:     Request{Packages: []string{"foo"}, Exclude: []string{"r"}},
			wantErr: "cannot install foo: foo depends on a, a depends on r, but r is excluded by exclude-packages",
		},
		{
			name: "requested and excluded",
			universe: `
Package: foo
Version: 1`,
			req:     Request{Packages: []string{"foo"}, Exclude: []string{"foo"}},
			wantErr: "package foo is both requested and in exclude-packages; remove it from one of them",
		},
		{
			name: "essential and required packages of the native arch are included",
			universe: `
Package: base-files
Version: 13
Essential: yes
Priority: required

Package: libc-bin
Version: 2.41
Priority: required
Depends: libc6

Package: libc6
Version: 2.41
Multi-Arch: same

Package: i386-only
Version: 1
Architecture: i386
Priority: required

Package: apt
Version: 3.0
Priority: important

Package: foo
Version: 1`,
			req:  Request{Packages: []string{"foo"}},
			want: []string{"base-files=13", "foo=1", "libc-bin=2.41", "libc6=2.41"},
		},
		{
			name: "excluded required packages stay out",
			universe: `
Package: base-files
Version: 13
Priority: required

Package: foo
Version: 1`,
			req:  Request{Packages: []string{"foo"}, Exclude: []string{"base-files"}},
			want: []string{"foo=1"},
		},
		{
			name: "highest version across suites",
			universe: `
Package: bar
Version: 1.0
Suite: trixie

Package: bar
Version: 1.0+deb13u1
Suite: trixie-security

Package: bar
Version: 1.0+deb13u0
Suite: trixie-updates`,
			req:  Request{Packages: []string{"bar"}},
			want: []string{"bar=1.0+deb13u1"},
		},
		{
			name: "pin with name=version applies to dependencies too",
			universe: `
Package: foo
Version: 1
Depends: bar

Package: bar
Version: 1.0

Package: bar
Version: 1.1`,
			req:  Request{Packages: []string{"foo", "bar=1.0"}},
			want: []string{"bar=1.0", "foo=1"},
		},
		{
			name: "pin that a dependency rules out",
			universe: `
Package: foo
Version: 1
Depends: bar (>= 1.1)

Package: bar
Version: 1.0

Package: bar
Version: 1.1`,
			req:     Request{Packages: []string{"foo", "bar=1.0"}},
			wantErr: `cannot install foo: foo depends on bar (>= 1.1), but bar is pinned to 1.0 by the request "bar=1.0"`,
		},
		{
			name: "constraint requests",
			universe: `
Package: bar
Version: 1.0

Package: bar
Version: 1.1

Package: baz
Version: 2

Package: baz
Version: 3`,
			req:  Request{Packages: []string{"'bar (<< 1.1)'", "baz <= 2"}},
			want: []string{"bar=1.0", "baz=2"},
		},
		{
			name: "unsatisfiable constraint request",
			universe: `
Package: bar
Version: 1.0

Package: bar
Version: 1.1`,
			req:     Request{Packages: []string{"'bar (>= 2)'"}},
			wantErr: "cannot install bar (>= 2): only bar 1.1, 1.0 are available",
		},
		{
			name: "unversioned request of a missing package",
			universe: `
Package: bar
Version: 1.0`,
			req:     Request{Packages: []string{"nope"}},
			wantErr: "cannot install nope: nope is not available",
		},
		{
			name: "version too low",
			universe: `
Package: foo
Version: 1
Depends: bar (>= 2)

Package: bar
Version: 1.5`,
			req:     Request{Packages: []string{"foo"}},
			wantErr: "cannot install foo: foo depends on bar (>= 2), but only bar 1.5 is available",
		},
		{
			name: "missing dependency deep in a chain",
			universe: `
Package: foo
Version: 1
Pre-Depends: a

Package: a
Version: 1
Depends: b | c

Package: b
Version: 1
Depends: nope

Package: c
Version: 1
Depends: d (>= 3)

Package: d
Version: 2`,
			req:     Request{Packages: []string{"foo"}},
			wantErr: "cannot install foo: foo pre-depends on a, a depends on b | c, b depends on nope, but nope is not available",
		},
		{
			name: "conflict with a package another dependency selected",
			universe: `
Package: qux
Version: 1
Depends: baz

Package: baz
Version: 1

Package: foo
Version: 1
Depends: bar

Package: bar
Version: 1
Conflicts: baz`,
			req:     Request{Packages: []string{"qux", "foo"}},
			wantErr: "cannot install foo: foo depends on bar, but bar conflicts with baz (selected because qux depends on baz)",
		},
		{
			name: "conflict declared by the selected package, through a virtual name",
			universe: `
Package: qux
Version: 1
Breaks: mta

Package: foo
Version: 1
Depends: postfix

Package: postfix
Version: 1
Provides: mta`,
			req:     Request{Packages: []string{"qux", "foo"}},
			wantErr: "cannot install foo: foo depends on postfix, but qux (requested) breaks mta, which postfix provides",
		},
		{
			name: "two versions of one name",
			universe: `
Package: foo
Version: 1
Depends: bar (= 1)

Package: bar
Version: 1

Package: bar
Version: 2`,
			req:     Request{Packages: []string{"bar=2", "foo"}},
			wantErr: `cannot install foo: foo depends on bar (= 1), but bar is pinned to 2 by the request "bar=2"`,
		},
		{
			name: "required package that cannot be installed",
			universe: `
Package: login
Version: 1
Essential: yes
Depends: libpam (>= 2)

Package: libpam
Version: 1`,
			req:     Request{},
			wantErr: "cannot install login (essential): login depends on libpam (>= 2), but only libpam 1 is available",
		},
		{
			name: "multi-arch :any needs Multi-Arch: allowed",
			universe: `
Package: foo
Version: 1
Depends: python3:any, perl:any

Package: python3
Version: 3.13
Multi-Arch: allowed

Package: perl
Version: 5.40`,
			req:     Request{Packages: []string{"foo"}},
			wantErr: "cannot install foo: foo depends on perl:any, but perl is not Multi-Arch: allowed, so perl:any cannot be satisfied",
		},
		{
			name: "multi-arch :any satisfied",
			universe: `
Package: foo
Version: 1
Depends: python3:any (>= 3.11)

Package: python3
Version: 3.13
Multi-Arch: allowed`,
			req:  Request{Packages: []string{"foo"}},
			want: []string{"foo=1", "python3=3.13"},
		},
		{
			name: "foreign satisfies any arch, same is per arch, :native is the native arch",
			universe: `
Package: tool
Version: 1
Architecture: i386
Depends: make, libc6, helper:native

Package: tool
Version: 1
Architecture: amd64
Depends: libc6

Package: make
Version: 4
Multi-Arch: foreign

Package: helper
Version: 1
Architecture: i386

Package: helper
Version: 1

Package: libc6
Version: 2.41
Multi-Arch: same

Package: libc6
Version: 2.41
Architecture: i386
Multi-Arch: same

Package: app
Version: 1
Depends: libc6`,
			req:  Request{Packages: []string{"app", "tool:i386"}},
			want: []string{"app=1", "helper=1", "libc6=2.41", "libc6:i386=2.41", "make=4", "tool:i386=1"},
		},
		{
			name: "dependency of a foreign package on a native-only package",
			universe: `
Package: tool
Version: 1
Architecture: i386
Depends: libfoo

Package: libfoo
Version: 1`,
			req:     Request{Packages: []string{"tool:i386"}},
			wantErr: "cannot install tool:i386: tool depends on libfoo, but libfoo is not available for architecture i386",
		},
		{
			name: "arch-qualified dependency",
			universe: `
Package: foo
Version: 1
Depends: bar:i386

Package: bar
Version: 2

Package: bar
Version: 1
Architecture: i386`,
			req:  Request{Packages: []string{"foo"}},
			want: []string{"bar:i386=1", "foo=1"},
		},
		{
			name: "arch:all package depends resolve natively",
			universe: `
Package: doc
Version: 1
Architecture: all
Depends: lib

Package: lib
Version: 1
Architecture: i386

Package: lib
Version: 1`,
			req:  Request{Packages: []string{"doc"}},
			want: []string{"doc=1", "lib=1"},
		},
		{
			name: "architecture and build-profile restrictions",
			universe: `
Package: foo
Version: 1
Depends: a [i386], b [!i386], c <!nocheck>, d <nocheck>, e [linux-any] <!stage1 !nocheck>, f [any-arm64] | g

Package: a
Version: 1

Package: b
Version: 1

Package: c
Version: 1

Package: d
Version: 1

Package: e
Version: 1

Package: f
Version: 1

Package: g
Version: 1`,
			req:  Request{Packages: []string{"foo"}},
			want: []string{"b=1", "c=1", "e=1", "foo=1", "g=1"},
		},
		{
			name: "garbage in a visited relation field",
			universe: `
Package: foo
Version: 1
Depends: bar (>= )

Package: bar
Version: 1`,
			req:     Request{Packages: []string{"foo"}},
			wantErr: `package foo_1_amd64: field Depends: "bar (>= )": bad version in relation on bar`,
		},
		{
			name: "garbage in an unvisited package is ignored",
			universe: `
Package: foo
Version: 1

Package: junk
Version: 1
Depends: :,0
Provides: x |`,
			req:  Request{Packages: []string{"foo"}},
			want: []string{"foo=1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := tt.req
			if req.Arch == "" {
				req.Arch = "amd64"
			}
			res, err := Resolve(universe(t, tt.universe), req)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("got %v, want error %q", names(res.Packages), tt.wantErr)
				}
				if err.Error() != tt.wantErr {
					t.Fatalf("error\n got: %s\nwant: %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, names(res.Packages)); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnsatisfiableIsTyped(t *testing.T) {
	_, err := Resolve(universe(t, "Package: a\nVersion: 1\nDepends: b"), Request{Arch: "amd64", Packages: []string{"a"}})
	var ue *UnsatisfiableError
	if !errors.Is(err, ErrUnsatisfiable) || !errors.As(err, &ue) {
		t.Fatalf("error %v does not wrap ErrUnsatisfiable", err)
	}
}

// The same resolution over a shuffled universe gives the same set.
func TestDeterministic(t *testing.T) {
	const text = `
Package: foo
Version: 1
Depends: mta | x, httpd, lib

Package: exim
Version: 1
Provides: mta

Package: postfix
Version: 1
Provides: mta

Package: ahttpd
Version: 1
Provides: httpd

Package: bhttpd
Version: 2
Provides: httpd

Package: lib
Version: 1
Suite: trixie

Package: lib
Version: 1.1
Suite: trixie-updates`
	base := universe(t, text)
	res, err := Resolve(base, Request{Arch: "amd64", Packages: []string{"foo"}})
	if err != nil {
		t.Fatal(err)
	}
	want := names(res.Packages)
	if diff := cmp.Diff([]string{"ahttpd=1", "exim=1", "foo=1", "lib=1.1"}, want); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		u := slices.Clone(base)
		r.Shuffle(len(u), func(i, j int) { u[i], u[j] = u[j], u[i] })
		res, err := Resolve(u, Request{Arch: "amd64", Packages: []string{"foo"}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, names(res.Packages)); diff != "" {
			t.Fatalf("shuffled universe gave another result (-want +got):\n%s", diff)
		}
	}
}

func TestBacktrackingIsBounded(t *testing.T) {
	// 20 independent two-way choices followed by an unsatisfiable goal:
	// 2^20 combinations, far past the bound.
	var b strings.Builder
	b.WriteString("Package: root\nVersion: 1\nDepends: ")
	for i := range 20 {
		b.WriteString("a" + string(rune('a'+i)) + " | b" + string(rune('a'+i)) + ", ")
	}
	b.WriteString("nope\n")
	for i := range 20 {
		for _, p := range []string{"a", "b"} {
			b.WriteString("\nPackage: " + p + string(rune('a'+i)) + "\nVersion: 1\n")
		}
	}
	_, err := Resolve(universe(t, b.String()), Request{Arch: "amd64", Packages: []string{"root"}})
	want := "cannot install root: root depends on nope, but nope is not available (gave up after trying other alternatives)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
}

// Conflict-directed backjumping goes straight back to the choice that
// caused a conflict, past choices that have nothing to do with it.
func TestBackjumping(t *testing.T) {
	var b strings.Builder
	b.WriteString("Package: root\nVersion: 1\nDepends: a | b, ")
	for i := range 20 {
		b.WriteString("c" + string(rune('a'+i)) + " | d" + string(rune('a'+i)) + ", ")
	}
	b.WriteString("z\n\nPackage: a\nVersion: 1\n\nPackage: b\nVersion: 1\n\nPackage: z\nVersion: 1\nConflicts: a\n")
	var want []string
	for i := range 20 {
		want = append(want, "c"+string(rune('a'+i))+"=1")
		for _, p := range []string{"c", "d"} {
			b.WriteString("\nPackage: " + p + string(rune('a'+i)) + "\nVersion: 1\n")
		}
	}
	res, err := Resolve(universe(t, b.String()), Request{Arch: "amd64", Packages: []string{"root"}})
	if err != nil {
		t.Fatal(err)
	}
	want = append([]string{"b=1"}, want...)
	want = append(want, "root=1", "z=1")
	if diff := cmp.Diff(want, names(res.Packages)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestLock(t *testing.T) {
	const text = `
Package: foo
Version: 1
Depends: bar
SHA256: 00000000000000000000000000000000000000000000000000000000000000aa

Package: bar
Version: 1.0
SHA256: 00000000000000000000000000000000000000000000000000000000000000b0

Package: bar
Version: 1.1
SHA256: 00000000000000000000000000000000000000000000000000000000000000b1

Package: baz
Version: 1
Depends: bar (>= 1.1)`
	sha := func(s string) string { return strings.Repeat("0", 62) + s }
	tests := []struct {
		name    string
		lock    []lockfile.Entry
		pkgs    []string
		want    []string
		wantErr string
		is      error
	}{
		{
			name: "locked version wins over a newer one",
			lock: []lockfile.Entry{{Name: "bar", Version: "1.0", Arch: "amd64", SHA256: sha("b0")}},
			pkgs: []string{"foo"},
			want: []string{"bar=1.0", "foo=1"},
		},
		{
			name: "evr lock without digest",
			lock: []lockfile.Entry{{Name: "bar", Version: "1.0"}},
			pkgs: []string{"foo"},
			want: []string{"bar=1.0", "foo=1"},
		},
		{
			name: "unlocked names resolve freely",
			lock: []lockfile.Entry{{Name: "foo", Version: "1"}},
			pkgs: []string{"foo"},
			want: []string{"bar=1.1", "foo=1"},
		},
		{
			name:    "locked package vanished from the repositories",
			lock:    []lockfile.Entry{{Name: "bar", Version: "0.9", Arch: "amd64"}},
			pkgs:    []string{"foo"},
			wantErr: "locked package bar 0.9 (amd64) is not available in the configured repositories (it may have been superseded); update the lockfile",
			is:      ErrLocked,
		},
		{
			name:    "locked hash differs",
			lock:    []lockfile.Entry{{Name: "bar", Version: "1.0", Arch: "amd64", SHA256: sha("ff")}},
			pkgs:    []string{"foo"},
			wantErr: "locked package bar 1.0 (amd64): the repositories have sha256:" + sha("b0") + ", the lockfile has sha256:" + sha("ff") + "; update the lockfile",
			is:      ErrLocked,
		},
		{
			name:    "dependency needs another version than the locked one",
			lock:    []lockfile.Entry{{Name: "bar", Version: "1.0"}},
			pkgs:    []string{"baz"},
			wantErr: "cannot install baz: baz depends on bar (>= 1.1), but bar is locked to 1.0 by the lockfile",
			is:      ErrUnsatisfiable,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lock := &lockfile.Lock{Packages: tt.lock}
			res, err := Resolve(universe(t, text), Request{Arch: "amd64", Packages: tt.pkgs, Lock: lock})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr || !errors.Is(err, tt.is) {
					t.Fatalf("got error %v, want %q wrapping %v", err, tt.wantErr, tt.is)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, names(res.Packages)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestInstallOrder(t *testing.T) {
	const text = `
Package: a
Version: 1
Pre-Depends: b

Package: b
Version: 1
Depends: c

Package: c
Version: 1
Depends: b

Package: d
Version: 1
Depends: a, x

Package: x
Version: 1
Pre-Depends: y

Package: y
Version: 1
Depends: x, libc

Package: libc
Version: 1`
	res, err := Resolve(universe(t, text), Request{Arch: "amd64", Packages: []string{"d"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.InstallOrder() {
		got = append(got, p.Name)
	}
	// {b,c} is a cycle broken by name; x pre-depends on y inside the
	// cycle {x,y}, so y comes first although x sorts earlier.
	want := []string{"b", "c", "a", "libc", "y", "x", "d"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("install order (-want +got):\n%s", diff)
	}
}
