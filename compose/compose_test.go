package compose

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
	"github.com/apt-ostree/apt-ostree/internal/testrepo"
	"github.com/apt-ostree/apt-ostree/ostree"
)

// needTools fails in CI and skips elsewhere when a judge is missing.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (scripts/deps installs it)", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("compose tests need root (chown, chroot)")
		}
		t.Skip("needs root")
	}
}

// fixture publishes a signed repository with a base package made of the
// host's dpkg and shell, and a few packages with maintainer scripts, and
// writes a treefile using it.
func fixture(t *testing.T, extra string) (treefilePath string, repo *testrepo.Repo) {
	t.Helper()
	base, err := testdeb.HostBase()
	if err != nil {
		t.Fatal(err)
	}
	repo = testrepo.New(t)
	repo.Add("stable", "main", base,
		testdeb.Package{
			Name:      "hello",
			Fields:    map[string]string{"Depends": "base-files"},
			Conffiles: []string{"/etc/hello.conf"},
			Files: []testdeb.File{
				{Path: "usr/bin/hello", Mode: 0o755, Body: "#!/bin/sh\necho hello\n"},
				{Path: "etc/hello.conf", Body: "greeting=hi\n"},
				{Path: "usr/lib/systemd/system/hello.service", Body: "[Service]\nExecStart=/usr/bin/hello\n[Install]\nWantedBy=multi-user.target\nAlias=hi.service\n"},
			},
			Scripts: map[string]string{"postinst": "#!/bin/sh\nset -e\nif [ \"$1\" = configure ]; then echo configured > /etc/hello-configured; fi\n"},
		},
		testdeb.Package{
			Name:   "world",
			Fields: map[string]string{"Pre-Depends": "hello", "Depends": "base-files"},
			Files: []testdeb.File{
				{Path: "usr/share/world/data", Body: "world\n"},
				{Path: "var/lib/world", Type: '5', Mode: 0o750},
			},
			Scripts: map[string]string{"preinst": "#!/bin/sh\nset -e\n/usr/bin/hello > /dev/null\n"},
		},
		testdeb.Package{Name: "unused", Fields: map[string]string{"Depends": "base-files"}},
	)
	repo.Publish()
	dir := t.TempDir()
	treefilePath = filepath.Join(dir, "test.yaml")
	tf := `ref: test/${basearch}/base
container: true
automatic-version-prefix: "1"
repos:
  - url: ` + repo.URL() + `
    suites: [stable]
    signed-by: ` + repo.KeyringPath() + `
packages: [world]
postprocess:
  - |
    #!/bin/sh
    echo post > /usr/share/postprocessed
` + extra
	if err := os.WriteFile(treefilePath, []byte(tf), 0o644); err != nil {
		t.Fatal(err)
	}
	return treefilePath, repo
}

