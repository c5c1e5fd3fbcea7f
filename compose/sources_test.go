package compose

import (
	"testing"

	"github.com/apt-ostree/apt-ostree/treefile"
)

// TestSourcesRepoOptions: per-repository options reach the apt source.
func TestSourcesRepoOptions(t *testing.T) {
	tf := &treefile.Treefile{Arch: "amd64", Repos: []treefile.Repo{
		{URL: "file:///srv/snapshot/", Suites: []string{"trixie"}, Components: []string{"main"}, Trusted: true, SkipValidUntil: true},
		{URL: "http://127.0.0.1/debian", Suites: []string{"trixie"}, Components: []string{"main"}, Trusted: true},
	}}
	srcs, err := Sources(tf, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(srcs) != 2 || srcs[0].URL != "file:///srv/snapshot" || !srcs[0].SkipValidUntil || srcs[1].SkipValidUntil {
		t.Errorf("sources %+v", srcs)
	}
}
