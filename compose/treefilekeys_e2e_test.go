package compose

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/lint"
	"github.com/apt-ostree/apt-ostree/ostree"
)

// TestE2EDocumentationInstallLangs composes the example with
// documentation: false and install-langs: [en_US]: the commit has no
// documentation but copyright files (and the doc symlinks dpkg keeps), no
// manual or info pages, no translations but English, and records the
// filter for dpkg. A forced recompose, which seeds the accounts of the
// first commit (preserve-passwd), gives the same tree.
func TestE2EDocumentationInstallLangs(t *testing.T) {
	cache := e2eCache(t)
	needTools(t, "bwrap", "ostree")
	ctx := context.Background()
	dir := t.TempDir()
	example, err := filepath.Abs(exampleTreefile)
	if err != nil {
		t.Fatal(err)
	}
	tf := filepath.Join(dir, "nodocs.yaml")
	if err := os.WriteFile(tf, []byte("include: "+example+"\ndocumentation: false\ninstall-langs: [en_US]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repoPath := filepath.Join(dir, "repo")
	// A fixed version: the automatic one would differ between the two
	// composes, and mutate-os-release writes it into the tree.
	opts := TreeOptions{Options: Options{Treefile: tf, CacheDir: cache}, Repo: repoPath, AddMetadata: []string{"version=13.test"}}
	res, err := Tree(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compose tree: %s: %s", res.Commit, res.Summary)
	fsys := mustFS(t, repoPath, res.Commit)

	englishOnly := func(lang string) bool {
		for _, keep := range []string{"en", "en_US"} {
			if lang == keep || strings.HasPrefix(lang, keep+".") || strings.HasPrefix(lang, keep+"@") {
				return true
			}
		}
		return false
	}
	counts := map[string]int{}
	err = fs.WalkDir(fsys, "usr/share", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		parts := strings.Split(p, "/")
		switch parts[2] {
		case "doc":
			if d.Type().IsRegular() && path.Base(p) != "copyright" {
				t.Errorf("documentation left: /%s", p)
			}
			counts[parts[2]+" "+d.Type().String()]++
		case "man", "info":
			// info/dir is the index install-info's trigger writes, not a package's file.
			if d.Type().IsRegular() && p != "usr/share/info/dir" {
				t.Errorf("%s page left: /%s", parts[2], p)
			}
			counts[parts[2]+" "+d.Type().String()]++
		case "locale":
			if len(parts) > 4 && !englishOnly(parts[3]) {
				t.Errorf("translation left: /%s", p)
			}
			if len(parts) > 4 {
				counts["locale "+parts[3]]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("what is left under /usr/share (kind: entries): %v", counts)
	if counts["doc ----------"] == 0 {
		t.Error("no copyright file kept")
	}
	cfg, err := fs.ReadFile(fsys, "usr/etc/dpkg/dpkg.cfg.d/apt-ostree-excludes")
	if err != nil || !strings.Contains(string(cfg), "path-include=/usr/share/doc/*/copyright\n") {
		t.Errorf("dpkg.cfg.d record: %v\n%s", err, cfg)
	}
	report, err := lint.Run(ctx, fsys, lint.Options{FatalWarnings: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Err(); err != nil {
		var b strings.Builder
		report.WriteText(&b)
		t.Errorf("lint of the commit: %v\n%s", err, b.String())
	}

	opts.ForceNocache = true
	again, err := Tree(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := ostree.Open(repoPath)
	if err != nil {
		t.Fatal(err)
	}
	content := func(rev string) string {
		c, err := repo.ResolveRev(rev)
		if err != nil {
			t.Fatal(err)
		}
		cm, err := repo.ReadCommit(c)
		if err != nil {
			t.Fatal(err)
		}
		return cm.ContentChecksum().String()
	}
	if a, b := content(res.Commit), content(again.Commit); a != b {
		out, _ := exec.Command("ostree", "--repo="+repoPath, "diff", res.Commit, again.Commit).CombinedOutput()
		t.Errorf("the recompose seeded with the first commit's accounts differs: content %s, then %s; ostree diff:\n%s", a, b, out)
	}
}
