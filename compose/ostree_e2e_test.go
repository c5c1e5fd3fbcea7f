package compose

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/bootc"
	"github.com/apt-ostree/apt-ostree/internal/treecmp"
	"github.com/apt-ostree/apt-ostree/ostree"
)

// runTool runs a judge and returns its output, failing t on error.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(cmd.Environ(), "LC_ALL=C.UTF-8", "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestE2EComposedExampleAgainstOstreeCLI commits the composed example tree
// (a real Debian root in the OSTree layout) with our writer and with
// `ostree commit`, and checks that the real ostree accepts ours, that both
// give the same root tree, and that a checkout reproduces the input
// exactly. (It lived in package ostree, whose tests must know no Debian.)
func TestE2EComposedExampleAgainstOstreeCLI(t *testing.T) {
	cache := e2eCache(t)
	needTools(t, "ostree", "bwrap", "chroot")
	ctx := context.Background()
	dir := t.TempDir()
	root := filepath.Join(dir, "rootfs")
	if _, err := Rootfs(ctx, root, Options{Treefile: exampleTreefile, CacheDir: cache}); err != nil {
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
	runTool(t, "ostree", "fsck", "--repo="+ours)

	theirs := filepath.Join(dir, "theirs")
	runTool(t, "ostree", "init", "--repo="+theirs, "--mode=archive")
	runTool(t, "ostree", "commit", "--repo="+theirs, "--branch=example", "--tree=dir="+root)
	rootOf := func(repo string) string {
		// "d00755 0 0 0 <contents checksum> <meta checksum> /"
		return strings.Join(strings.Fields(runTool(t, "ostree", "ls", "--repo="+repo, "-C", "-d", "example", "/"))[4:6], " ")
	}
	if a, b := rootOf(ours), rootOf(theirs); a != b {
		t.Errorf("root dirtree/dirmeta: ours %s, ostree commit %s", a, b)
	}

	co := filepath.Join(dir, "checkout")
	runTool(t, "ostree", "checkout", "--repo="+ours, "example", co)
	treecmp.Compare(t, root, co, treecmp.Options{Owners: true, Xattrs: true, Special: true})
}
