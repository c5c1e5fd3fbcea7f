package ostree_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/bootc"
	"github.com/apt-ostree/apt-ostree/compose"
	"github.com/apt-ostree/apt-ostree/ostree"
)

// TestComposedExampleAgainstOstreeCLI commits the composed example tree
// (a real Debian root in the OSTree layout, built from the Debian archive
// when APT_OSTREE_E2E=1) with our writer and with `ostree commit`, and
// checks that the real ostree accepts ours, that both give the same root
// tree, and that a checkout reproduces the input exactly.
func TestComposedExampleAgainstOstreeCLI(t *testing.T) {
	if os.Getenv("APT_OSTREE_E2E") != "1" {
		t.Skip("set APT_OSTREE_E2E=1 to compose the example from the Debian archive")
	}
	ostree.NeedOstree(t)
	cache := os.Getenv("APT_OSTREE_TEST_CACHE")
	if cache == "" {
		cache = filepath.Join(os.TempDir(), "apt-ostree-test-cache")
	}
	ctx := context.Background()
	dir := t.TempDir()
	root := filepath.Join(dir, "rootfs")
	if _, err := compose.Rootfs(ctx, root, compose.Options{Treefile: "../examples/debian-trixie-minimal.yaml", CacheDir: cache}); err != nil {
		t.Fatal(err)
	}
	if err := bootc.PostProcess(ctx, root, bootc.DefaultOptions()); err != nil {
		t.Fatal(err)
	}

	ours := filepath.Join(dir, "ours")
	repo, err := ostree.Init(ctx, ours, ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := repo.CommitDir(ctx, root, ostree.CommitOptions{Ref: "example", WriteRef: true, OwnerUID: -1, OwnerGID: -1}); err != nil {
		t.Fatal(err)
	}
	ostree.Run(t, "ostree", "fsck", "--repo="+ours)

	theirs := filepath.Join(dir, "theirs")
	ostree.Run(t, "ostree", "init", "--repo="+theirs, "--mode=archive")
	ostree.Run(t, "ostree", "commit", "--repo="+theirs, "--branch=example", "--tree=dir="+root)
	rootOf := func(repo string) string {
		// "d00755 0 0 0 <contents checksum> <meta checksum> /"
		return strings.Join(strings.Fields(ostree.Run(t, "ostree", "ls", "--repo="+repo, "-C", "-d", "example", "/"))[4:6], " ")
	}
	if a, b := rootOf(ours), rootOf(theirs); a != b {
		t.Errorf("root dirtree/dirmeta: ours %s, ostree commit %s", a, b)
	}

	co := filepath.Join(dir, "checkout")
	ostree.Run(t, "ostree", "checkout", "--repo="+ours, "example", co)
	ostree.CompareTreesFully(t, root, co)
}