func TestRootfs(t *testing.T) {
	needTools(t, "dpkg", "bwrap")
	// hi.service is only an Alias= of hello.service, like Debian's sshd.service.
	tf, _ := fixture(t, "units: [hi.service]\n")
	ctx := context.Background()
	dest := filepath.Join(t.TempDir(), "rootfs")
	sum, err := Rootfs(ctx, dest, Options{Treefile: tf, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Packages != 3 || sum.Downloaded != 3 {
		t.Errorf("summary %+v: want 3 packages, all downloaded", sum)
	}
	for _, f := range []string{"etc/hello-configured", "usr/share/postprocessed", "etc/hello.conf", "usr/share/world/data"} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	// compose rootfs enables units through bootc, in the plain root's /etc.
	for link, want := range map[string]string{
		"etc/systemd/system/multi-user.target.wants/hello.service": "/usr/lib/systemd/system/hello.service",
		"etc/systemd/system/hi.service":                            "/usr/lib/systemd/system/hello.service",
	} {
		if got, err := os.Readlink(filepath.Join(dest, link)); err != nil || got != want {
			t.Errorf("%s -> %q (%v), want %s", link, got, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(dest, "etc/machine-id")); err != nil || fi.Size() != 0 || fi.Mode().Perm() != 0o444 {
		t.Errorf("etc/machine-id: %v, want an empty 0444 file", err)
	}
	// The root's own dpkg is the judge: everything configured, nothing
	// half-done.
	out, err := exec.Command("chroot", dest, "dpkg", "--audit").CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("dpkg --audit: %v\n%s", err, out)
	}
	out, err = exec.Command("chroot", dest, "dpkg-query", "-W", "-f", "${db:Status-Abbrev}${Package}\n").CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-query: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "ii base-files\nii hello\nii world" {
		t.Errorf("installed packages:\n%s", got)
	}
	// No temporary file of the build is left beside the destination.
	entries, _ := os.ReadDir(filepath.Dir(dest))
	if len(entries) != 1 {
		t.Errorf("left beside %s: %v", dest, entries)
	}
	if _, err := Rootfs(ctx, dest, Options{Treefile: tf, CacheDir: t.TempDir()}); err == nil {
		t.Error("Rootfs into an existing destination: no error")
	}
}

func TestRootfsFailingScriptLeavesNothing(t *testing.T) {
	needTools(t, "dpkg", "bwrap")
	tf, _ := fixture(t, "postprocess-script: fail.sh\n")
	script := filepath.Join(filepath.Dir(tf), "fail.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho about to fail\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	_, err := Rootfs(context.Background(), filepath.Join(parent, "rootfs"), Options{Treefile: tf, CacheDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "about to fail") {
		t.Fatalf("want an error carrying the script's output, got %v", err)
	}
	if entries, _ := os.ReadDir(parent); len(entries) != 0 {
		t.Errorf("a failed compose left %v behind", entries)
	}
}

func TestTree(t *testing.T) {
	needTools(t, "dpkg", "bwrap", "ostree")
	tf, _ := fixture(t, "")
	ctx := context.Background()
	dir := t.TempDir()
	repoPath := filepath.Join(dir, "repo")
	composeJSON := filepath.Join(dir, "compose.json")
	opts := TreeOptions{
		Options:            Options{Treefile: tf, CacheDir: filepath.Join(dir, "cache")},
		Repo:               repoPath,
		WriteComposeJSONTo: composeJSON,
		AddMetadata:        []string{"test.key=test-value"},
	}
	res, err := Tree(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || res.Version != "1" || res.Ref != "test/amd64/base" {
		t.Errorf("result %+v", res)
	}
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ostree", append([]string{"--repo=" + repoPath}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ostree %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("fsck")
	if got := strings.TrimSpace(run("rev-parse", res.Ref)); got != res.Commit {
		t.Errorf("ref points at %s, compose said %s", got, res.Commit)
	}
	if show := run("show", res.Ref); !strings.Contains(show, "Version: 1") {
		t.Errorf("ostree show lacks the version:\n%s", show)
	}
	if got := run("show", "--print-metadata-key=test.key", res.Ref); got != "'test-value'\n" {
		t.Errorf("test.key metadata: %q", got)
	}
	if got := run("show", "--print-metadata-key="+MetaInputHash, res.Ref); got != "'"+res.InputHash+"'\n" {
		t.Errorf("input hash metadata %q, want %s", got, res.InputHash)
	}
	if pkgs := run("show", "--print-metadata-key="+MetaPackages, res.Ref); !strings.Contains(pkgs, "('world', '1.0', 'amd64')") {
		t.Errorf("package list metadata: %s", pkgs)
	}
	// The OSTree layout: /etc in /usr/etc, the dpkg database in /usr, /var
	// as tmpfiles.d lines.
	co := filepath.Join(dir, "checkout")
	run("checkout", "-U", res.Ref, co)
	for _, f := range []string{"usr/etc/hello-configured", "usr/etc/hello.conf", "usr/share/postprocessed", "usr/share/dpkg/database/status", "usr/share/apt-ostree/treefile.json", "sysroot"} {
		if _, err := os.Lstat(filepath.Join(co, f)); err != nil {
			t.Errorf("checkout lacks %s: %v", f, err)
		}
	}
	if target, _ := os.Readlink(filepath.Join(co, "ostree")); target != "sysroot/ostree" {
		t.Errorf("/ostree -> %q", target)
	}
	tmpfiles, _ := exec.Command("sh", "-c", "cat "+co+"/usr/lib/tmpfiles.d/*.conf").Output()
	if !strings.Contains(string(tmpfiles), "d /var/lib/world 0750 root root - -") {
		t.Errorf("no tmpfiles.d line for /var/lib/world:\n%s", tmpfiles)
	}
	if _, err := os.Stat(composeJSON); err != nil {
		t.Error(err)
	}

	// Unchanged inputs: nothing is built, the ref stays.
	res2, err := Tree(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res2.Changed || res2.Commit != res.Commit {
		t.Errorf("second compose: %+v, want unchanged %s", res2, res.Commit)
	}
	// Forced: a new commit whose parent is the first, and the next version.
	opts.ForceNocache = true
	res3, err := Tree(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res3.Changed || res3.Version != "1.1" {
		t.Errorf("forced compose: %+v", res3)
	}
	if parent := strings.TrimSpace(run("rev-parse", res.Ref+"^")); parent != res.Commit {
		t.Errorf("parent %s, want %s", parent, res.Commit)
	}
	r, err := ostree.Open(repoPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadRef(res.Ref); err != nil {
		t.Error(err)
	}
}

func TestTreeBadSignatureWritesNothing(t *testing.T) {
	needTools(t, "ostree")
	tf, repo := fixture(t, "")
	repo.TamperInRelease("stable")
	dir := t.TempDir()
	_, err := Tree(context.Background(), TreeOptions{Options: Options{Treefile: tf, CacheDir: filepath.Join(dir, "cache")}, Repo: filepath.Join(dir, "repo")})
	if err == nil || !strings.Contains(err.Error(), "InRelease") {
		t.Fatalf("want a signature error naming InRelease, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "repo")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed compose created the repo: %v", err)
	}
}
