package compose

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
	"github.com/apt-ostree/apt-ostree/internal/testrepo"
)

// keysFixture publishes the host-tools base and pkgs in a signed
// repository and returns a writer of treefiles using it: body is appended
// to the repository settings.
func keysFixture(t *testing.T, pkgs ...testdeb.Package) (write func(body string) string, repo *testrepo.Repo) {
	t.Helper()
	// dpkg-split too: the root's own dpkg -i needs it.
	base, err := testdeb.HostToolsPackage(append(slices.Clone(testdeb.HostTools), "dpkg-split"))
	if err != nil {
		t.Fatal(err)
	}
	base.Files = append(base.Files,
		testdeb.File{Path: "etc/passwd", Body: "root:x:0:0:root:/root:/bin/sh\n"},
		testdeb.File{Path: "etc/group", Body: "root:x:0:\n"})
	repo = testrepo.New(t)
	repo.Add("stable", "main", append([]testdeb.Package{base}, pkgs...)...)
	repo.Publish()
	dir := t.TempDir()
	n := 0
	write = func(body string) string {
		t.Helper()
		n++
		p := filepath.Join(dir, fmt.Sprintf("test%d.yaml", n))
		tf := "ref: test/keys\ncontainer: true\nrepos:\n  - url: " + repo.URL() + "\n    suites: [stable]\n    signed-by: " + repo.KeyringPath() + "\n" + body
		if err := os.WriteFile(p, []byte(tf), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write, repo
}

// docsPackage ships documentation, manual pages and translations where
// Debian packages put them.
var docsPackage = testdeb.Package{
	Name:   "docs",
	Fields: map[string]string{"Depends": "base-files"},
	Files: []testdeb.File{
		{Path: "usr/bin/docs", Mode: 0o755, Body: "#!/bin/sh\n"},
		{Path: "usr/share/doc/docs/copyright", Body: "c\n"},
		{Path: "usr/share/doc/docs/changelog.Debian.gz", Body: "c\n"},
		{Path: "usr/share/man/man1/docs.1.gz", Body: "m\n"},
		{Path: "usr/share/man/de/man1/docs.1.gz", Body: "m\n"},
		{Path: "usr/share/info/docs.info.gz", Body: "i\n"},
		{Path: "usr/share/locale/de/LC_MESSAGES/docs.mo", Body: "m\n"},
		{Path: "usr/share/locale/en/LC_MESSAGES/docs.mo", Body: "m\n"},
		{Path: "usr/share/locale/en_GB/LC_MESSAGES/docs.mo", Body: "m\n"},
		{Path: "usr/share/locale/en_US/LC_MESSAGES/docs.mo", Body: "m\n"},
	},
}

// TestRootfsDocumentationAndInstallLangs: documentation: false and
// install-langs: [en_US] leave out docs (but copyright), manual pages,
// info and other translations, and the image's own dpkg keeps doing so
// when the package is installed again.
func TestRootfsDocumentationAndInstallLangs(t *testing.T) {
	needTools(t, "dpkg", "bwrap")
	write, _ := keysFixture(t, docsPackage)
	ctx := context.Background()
	kept := []string{"usr/bin/docs", "usr/share/doc/docs/copyright", "usr/share/locale/en/LC_MESSAGES/docs.mo", "usr/share/locale/en_US/LC_MESSAGES/docs.mo"}
	dropped := []string{"usr/share/doc/docs/changelog.Debian.gz", "usr/share/man/man1/docs.1.gz", "usr/share/man/de/man1/docs.1.gz",
		"usr/share/info/docs.info.gz", "usr/share/locale/de/LC_MESSAGES/docs.mo", "usr/share/locale/en_GB/LC_MESSAGES/docs.mo"}
	check := func(t *testing.T, root string, kept, dropped []string) {
		t.Helper()
		for _, f := range kept {
			if _, err := os.Lstat(filepath.Join(root, f)); err != nil {
				t.Errorf("want %s: %v", f, err)
			}
		}
		for _, f := range dropped {
			if _, err := os.Lstat(filepath.Join(root, f)); err == nil {
				t.Errorf("%s should have been left out", f)
			}
		}
	}

	// Without the keys everything is installed and no filter is recorded.
	dest := filepath.Join(t.TempDir(), "rootfs")
	if _, err := Rootfs(ctx, dest, Options{Treefile: write("packages: [docs]\n"), CacheDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	check(t, dest, append(kept, dropped...), nil)
	if _, err := os.Stat(filepath.Join(dest, "etc/dpkg/dpkg.cfg.d/apt-ostree-excludes")); err == nil {
		t.Error("a dpkg path filter was recorded without documentation/install-langs")
	}

	dest = filepath.Join(t.TempDir(), "rootfs")
	if _, err := Rootfs(ctx, dest, Options{Treefile: write("packages: [docs]\ndocumentation: false\ninstall-langs: [en_US]\n"), CacheDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	check(t, dest, kept, dropped)
	cfg, err := os.ReadFile(filepath.Join(dest, "etc/dpkg/dpkg.cfg.d/apt-ostree-excludes"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"path-exclude=/usr/share/doc/*\n", "path-include=/usr/share/doc/*/copyright\n", "path-exclude=/usr/share/locale/*/*\n", "path-include=/usr/share/locale/en_US/*\n"} {
		if !strings.Contains(string(cfg), l) {
			t.Errorf("dpkg.cfg.d lacks %q:\n%s", l, cfg)
		}
	}
	// dpkg still lists the filtered paths, as it does for its own filters.
	list, err := os.ReadFile(filepath.Join(dest, "var/lib/dpkg/info/docs.list"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(list), "/usr/share/man/man1/docs.1.gz\n") {
		t.Errorf("docs.list lost a filtered path:\n%s", list)
	}
	if out, err := exec.Command("chroot", dest, "dpkg", "--audit").CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("dpkg --audit: %v\n%s", err, out)
	}

	// The image's dpkg, reinstalling the package, honours the recorded filter.
	debPath, err := testdeb.Write(filepath.Join(dest, "tmp"), docsPackage)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chroot", dest, "dpkg", "-i", "/tmp/"+filepath.Base(debPath)).CombinedOutput(); err != nil {
		t.Fatalf("dpkg -i in the root: %v\n%s", err, out)
	}
	check(t, dest, kept, dropped)
}

// svcPackage is a package whose postinst creates a system user the way
// adduser does: the first free uid from 100.
func svcPackage(name, version, depends string) testdeb.Package {
	return testdeb.Package{
		Name:    name,
		Version: version,
		Fields:  map[string]string{"Depends": depends},
		Scripts: map[string]string{"postinst": `#!/bin/sh
set -e
[ "$1" = configure ] || exit 0
grep -q "^` + name + `:" /etc/passwd && exit 0
uid=100
while grep -q "^[^:]*:[^:]*:$uid:" /etc/passwd; do uid=$((uid+1)); done
echo "` + name + `:x:$uid:$uid::/nonexistent:/usr/sbin/nologin" >> /etc/passwd
echo "` + name + `:x:$uid:" >> /etc/group
`},
	}
}

// TestTreePreservePasswd: the next commit adds a package whose user is
// created first; the user an earlier commit created keeps its uid only
// with preserve-passwd (rpm-ostree's default, but not for container: true).
func TestTreePreservePasswd(t *testing.T) {
	needTools(t, "dpkg", "bwrap", "ostree")
	// base-passwd creates /etc/passwd and /etc/group only when missing,
	// as Debian's does; the host-tools base does not ship them.
	tools, err := testdeb.HostToolsPackage(testdeb.HostTools)
	if err != nil {
		t.Fatal(err)
	}
	basePasswd := testdeb.Package{
		Name:   "base-passwd",
		Fields: map[string]string{"Essential": "yes", "Pre-Depends": "base-files"},
		Scripts: map[string]string{"preinst": `#!/bin/sh
set -e
[ -e /etc/passwd ] || echo "root:x:0:0:root:/root:/bin/sh" > /etc/passwd
[ -e /etc/group ] || echo "root:x:0:" > /etc/group
`},
	}
	repo := testrepo.New(t)
	// Suite one: svc-b alone. Suite two: svc-b needs svc-a, configured first.
	repo.Add("one", "main", tools, basePasswd, svcPackage("svc-b", "1.0", "base-passwd"))
	repo.Add("two", "main", tools, basePasswd, svcPackage("svc-a", "1.0", "base-passwd"), svcPackage("svc-b", "2.0", "base-passwd, svc-a"))
	repo.Publish()
	for _, tt := range []struct {
		name, preserve string
		want           string
	}{
		{"container default (false)", "", "root:x:0:\nsvc-a:x:100:\nsvc-b:x:101:\n"},
		{"true", "preserve-passwd: true\n", "root:x:0:\nsvc-b:x:100:\nsvc-a:x:101:\n"},
		{"false", "preserve-passwd: false\n", "root:x:0:\nsvc-a:x:100:\nsvc-b:x:101:\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			repoPath := filepath.Join(dir, "repo")
			compose := func(suite string) string {
				t.Helper()
				p := filepath.Join(dir, "test.yaml")
				tf := "ref: test/passwd\ncontainer: true\nrepos:\n  - url: " + repo.URL() + "\n    suites: [" + suite + "]\n    signed-by: " + repo.KeyringPath() + "\npackages: [svc-b]\n" + tt.preserve
				if err := os.WriteFile(p, []byte(tf), 0o644); err != nil {
					t.Fatal(err)
				}
				res, err := Tree(context.Background(), TreeOptions{Options: Options{Treefile: p, CacheDir: filepath.Join(dir, "cache")}, Repo: repoPath})
				if err != nil {
					t.Fatal(err)
				}
				out, err := exec.Command("ostree", "--repo="+repoPath, "cat", res.Commit, "/usr/etc/group").CombinedOutput()
				if err != nil {
					t.Fatalf("ostree cat: %v\n%s", err, out)
				}
				return string(out)
			}
			if got := compose("one"); got != "root:x:0:\nsvc-b:x:100:\n" {
				t.Fatalf("first commit's /etc/group:\n%s", got)
			}
			if got := compose("two"); got != tt.want {
				t.Errorf("second commit's /etc/group:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestTreeLayoutKeys composes with tmp-is-dir, opt-usrlocal,
// readonly-executables, etc-group-members and ignore-devices set, and
// checks the commit; then the refusals of ignore-devices: false and of a
// missing etc-group-members group.
func TestTreeLayoutKeys(t *testing.T) {
	needTools(t, "dpkg", "bwrap", "ostree")
	write, _ := keysFixture(t,
		testdeb.Package{
			Name:   "tools",
			Fields: map[string]string{"Depends": "base-files"},
			Files: []testdeb.File{
				{Path: "usr/bin/tool", Mode: 0o755, Body: "#!/bin/sh\n"},
				{Path: "usr/share/tool/data", Mode: 0o644, Body: "d\n"},
				{Path: "opt/vendor/bin/x", Mode: 0o755, Body: "#!/bin/sh\n"},
			},
		},
		testdeb.Package{
			Name:   "devnode",
			Fields: map[string]string{"Depends": "base-files"},
			Files:  []testdeb.File{{Path: "usr/share/mem", Type: '3', Mode: 0o666, Devmajor: 1, Devminor: 1}},
		},
	)
	ctx := context.Background()
	dir := t.TempDir()
	repoPath := filepath.Join(dir, "repo")
	tree := func(body string, skipLint ...string) (*TreeResult, error) {
		return Tree(ctx, TreeOptions{Options: Options{Treefile: write(body), CacheDir: filepath.Join(dir, "cache")}, Repo: repoPath, SkipLint: skipLint})
	}
	res, err := tree("packages: [tools, devnode]\ntmp-is-dir: false\nopt-usrlocal: root\nreadonly-executables: true\netc-group-members: [root]\n",
		"api-base-directories") // bootc wants /tmp to be a directory
	if err != nil {
		t.Fatal(err)
	}
	co := filepath.Join(dir, "checkout")
	if out, err := exec.Command("ostree", "--repo="+repoPath, "checkout", "-U", res.Commit, co).CombinedOutput(); err != nil {
		t.Fatalf("ostree checkout: %v\n%s", err, out)
	}
	want := map[string]string{
		"tmp":                 "symlink sysroot/tmp",
		"opt":                 "dir 0755",
		"opt/vendor/bin/x":    "file 0555",
		"usr/local":           "dir 0755",
		"usr/bin/tool":        "file 0555",
		"usr/share/tool/data": "file 0644",
		"usr/share/mem":       "absent",
		"usr/lib/opt":         "absent",
		"home":                "symlink var/home",
	}
	for p, w := range want {
		got := "absent"
		if fi, err := os.Lstat(filepath.Join(co, p)); err == nil {
			switch {
			case fi.Mode()&os.ModeSymlink != 0:
				target, _ := os.Readlink(filepath.Join(co, p))
				got = "symlink " + target
			case fi.IsDir():
				got = fmt.Sprintf("dir %04o", fi.Mode().Perm())
			default:
				got = fmt.Sprintf("file %04o", fi.Mode().Perm())
			}
		}
		if got != w {
			t.Errorf("/%s: %s, want %s", p, got, w)
		}
	}

	_, err = tree("packages: [devnode]\nignore-devices: false\n")
	if err == nil || !strings.Contains(err.Error(), "package devnode ships the device node /usr/share/mem (c /usr/share/mem 0666 0 0 - 1:1)") {
		t.Errorf("ignore-devices: false: got %v", err)
	}
	_, err = tree("packages: [tools]\netc-group-members: [wheel]\n")
	if err == nil || !strings.Contains(err.Error(), "etc-group-members: wheel not in the tree's /etc/group") {
		t.Errorf("etc-group-members: got %v", err)
	}
}
