package compose

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/apt-ostree/apt-ostree/bootc"
)

// TestMain removes what the end-to-end tests share once every test ran.
func TestMain(m *testing.M) {
	code := m.Run()
	if example.dir != "" {
		os.RemoveAll(example.dir)
	}
	os.Exit(code)
}

// example is the bundled example composed once per test binary: a compose
// takes about a minute, and several tests judge the same commit.
var example struct {
	once sync.Once
	dir  string
	repo string
	res  *TreeResult
	err  error
}

// composedExample composes examples/debian-trixie-minimal.yaml into an
// archive repo (once) and returns the repo and the result.
func composedExample(t *testing.T) (repo string, res *TreeResult) {
	t.Helper()
	cache := e2eCache(t)
	needTools(t, "bwrap", "ostree")
	example.once.Do(func() {
		if example.dir, example.err = os.MkdirTemp("", "apt-ostree-example-"); example.err != nil {
			return
		}
		example.repo = filepath.Join(example.dir, "repo")
		example.res, example.err = Tree(context.Background(), TreeOptions{
			Options: Options{Treefile: exampleTreefile, CacheDir: cache},
			Repo:    example.repo,
		})
	})
	if example.err != nil {
		t.Fatalf("composing the example: %v", example.err)
	}
	return example.repo, example.res
}

// run runs a command and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newSysroot returns an empty directory for a sysroot whose deployments,
// which ostree marks immutable, are made removable again when the test ends.
func newSysroot(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "sysroot")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		deploys, _ := filepath.Glob(filepath.Join(dir, "ostree/deploy/*/deploy/*"))
		for _, d := range deploys {
			if fi, err := os.Lstat(d); err == nil && fi.IsDir() {
				exec.Command("chattr", "-i", d).Run()
			}
		}
	})
	return dir
}

// deployAndCheck runs the deployment sequence with ostree (argv prefix
// ostree, seeing the sysroot at sysroot and the composed repo at repo)
// and checks the deployment it made in hostSysroot.
func deployAndCheck(t *testing.T, ostree []string, sysroot, repo, hostSysroot, ref, commit string) {
	t.Helper()
	o := func(args ...string) string {
		t.Helper()
		argv := append(slices.Clone(ostree), args...)
		return run(t, argv[0], argv[1:]...)
	}
	o("admin", "init-fs", sysroot)
	o("admin", "os-init", "debian", "--sysroot="+sysroot)
	// No boot loader in a test: BLS entries only (host-mode.md §1.7).
	o("config", "--repo="+sysroot+"/ostree/repo", "set", "sysroot.bootloader", "none")
	o("--repo="+sysroot+"/ostree/repo", "pull-local", repo, ref)
	o("admin", "deploy", "--sysroot="+sysroot, "--os=debian", "--karg=root=LABEL=root", ref)

	status := o("admin", "status", "--sysroot="+sysroot)
	if !strings.Contains(status, "debian "+commit+".0") {
		t.Errorf("ostree admin status does not list the deployment of %s:\n%s", commit, status)
	}
	deploy := filepath.Join(hostSysroot, "ostree/deploy/debian/deploy", commit+".0")
	for _, p := range []string{"usr/lib/os-release", "etc/machine-id", "usr/lib/ostree/prepare-root.conf"} {
		if _, err := os.Lstat(filepath.Join(deploy, p)); err != nil {
			t.Errorf("deployment: %v", err)
		}
	}
	entries, _ := filepath.Glob(filepath.Join(hostSysroot, "boot/loader/entries/ostree-*.conf"))
	if len(entries) != 1 {
		t.Fatalf("BLS entries %v, want one", entries)
	}
	data, err := os.ReadFile(entries[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nlinux /", "\ninitrd /", "ostree=/ostree/boot.1/debian/"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("BLS entry %s lacks %q:\n%s", entries[0], want, data)
		}
	}
}

// TestE2EDeployWithHostOstree deploys the composed example with the build
// host's ostree into a sysroot made by ostree admin init-fs.
func TestE2EDeployWithHostOstree(t *testing.T) {
	repo, res := composedExample(t)
	sysroot := newSysroot(t)
	deployAndCheck(t, []string{"ostree"}, sysroot, repo, sysroot, res.Ref, res.Commit)
}

// TestE2EDeployWithTreeOstree deploys the composed example with the ostree
// the tree itself carries (trixie's, built without composefs), run from a
// checkout of the commit: what the tree's own tools will do once booted.
// A prepare-root.conf saying "[composefs] enabled = yes" makes this fail
// with "composefs: enabled at runtime, but support is not compiled in".
func TestE2EDeployWithTreeOstree(t *testing.T) {
	repo, res := composedExample(t)
	co := filepath.Join(t.TempDir(), "checkout")
	run(t, "ostree", "--repo="+repo, "checkout", res.Commit, co)

	// The detection that chose prepare-root.conf's value agrees with what
	// the tree's ostree says about itself.
	version := run(t, "bwrap", "--bind", co, "/", "--bind", filepath.Join(co, "usr/etc"), "/etc",
		"--proc", "/proc", "--dev", "/dev", "/usr/bin/ostree", "--version")
	support, err := bootc.DetectOstreeComposefs(os.DirFS(co))
	if err != nil {
		t.Fatal(err)
	}
	if has := strings.Contains(version, "- composefs\n"); has != support.Supported || !support.Present() {
		t.Errorf("DetectOstreeComposefs = %+v, but the tree's ostree --version says:\n%s", support, version)
	}
	conf, err := os.ReadFile(filepath.Join(co, bootc.PrepareRootConfPath))
	if err != nil {
		t.Fatal(err)
	}
	want := "enabled = maybe\n"
	if support.Supported {
		want = "enabled = yes\n"
	}
	if !strings.Contains(string(conf), want) {
		t.Errorf("prepare-root.conf lacks %q with this ostree:\n%s", want, conf)
	}
	t.Logf("the tree's ostree:\n%s\nprepare-root.conf:\n%s", version, conf)

	sysroot := newSysroot(t)
	bwrap := []string{"bwrap", "--bind", co, "/", "--bind", filepath.Join(co, "usr/etc"), "/etc",
		"--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--tmpfs", "/run",
		"--bind", sysroot, "/sysroot", "--ro-bind", repo, "/run/composed-repo",
		"--setenv", "PATH", "/usr/sbin:/usr/bin", "/usr/bin/ostree"}
	deployAndCheck(t, bwrap, "/sysroot", "/run/composed-repo", sysroot, res.Ref, res.Commit)
}
