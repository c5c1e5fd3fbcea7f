package compose

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/apt-ostree/apt-ostree/apt"
	"github.com/apt-ostree/apt-ostree/apt/resolve"
	"github.com/apt-ostree/apt-ostree/assemble"
	"github.com/apt-ostree/apt-ostree/bootc"
	"github.com/apt-ostree/apt-ostree/deb"
	"github.com/apt-ostree/apt-ostree/internal/rootpath"
)

// TestE2EInstallOntoComposedTree adds htop and curl (real archive) to a
// copy of the composed, post-processed example tree with assemble.Install,
// and the same .debs to another copy with the tree's own dpkg -i: the files
// the new packages own are identical, both databases pass dpkg --audit,
// and both list the packages as installed.
func TestE2EInstallOntoComposedTree(t *testing.T) {
	cache := e2eCache(t)
	needTools(t, "bwrap", "chroot", "cp")
	ctx := context.Background()
	work := t.TempDir()

	base := filepath.Join(work, "base")
	if err := os.Mkdir(base, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := Options{Treefile: exampleTreefile, CacheDir: cache}
	plan, err := Resolve(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plan.BuildRoot(ctx, base, "", opts); err != nil {
		t.Fatal(err)
	}
	if err := bootc.PostProcess(ctx, base, bootc.DefaultOptions()); err != nil {
		t.Fatal(err)
	}
	mine, theirs := filepath.Join(work, "install"), filepath.Join(work, "dpkg")
	for _, dst := range []string{mine, theirs} {
		if out, err := exec.Command("cp", "-a", base, dst).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v: %s", err, out)
		}
	}

	// The extra packages, resolved onto the base as a frozen installed set.
	db, err := deb.OpenDatabase(base)
	if err != nil {
		t.Fatal(err)
	}
	var installed []*apt.Package
	for _, p := range db.Packages() {
		if p.State != "installed" {
			t.Fatalf("base package %s is %s", p, p.State)
		}
		ip, err := apt.InstalledPackage(p.Control.Get)
		if err != nil {
			t.Fatal(err)
		}
		installed = append(installed, ip)
	}
	sources, err := Sources(plan.Treefile, "")
	if err != nil {
		t.Fatal(err)
	}
	universe, err := plan.client.LoadIndexes(ctx, sources)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := resolve.Resolve(universe, resolve.Request{Arch: plan.Treefile.Arch, Packages: []string{"htop", "curl"}, Installed: installed})
	if err != nil {
		t.Fatal(err)
	}
	fresh := extra.Packages
	paths, _, err := plan.client.Fetch(ctx, fresh)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range fresh {
		names = append(names, p.Name)
	}
	t.Logf("new packages: %s", strings.Join(names, " "))

	// assemble.Install onto one copy.
	var debs []*deb.Package
	for _, p := range paths {
		d, err := deb.OpenFile(p)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		debs = append(debs, d)
	}
	timings := &assemble.Timings{}
	res, err := assemble.Install(ctx, mine, debs, assemble.InstallOptions{Options: assemble.Options{Timings: timings}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Install: %d packages, %d files, triggered %v; %s", len(res.Unpacked), res.Files, res.Triggered, timings)

	// dpkg -i onto the other, in the sandbox with the usual layout.
	dpkgInstall(t, ctx, theirs, paths)

	for _, root := range []string{mine, theirs} {
		out, err := exec.Command("chroot", root, "dpkg", "--admindir=/usr/share/dpkg/database", "--audit").CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("dpkg --audit in %s: %v\n%s", root, err, out)
		}
		for _, p := range []string{"etc", "var/lib/dpkg"} {
			if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
				t.Errorf("%s: /%s left behind", root, p)
			}
		}
	}
	dbMine, err := deb.OpenDatabase(mine)
	if err != nil {
		t.Fatal(err)
	}
	dbTheirs, err := deb.OpenDatabase(theirs)
	if err != nil {
		t.Fatal(err)
	}
	if dbMine.Dir() != "usr/share/dpkg/database" {
		t.Errorf("database moved to %s", dbMine.Dir())
	}
	compared := 0
	for _, p := range fresh {
		a, b := dbMine.Lookup(p.Name, p.Architecture), dbTheirs.Lookup(p.Name, p.Architecture)
		if a == nil || b == nil || a.State != "installed" || b.State != "installed" {
			t.Errorf("%s: Install %v, dpkg -i %v", p.Name, a, b)
			continue
		}
		fa, err := dbMine.Files(a)
		if err != nil {
			t.Fatal(err)
		}
		fb, err := dbTheirs.Files(b)
		if err != nil {
			t.Fatal(err)
		}
		sa, sb := append([]string(nil), fa...), append([]string(nil), fb...)
		sort.Strings(sa)
		sort.Strings(sb)
		if strings.Join(sa, "\n") != strings.Join(sb, "\n") {
			t.Errorf("%s: .list differs:\nInstall: %v\ndpkg -i: %v", p.Name, fa, fb)
			continue
		}
		for _, f := range fa {
			da, db := describe(t, mine, f), describe(t, theirs, f)
			if da != db {
				t.Errorf("%s: %s differs:\nInstall: %s\ndpkg -i: %s", p.Name, f, da, db)
			}
			compared++
		}
	}
	t.Logf("compared %d paths of %d packages", compared, len(fresh))
	// The new libraries activate libc-bin's ldconfig trigger: it ran in both.
	cacheMine, cacheTheirs := describe(t, mine, "/etc/ld.so.cache"), describe(t, theirs, "/etc/ld.so.cache")
	if cacheMine != cacheTheirs {
		t.Errorf("ld.so.cache: Install %s, dpkg -i %s", cacheMine, cacheTheirs)
	}
	if b, err := os.ReadFile(filepath.Join(mine, "usr/etc/ld.so.cache")); err != nil || !strings.Contains(string(b), "libcurl.so.4") {
		t.Errorf("ld.so.cache does not list libcurl (ldconfig trigger not run): %v", err)
	}
	if compared == 0 {
		t.Fatal("nothing compared")
	}
}

// dpkgInstall runs the root's own dpkg -i on the .debs, with /etc and the
// database where dpkg expects them for the time of the run.
func dpkgInstall(t *testing.T, ctx context.Context, root string, paths []string) {
	t.Helper()
	links := [][2]string{{"etc", "usr/etc"}, {"var/lib/dpkg", "../../usr/share/dpkg/database"}}
	if err := os.MkdirAll(filepath.Join(root, "var/lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if err := os.Symlink(l[1], filepath.Join(root, l[0])); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(root, "apt-ostree-test-debs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"dpkg", "-i"}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(p)), b, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, "/apt-ostree-test-debs/"+filepath.Base(p))
	}
	sb, err := assemble.OpenSandbox(ctx, root, assemble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := sb.Run(ctx, assemble.Cmd{Args: args})
	if cerr := sb.Close(); cerr != nil {
		t.Error(cerr)
	}
	if err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	os.RemoveAll(dir)
	for _, l := range links {
		os.Remove(filepath.Join(root, l[0]))
	}
	os.Remove(filepath.Join(root, "var/lib")) // only if empty
}

// describe is a path's type, mode, owner, link target and content hash in
// a post-processed root (/etc is usr/etc there).
func describe(t *testing.T, root, listed string) string {
	t.Helper()
	rel := strings.TrimPrefix(listed, "/")
	if rel == "etc" || strings.HasPrefix(rel, "etc/") {
		rel = "usr/" + rel
	}
	p, err := rootpath.Resolve(root, rel)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return "missing"
	}
	st := fi.Sys().(*syscall.Stat_t)
	d := fmt.Sprintf("%s %o %d:%d", fi.Mode().Type(), fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky), st.Uid, st.Gid)
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		l, _ := os.Readlink(p)
		d += " -> " + l
	case fi.Mode().IsRegular():
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		d += " " + hex.EncodeToString(h[:8])
	}
	return d
}
