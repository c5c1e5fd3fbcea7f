package lint

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/apt-ostree/apt-ostree/internal/testelf"
)

func run(t *testing.T, fsys fs.FS, opts Options) Report {
	t.Helper()
	rep, err := Run(context.Background(), fsys, opts)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func failed(rep Report) map[string][]string {
	out := map[string][]string{}
	for _, r := range rep.Results {
		if r.Failed() {
			out[r.Name] = r.Message
		}
	}
	return out
}

func TestBaseTreePassesEverything(t *testing.T) {
	for name, fsys := range map[string]fs.FS{
		"dir": DirFS(buildDir(t, baseSpec())),
		"oci": openImage(t, "oci:"+buildImage(t, baseSpec().resolved())+":latest"),
	} {
		t.Run(name, func(t *testing.T) {
			rep := run(t, fsys, Options{})
			if f := failed(rep); len(f) != 0 {
				t.Fatalf("failures on the base tree: %v", f)
			}
			passed, skipped, warnings, fatal := rep.Counts()
			if passed != len(registry) || skipped+warnings+fatal != 0 {
				t.Errorf("counts = %d %d %d %d", passed, skipped, warnings, fatal)
			}
			var b bytes.Buffer
			rep.WriteText(&b)
			if b.String() != fmt.Sprintf("Checks passed: %d\n", len(registry)) {
				t.Errorf("text = %q", b.String())
			}
		})
	}
}

// lintCases break the base tree so that exactly one lint fails.
var lintCases = []struct {
	lint    string
	tree    spec
	skip    []string // lints that the same breakage trips too
	running bool
	want    []string
}{
	{lint: "var-run", tree: baseSpec().without("var/run").with(dir("var/run")),
		want: []string{"Not a symlink: var/run"}},
	{lint: "buildah-injected", tree: baseSpec().with(file("etc/hostname", "")),
		want: []string{"/etc/hostname is an empty file; this may have been synthesized by a container runtime."}},
	{lint: "buildah-injected", tree: baseSpec().with(file("etc/hostname", "h\n"), file("etc/resolv.conf", "")),
		want: []string{"/etc/resolv.conf is an empty file; this may have been synthesized by a container runtime."}},
	{lint: "etc-usretc", tree: baseSpec().with(dir("usr/etc")),
		want: []string{"Found /usr/etc - this is a bootc implementation detail and not supported to use in containers"}},
	{lint: "bootc-kargs", tree: baseSpec().with(file("usr/lib/bootc/kargs.d/10-ok.toml", "kargs = [\"quiet\"]\nmatch-architectures = [\"x86_64\"]\n"),
		file("usr/lib/bootc/kargs.d/20-bad.toml", "kargs = [\"a\"]\nfoo = 1\n"), file("usr/lib/bootc/kargs.d/README", "not toml")),
		want: []string{"Parsing usr/lib/bootc/kargs.d/20-bad.toml: unknown field `foo`, expected `kargs` or `match-architectures`"}},
	{lint: "kernel", tree: baseSpec().with(file("usr/lib/modules/6.1.0-2-amd64/vmlinuz", "k"), file("usr/lib/modules/6.1.0-2-amd64/initramfs.img", "i")),
		want: []string{"Found multiple subdirectories in usr/lib/modules: 6.1.0-1-amd64, 6.1.0-2-amd64"}},
	{lint: "utf8", tree: baseSpec().with(file("usr/share/bad\xffname", "")),
		want: []string{`/usr/share: Found non-utf8 filename "bad\xFFname"`}},
	{lint: "utf8", tree: baseSpec().with(link("usr/share/a link", "x\xfe")),
		want: []string{`'/usr/share/a link': Found non-utf8 symlink target`}},
	{lint: "api-base-directories", tree: baseSpec().without("tmp"),
		want: []string{"Missing API filesystem base directory: /tmp"}},
	{lint: "api-base-directories", tree: baseSpec().without("proc").with(link("proc", "dev")),
		want: []string{"Expected directory for API filesystem base directory: /proc"}},
	{lint: "baseimage-composefs", tree: baseSpec().with(file("usr/lib/ostree/prepare-root.conf", "[composefs]\nenabled = no\n")),
		want: []string{"ostree/prepare-root.conf does not have composefs enabled"}},
	{lint: "baseimage-composefs", tree: baseSpec().without("usr/lib/ostree"),
		want: []string{"ostree/prepare-root.conf is not present to enable composefs"}},
	{lint: "baseimage-root", tree: baseSpec().with(link("ostree", "/sysroot/ostree")),
		want: []string{`Expected /ostree -> sysroot/ostree, not "/sysroot/ostree"`}},
	{lint: "baseimage-root", tree: baseSpec().without("sysroot"),
		want: []string{"Missing /sysroot"}},
	{lint: "baseimage-root", tree: baseSpec().with(file(baseimageRef+"/sysroot/README", "x"), file(baseimageRef+"/usr/lib/ostree/prepare-root.conf", "[root]\ntransient = true\n")),
		want: []string{"Missing ostree -> sysroot/ostree link"}},
	{lint: "var-log", tree: baseSpec().with(file("var/log/apt/history.log", "x"), file("var/log/empty.log", "")), skip: []string{"var-tmpfiles"},
		want: []string{"Found non-empty logfiles:", "  /var/log/apt/history.log"}},
	{lint: "var-tmpfiles", tree: baseSpec().with(dir("var/lib/foo"), link("var/lib/l", "/var/run/x"), file("var/lib/f", "")),
		want: []string{"Found content in /var missing systemd tmpfiles.d entries:",
			"  L /var/lib/l - - - - /run/x", "  d /var/lib 0755 root root - -", "  d /var/lib/foo 0755 root root - -",
			"Found non-directory/non-symlink files in /var:", "  var/lib/f"}},
	{lint: "sysusers", tree: baseSpec().with(file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1::/:/bin/false\n"), file("etc/group", "root:x:0:\ndaemon:x:1:\n")),
		want: []string{"Found /etc/passwd entry without corresponding systemd sysusers.d:", "  daemon",
			"Found /etc/group entry without corresponding systemd sysusers.d:", "  daemon"}},
	{lint: "nonempty-boot", tree: baseSpec().with(file("boot/vmlinuz-6.1", "k"), dir("boot/EFI/Linux")),
		want: []string{"Found non-empty /boot:", "  vmlinuz-6.1"}},
	{lint: "nonempty-boot", tree: baseSpec().without("boot"),
		want: []string{"Missing /boot directory"}},
	{lint: "nonempty-run-tmp", tree: baseSpec().with(file("run/systemd/resolve/stub-resolv.conf", ""), file("run/systemd/x", ""), file("tmp/a b", "")),
		want: []string{"Found content in runtime-only directories (/run, /tmp):", "  /run/systemd", "  /run/systemd/x", "  '/tmp/a b'"}},
	{lint: "dpkg-db", tree: baseSpec().with(file("usr/share/dpkg/database/status", "Package: a\nStatus: install ok installed\n\nPackage: b\nArchitecture: amd64\nStatus: install ok half-configured\n")),
		want: []string{`Found packages in /usr/share/dpkg/database/status that are not "install ok installed":`, "  b:amd64: install ok half-configured"}},
	{lint: "dpkg-db", tree: baseSpec().without("usr/share/dpkg"),
		want: []string{"Missing dpkg database: none of /var/lib/dpkg/status, /usr/share/dpkg/database/status exists"}},
	{lint: "apt-cache", tree: baseSpec().with(file("var/cache/apt/pkgcache.bin", "x"), file("var/cache/apt/archives/lock", ""), dir("var/cache/apt/archives/partial"), file("var/lib/apt/lists/lock", "")), skip: []string{"var-tmpfiles"},
		want: []string{"Found apt caches or package lists (run apt-get clean and remove /var/lib/apt/lists/*):", "  /var/cache/apt/pkgcache.bin"}},
	{lint: "machine-id", tree: baseSpec().with(file("etc/machine-id", "0123456789abcdef0123456789abcdef\n")),
		want: []string{"/etc/machine-id is not empty; every system booted from this image would share its machine ID"}},
	{lint: "initramfs", tree: baseSpec().without("usr/lib/modules/6.1.0-1-amd64/initramfs.img"),
		want: []string{"Missing or empty initramfs for kernel:", "  /usr/lib/modules/6.1.0-1-amd64/initramfs.img"}},
	{lint: "kernel-vmlinuz", tree: baseSpec().with(file("usr/lib/modules/6.0.0-old/modules.dep", ""), file("boot/vmlinuz-6.0.0-old", "k")), skip: []string{"nonempty-boot"},
		want: []string{"Found directories in /usr/lib/modules without vmlinuz:", "  /usr/lib/modules/6.0.0-old (the kernel is only in /boot/vmlinuz-6.0.0-old)"}},
	{lint: "policy-rc-d", tree: baseSpec().with(file("usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n")),
		want: []string{"Found /usr/sbin/policy-rc.d; it stops services from starting when packages are installed or upgraded on the booted system"}},
	{lint: "composefs-support", tree: baseSpec().with(ostreeWithoutComposefs...).with(file("usr/etc/ostree/prepare-root.conf", "[composefs]\nenabled = verity\n")), skip: []string{"etc-usretc"},
		want: []string{"Found prepare-root.conf requiring composefs, but the image's ostree (/usr/lib/x86_64-linux-gnu/libostree-1.so.1.0.0) is built without composefs and refuses to deploy it; use enabled = maybe:",
			"  /usr/lib/ostree/prepare-root.conf: enabled = yes", "  /usr/etc/ostree/prepare-root.conf: enabled = verity"}},
	{lint: "nonstandard-devices", tree: baseSpec().with(chardev("usr/share/mem"), blockdev("usr/lib/disk0"), chardev("dev/null"), blockdev("dev/sda")),
		want: []string{"Found device nodes outside /dev:", "  /usr/lib/disk0 (block device)", "  /usr/share/mem (character device)"}},
	{lint: "dpkg-diversions", tree: baseSpec().with(file("usr/sbin/start-stop-daemon.REAL", "x"), link("sbin", "usr/sbin")),
		want: []string{"Found files diverted at build time and never restored:", "  /usr/sbin/start-stop-daemon.REAL"}},
}

func TestEachLintFailsAlone(t *testing.T) {
	covered := map[string]bool{}
	for i, tc := range lintCases {
		covered[tc.lint] = true
		t.Run(fmt.Sprintf("%s/%d", tc.lint, i), func(t *testing.T) {
			opts := Options{Skip: tc.skip, Running: tc.running}
			if tc.tree.hasDevices() && os.Geteuid() != 0 {
				t.Skip("making device nodes needs root")
			}
			dirRep := run(t, DirFS(buildDir(t, tc.tree)), opts)
			want := map[string][]string{tc.lint: tc.want}
			if diff := cmp.Diff(want, failed(dirRep)); diff != "" {
				t.Errorf("directory (-want +got):\n%s", diff)
			}
			ociRep := run(t, openImage(t, "oci:"+buildImage(t, tc.tree.resolved())), opts)
			if diff := cmp.Diff(dirRep, ociRep); diff != "" {
				t.Errorf("oci image differs from directory (-dir +oci):\n%s", diff)
			}
			// OSTree cannot store non-UTF-8 names or device nodes, so
			// those trees have no commit form.
			if tc.lint != "utf8" && !tc.tree.hasDevices() {
				commitRep := run(t, commitFS(t, buildDir(t, tc.tree)), opts)
				if diff := cmp.Diff(dirRep, commitRep); diff != "" {
					t.Errorf("ostree commit differs from directory (-dir +commit):\n%s", diff)
				}
			}
		})
	}
	for _, l := range registry {
		if !covered[l.Name] {
			t.Errorf("no failing case for lint %s", l.Name)
		}
	}
}

func TestRootTypes(t *testing.T) {
	tree := DirFS(buildDir(t, baseSpec().with(file("etc/hostname", ""))))
	rep := run(t, tree, Options{Running: true})
	if f := failed(rep); len(f) != 0 {
		t.Errorf("running root: buildah-injected must be skipped, got failures %v", f)
	}
	_, skipped, _, _ := rep.Counts()
	if skipped != 1 {
		t.Errorf("running root skipped = %d, want 1", skipped)
	}
	rep = run(t, tree, Options{})
	if _, ok := failed(rep)["buildah-injected"]; !ok {
		t.Error("alternative root: buildah-injected did not run")
	}
}

func TestTextOutputAndExit(t *testing.T) {
	// var/run is a directory (fatal); /boot has content (warning).
	tree := DirFS(buildDir(t, baseSpec().without("var/run").with(dir("var/run"), file("boot/a", ""))))
	cases := []struct {
		opts     Options
		text     string
		failures int
	}{
		{Options{}, "Lint warning: nonempty-boot: Found non-empty /boot:\n  a\n\nFailed lint: var-run: Not a symlink: var/run\nChecks passed: 21\nWarnings: 1\n", 1},
		{Options{FatalWarnings: true}, "Lint warning: nonempty-boot: Found non-empty /boot:\n  a\n\nFailed lint: var-run: Not a symlink: var/run\nChecks passed: 21\nWarnings: 1\n", 2},
		{Options{Skip: []string{"var-run"}}, "Lint warning: nonempty-boot: Found non-empty /boot:\n  a\n\nChecks passed: 21\nChecks skipped: 1\nWarnings: 1\n", 0},
		{Options{Skip: []string{"var-run"}, FatalWarnings: true}, "Lint warning: nonempty-boot: Found non-empty /boot:\n  a\n\nChecks passed: 21\nChecks skipped: 1\nWarnings: 1\n", 1},
		{Options{Skip: []string{"var-run", "nonempty-boot"}, Running: true}, "Checks passed: 20\nChecks skipped: 3\n", 0},
	}
	for i, tc := range cases {
		rep := run(t, tree, tc.opts)
		var b bytes.Buffer
		if err := rep.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.text, b.String()); diff != "" {
			t.Errorf("case %d text (-want +got):\n%s", i, diff)
		}
		if rep.Failures() != tc.failures {
			t.Errorf("case %d failures = %d, want %d", i, rep.Failures(), tc.failures)
		}
		if err := rep.Err(); (err != nil) != (tc.failures > 0) || err != nil && err.Error() != fmt.Sprintf("Linting: Checks failed: %d", tc.failures) {
			t.Errorf("case %d Err = %v", i, err)
		}
	}
	if _, err := Run(context.Background(), tree, Options{Skip: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "var-tmpfiles") {
		t.Errorf("unknown skip: err = %v, want one naming the valid lints", err)
	}
}

func TestTruncation(t *testing.T) {
	for _, n := range []int{0, 1, 5, 6, 7} {
		var names, want []string
		for i := range n {
			names = append(names, fmt.Sprintf("f%d", i))
		}
		s := baseSpec()
		for _, nm := range names {
			s = s.with(file("boot/"+nm, ""))
		}
		fsys := DirFS(buildDir(t, s))
		for _, noTrunc := range []bool{false, true} {
			msg := failed(run(t, fsys, Options{NoTruncate: noTrunc}))["nonempty-boot"]
			want = nil
			if n > 0 {
				want = []string{"Found non-empty /boot:"}
				shown := names
				if !noTrunc && n > 5 {
					shown = names[:5]
				}
				for _, nm := range shown {
					want = append(want, "  "+nm)
				}
				if len(shown) < n {
					want = append(want, fmt.Sprintf("  ...and %d more", n-5))
				}
			}
			if diff := cmp.Diff(want, msg); diff != "" {
				t.Errorf("n=%d noTruncate=%v (-want +got):\n%s", n, noTrunc, diff)
			}
		}
	}
}

func TestWhiteouts(t *testing.T) {
	base := baseSpec().resolved()
	junk := []node{file("boot/junk", "x"), file("run/a/b", "x"), dir("run/c"), file("var/log/x.log", "log"), file("etc/hostname", ""), dir("usr/etc")}
	lower := append(slices.Clone(base), junk...)
	upper := []node{
		{path: "boot/junk", kind: 'w'},
		{path: "run", kind: 'o'}, dir("run"),
		{path: "var/log", kind: 'w'},
		{path: "etc/hostname", kind: 'w'},
		{path: "usr/etc", kind: 'w'},
		// Present in the same layer as a whiteout of its directory: must survive.
		{path: "tmp", kind: 'o'}, dir("tmp/keep"),
	}
	img := openImage(t, "oci:"+buildImage(t, lower, upper))
	rep := run(t, img, Options{})
	want := map[string][]string{"nonempty-run-tmp": {"Found content in runtime-only directories (/run, /tmp):", "  /tmp/keep"}}
	if diff := cmp.Diff(want, failed(rep)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	dirRep := run(t, DirFS(buildDir(t, baseSpec().with(dir("tmp/keep")))), Options{})
	if diff := cmp.Diff(dirRep, rep); diff != "" {
		t.Errorf("image differs from directory (-dir +oci):\n%s", diff)
	}
}

func TestOCIArchiveAndTools(t *testing.T) {
	s := baseSpec().with(file("boot/x", ""))
	layoutDir := buildImage(t, s.resolved())
	want := run(t, DirFS(buildDir(t, s)), Options{})
	got := run(t, openImage(t, "oci-archive:"+archiveLayout(t, layoutDir)+":latest"), Options{})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("oci-archive differs from directory (-dir +archive):\n%s", diff)
	}
	if _, err := OpenImage(context.Background(), "oci:"+layoutDir+":nope"); err == nil || !strings.Contains(err.Error(), "latest") {
		t.Errorf("missing tag: err = %v, want one listing the tags", err)
	}
	// The layout must be one the standard tools accept.
	for _, tool := range [][]string{{"skopeo", "inspect", "oci:" + layoutDir + ":latest"}, {"umoci", "unpack", "--rootless", "--image", layoutDir + ":latest", t.TempDir() + "/bundle"}} {
		if _, err := exec.LookPath(tool[0]); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is required in CI", tool[0])
			}
			t.Logf("skipping %s: not installed", tool[0])
			continue
		}
		if out, err := exec.Command(tool[0], tool[1:]...).CombinedOutput(); err != nil {
			t.Errorf("%v: %v\n%s", tool, err, out)
		}
	}
}

