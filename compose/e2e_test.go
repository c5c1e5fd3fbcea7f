package compose

import (
	"bufio"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apt-ostree/apt-ostree/ostree"

	"github.com/apt-ostree/apt-ostree/lint"
)

// e2eCache returns the shared cache for tests against the real Debian
// archive, which run only with APT_OSTREE_E2E=1 (.ci/run sets it).
func e2eCache(t *testing.T) string {
	t.Helper()
	if os.Getenv("APT_OSTREE_E2E") != "1" {
		t.Skip("set APT_OSTREE_E2E=1 to compose from the real Debian archive")
	}
	if d := os.Getenv("APT_OSTREE_TEST_CACHE"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "apt-ostree-test-cache")
}

const exampleTreefile = "../examples/debian-trixie-minimal.yaml"

// TestE2EExampleRootfs composes the bundled example from the Debian archive
// and lets Debian's own tools judge the result.
func TestE2EExampleRootfs(t *testing.T) {
	cache := e2eCache(t)
	needTools(t, "bwrap", "chroot")
	ctx := context.Background()
	dest := filepath.Join(t.TempDir(), "x")
	opts := Options{Treefile: exampleTreefile, CacheDir: cache}
	sum, err := Rootfs(ctx, dest, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compose rootfs: %s", sum)
	chroot := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("chroot", append([]string{dest}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("chroot %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := chroot("dpkg", "--audit"); out != "" {
		t.Errorf("dpkg --audit:\n%s", out)
	}
	status := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(chroot("dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${binary:Package}\n")), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 {
			status[strings.TrimSuffix(f[1], ":amd64")] = f[0]
		}
	}
	plan, err := Resolve(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plan.Resolved.Packages {
		if status[p.Name] != "ii" {
			t.Errorf("package %s: dpkg status %q, want ii", p.Name, status[p.Name])
		}
	}
	if len(status) != len(plan.Resolved.Packages) {
		t.Errorf("dpkg knows %d packages, the plan has %d", len(status), len(plan.Resolved.Packages))
	}
	chroot("apt-get", "check")
	passwd := chroot("cat", "/etc/passwd")
	for _, user := range []string{"root:x:0:0:", "systemd-network:"} {
		if !strings.Contains(passwd, user) {
			t.Errorf("/etc/passwd lacks %s:\n%s", user, passwd)
		}
	}
	kernels, _ := filepath.Glob(filepath.Join(dest, "usr/lib/modules/*/vmlinuz"))
	if len(kernels) != 1 {
		t.Fatalf("kernels: %v, want exactly one", kernels)
	}
	if fi, err := os.Stat(filepath.Join(filepath.Dir(kernels[0]), "initramfs.img")); err != nil || fi.Size() < 1<<20 {
		t.Errorf("initramfs beside %s: %v", kernels[0], err)
	}
	bootInitramfs(t, kernels[0], filepath.Join(filepath.Dir(kernels[0]), "initramfs.img"))
	// The plain root is not yet in the OSTree layout, so bootc's lints
	// have findings; log them for the record.
	report, err := lint.Run(ctx, lint.DirFS(dest), lint.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	report.WriteText(&b)
	t.Logf("lint of the plain rootfs:\n%s", b.String())
}

// TestE2EExampleTree composes the example into an OSTree commit that the
// real ostree accepts, then recomposes it unchanged.
func TestE2EExampleTree(t *testing.T) {
	repo, res := composedExample(t)
	ctx := context.Background()
	opts := TreeOptions{Options: Options{Treefile: exampleTreefile, CacheDir: e2eCache(t)}, Repo: repo}
	t.Logf("compose tree: %s: %s", res.Commit, res.Summary)
	ostree := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("ostree", append([]string{"--repo=" + repo}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ostree %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	ostree("fsck")
	if kver := ostree("show", "--print-metadata-key=ostree.linux", res.Ref); !strings.Contains(kver, "deb13") {
		t.Errorf("ostree.linux = %s", kver)
	}
	if b := ostree("show", "--print-metadata-key=ostree.bootable", res.Ref); strings.TrimSpace(b) != "true" {
		t.Errorf("ostree.bootable = %s", b)
	}
	ls := ostree("ls", "-R", res.Ref, "/usr/lib/modules")
	if !strings.Contains(ls, "/vmlinuz") || !strings.Contains(ls, "/initramfs.img") {
		t.Errorf("no kernel and initramfs in /usr/lib/modules:\n%s", ls)
	}
	report, err := lint.Run(ctx, mustFS(t, repo, res.Ref), lint.Options{FatalWarnings: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Err(); err != nil {
		var b strings.Builder
		report.WriteText(&b)
		t.Errorf("lint of the commit: %v\n%s", err, b.String())
	}
	start := time.Now()
	again, err := Tree(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Changed {
		t.Errorf("recompose with no change wrote %s", again.Commit)
	}
	t.Logf("unchanged recompose took %s", time.Since(start))
}

func mustFS(t *testing.T, repoPath, rev string) fs.FS {
	t.Helper()
	r, err := ostree.Open(repoPath)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := r.FS(context.Background(), rev)
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

// bootInitramfs boots the kernel with the initramfs in qemu (software
// emulation) until systemd reports that it runs in the initrd: the kernel
// could unpack the image and its init starts.
func bootInitramfs(t *testing.T, vmlinuz, initramfs string) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		return
	}
	needTools(t, "qemu-system-x86_64")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "qemu-system-x86_64", "-cpu", "max", "-m", "1024", "-nographic", "-no-reboot", "-net", "none",
		"-kernel", vmlinuz, "-initrd", initramfs, "-append", "console=ttyS0 panic=-1 rd.retry=3 rd.timeout=5")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cancel()
	var log strings.Builder
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		log.WriteString(line + "\n")
		if strings.Contains(line, "Running in initrd") {
			return
		}
	}
	tail := log.String()
	if len(tail) > 4000 {
		tail = tail[len(tail)-4000:]
	}
	t.Errorf("the composed kernel and initramfs did not reach systemd in the initrd:\n%s", tail)
}
