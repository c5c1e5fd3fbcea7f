package resolve

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/apt"
)

var testRepos = map[string]*apt.RepoRef{}

// universe builds packages from control-file-like stanzas separated by
// blank lines. Architecture defaults to amd64 and Priority to optional;
// "Suite: x" sets the package's repository.
func universe(t testing.TB, text string) []*apt.Package {
	t.Helper()
	var out []*apt.Package
	for _, stanza := range strings.Split(strings.TrimSpace(text), "\n\n") {
		p := &apt.Package{Architecture: "amd64", Priority: "optional"}
		suite := "trixie"
		for _, line := range strings.Split(strings.TrimSpace(stanza), "\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				t.Fatalf("bad fixture line %q", line)
			}
			v = strings.TrimSpace(v)
			switch strings.TrimSpace(k) {
			case "Package":
				p.Name = v
			case "Version":
				p.Version = v
			case "Architecture":
				p.Architecture = v
			case "Multi-Arch":
				p.MultiArch = v
			case "Essential":
				p.Essential = v == "yes"
			case "Priority":
				p.Priority = v
			case "Depends":
				p.Depends = v
			case "Pre-Depends":
				p.PreDepends = v
			case "Recommends":
				p.Recommends = v
			case "Conflicts":
				p.Conflicts = v
			case "Breaks":
				p.Breaks = v
			case "Provides":
				p.Provides = v
			case "Source":
				p.Source = v
			case "SHA256":
				p.SHA256 = v
			case "Size":
				p.Size, _ = strconv.ParseInt(v, 10, 64)
			case "Suite":
				suite = v
			default:
				t.Fatalf("unknown fixture field %q", k)
			}
		}
		if p.Name == "" || p.Version == "" {
			t.Fatalf("fixture stanza without Package or Version: %q", stanza)
		}
		if p.SHA256 == "" {
			p.SHA256 = fmt.Sprintf("%064x", len(out)+1)
		}
		p.Filename = "pool/main/" + p.Name[:1] + "/" + p.Name + "/" + p.ID() + ".deb"
		repo := testRepos[suite]
		if repo == nil {
			repo = &apt.RepoRef{URL: "http://127.0.0.1:1/debian", Suite: suite, Component: "main", Date: "Sat, 15 Nov 2025 09:24:03 UTC"}
			testRepos[suite] = repo
		}
		p.Repo = repo
		out = append(out, p)
	}
	return out
}

// names formats a package list as "name=version", with ":arch" added for
// packages that are neither amd64 nor all.
func names(pkgs []*apt.Package) []string {
	out := make([]string, len(pkgs))
	for i, p := range pkgs {
		s := p.Name
		if p.Architecture != "amd64" && p.Architecture != "all" {
			s += ":" + p.Architecture
		}
		out[i] = s + "=" + p.Version
	}
	return out
}