func TestList(t *testing.T) {
	var b bytes.Buffer
	if err := WriteList(&b, false); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"- name: var-run\n  type: fatal\n  description: Check for /var/run being a physical directory; this is always a bug.\n",
		"- name: buildah-injected\n  type: warning\n", "  root-type: Alternative\n", "- name: dpkg-db\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("--list output lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "- name: ") != len(registry) {
		t.Errorf("--list has %d lints, want %d", strings.Count(out, "- name: "), len(registry))
	}
}

// ostreeTree is Debian's ostree in a tree: the library needing libs, the
// command carrying the feature list.
func ostreeTree(libs []string, features string) spec {
	return spec{
		file("usr/lib/x86_64-linux-gnu/libostree-1.so.1.0.0", string(testelf.SharedObject(append([]string{"libglib-2.0.so.0"}, libs...), nil))),
		link("usr/lib/x86_64-linux-gnu/libostree-1.so.1", "libostree-1.so.1.0.0"),
		file("usr/bin/ostree", string(testelf.SharedObject([]string{"libostree-1.so.1"}, []string{features}))),
	}
}

// trixie's ostree 2025.2
var ostreeWithoutComposefs = ostreeTree(nil, "inode64 initial-var libcurl libsoup3 gpgme ex-fsverity libarchive selinux avahi libmount systemd release p2p")

func TestComposefsSupportPasses(t *testing.T) {
	linked := ostreeTree([]string{"libcomposefs.so.1"}, "inode64 initial-var composefs")
	for name, tree := range map[string]spec{
		"no ostree":                  baseSpec(),
		"maybe with trixie's ostree": baseSpec().with(ostreeWithoutComposefs...).with(file("usr/lib/ostree/prepare-root.conf", "[composefs]\nenabled = maybe\n")),
		"no with trixie's ostree":    baseSpec().with(ostreeWithoutComposefs...).with(file("usr/lib/ostree/prepare-root.conf", "[composefs]\nenabled = no\n")),
		"yes with composefs":         baseSpec().with(linked...),
	} {
		t.Run(name, func(t *testing.T) {
			rep := run(t, commitFS(t, buildDir(t, tree)), Options{Skip: []string{"baseimage-composefs"}})
			if f := failed(rep); len(f) != 0 {
				t.Errorf("failures: %v", f)
			}
		})
	}
}
