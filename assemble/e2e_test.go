package assemble

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apt-ostree/apt-ostree/deb"
)

// e2eMirror is APT_OSTREE_MIRROR, else the first archive URI of the
// host's apt sources.
func e2eMirror(t *testing.T) string {
	if m := os.Getenv("APT_OSTREE_MIRROR"); m != "" {
		return strings.TrimSuffix(m, "/")
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, stanza := range strings.Split(string(b), "\n\n") {
			var uri, suites string
			for _, line := range strings.Split(stanza, "\n") {
				k, v, _ := strings.Cut(line, ":")
				switch strings.TrimSpace(k) {
				case "URIs":
					uri = strings.Fields(v)[0]
				case "Suites":
					suites = v
				}
			}
			if uri != "" && !strings.Contains(suites, "security") {
				return strings.TrimSuffix(uri, "/")
			}
		}
	}
	if b, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if w := strings.Fields(line); len(w) >= 3 && w[0] == "deb" && !strings.Contains(line, "security") {
				return strings.TrimSuffix(w[1], "/")
			}
		}
	}
	t.Fatal("no mirror: set APT_OSTREE_MIRROR or configure the host's apt sources")
	return ""
}

// e2eDebs downloads (once, into APT_OSTREE_TEST_CACHE) the trixie .debs of
// a bootable set: essential + required + systemd + a kernel and
// initramfs-tools, with dependencies, using mmdebstrap's download step only.
func e2eDebs(t *testing.T, ctx context.Context) []string {
	cache := os.Getenv("APT_OSTREE_TEST_CACHE")
	if cache == "" {
		cache = filepath.Join(os.TempDir(), "apt-ostree-test-cache")
	}
	dir := filepath.Join(cache, "assemble-trixie-debs")
	if debs, _ := filepath.Glob(filepath.Join(dir, "*.deb")); len(debs) > 50 {
		return debs
	}
	if _, err := exec.LookPath("mmdebstrap"); err != nil {
		t.Fatalf("mmdebstrap: %v (CI installs it)", err)
	}
	work := t.TempDir()
	target := filepath.Join(work, "extract")
	cmd := exec.CommandContext(ctx, "mmdebstrap", "--variant=extract", "--mode=root", "--arch=amd64",
		"--include=?essential", "--include=?priority(required)",
		"--include=apt,systemd,systemd-sysv,linux-image-amd64,initramfs-tools",
		"--skip=cleanup/apt/cache", "--skip=check/empty", "trixie", target, e2eMirror(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mmdebstrap download: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(target, "var/cache/apt/archives/*.deb"))
	if len(debs) < 50 {
		t.Fatalf("mmdebstrap left only %d .debs", len(debs))
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range debs {
		if err := copyFile(d, filepath.Join(tmp, filepath.Base(d))); err != nil {
			t.Fatal(err)
		}
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	out, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	return out
}

// TestE2ETrixie unpacks a real trixie set with package deb, then runs the
// whole assembly and asks Debian's own tools whether the result is sound.
func TestE2ETrixie(t *testing.T) {
	if os.Getenv("APT_OSTREE_E2E") != "1" {
		t.Skip("set APT_OSTREE_E2E=1 to assemble a real trixie root")
	}
	needRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	paths := e2eDebs(t, ctx)
	sort.Strings(paths)
	for _, mode := range sandboxModes(t) {
		t.Run(mode.String(), func(t *testing.T) { e2eAssemble(t, ctx, paths, mode) })
	}
}

func e2eAssemble(t *testing.T, ctx context.Context, paths []string, mode SandboxMode) {
	var pkgs []*deb.Package
	for _, p := range paths {
		dp, err := deb.OpenFile(p)
		if err != nil {
			t.Fatal(err)
		}
		defer dp.Close()
		pkgs = append(pkgs, dp)
	}
	root := filepath.Join(t.TempDir(), "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	timings := &Timings{}
	var log bytes.Buffer
	res, err := Install(ctx, root, pkgs, InstallOptions{
		Options: Options{Timings: timings, Sandbox: mode, Output: &log},
		Arch:    "amd64",
	})
	if err != nil {
		t.Fatal(err)
	}
	k := res.Kernel
	t.Logf("%d packages: %s", len(pkgs), timings)
	if n := strings.Count(log.String(), "update-initramfs: Generating"); n != 1 {
		t.Errorf("initramfs built %d times, want once:\n%s", n, log.String())
	}

	sb, err := OpenSandbox(ctx, root, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	if out, err := sb.Run(ctx, Cmd{Args: []string{"dpkg", "--audit"}}); err != nil || len(out) > 0 {
		t.Errorf("dpkg --audit: %v\n%s", err, out)
	}
	if out, err := sb.Run(ctx, Cmd{Args: []string{"apt-get", "check"}}); err != nil {
		t.Errorf("apt-get check: %v\n%s", err, out)
	}
	out, err := sb.Run(ctx, Cmd{Args: []string{"dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${binary:Package}\n"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(line, "ii ") {
			t.Errorf("not installed: %s", line)
		}
	}
	sb.Close()
	passwd := readFile(t, filepath.Join(root, "etc/passwd"))
	for _, u := range []string{"root:x:0:0:", "\nsystemd-network:"} {
		if !strings.Contains(passwd, u) {
			t.Errorf("/etc/passwd lacks %q:\n%s", u, passwd)
		}
	}
	if k == nil || k.Generator != "initramfs-tools" {
		t.Fatalf("kernel: %+v", k)
	}
	mods, _ := filepath.Glob(filepath.Join(root, "usr/lib/modules/*"))
	if len(mods) != 1 {
		t.Errorf("modules dirs: %v", mods)
	}
	for _, f := range []string{k.Vmlinuz, k.Initramfs} {
		if fi, err := os.Stat(filepath.Join(root, f)); err != nil || fi.Size() < 1<<20 {
			t.Errorf("%s: %v %v", f, fi, err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(root, "boot/initrd.img-*")); len(m) > 0 {
		t.Errorf("initramfs left in /boot: %v", m)
	}
	for _, p := range []string{policyRcD, dpkgCfg, ssdPath + savedSuffix} {
		if _, err := os.Lstat(filepath.Join(root, p)); err == nil {
			t.Errorf("%s left behind", p)
		}
	}
}
