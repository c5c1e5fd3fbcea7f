package lint

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/apt-ostree/apt-ostree/bootc"
	"github.com/apt-ostree/apt-ostree/deb"
)

// debianLints are apt-ostree's own checks for what Debian-built bootc images get wrong.
var debianLints = []lintDef{
	{Info{Name: "dpkg-db", Type: Warning,
		Description: "Check that the dpkg database (/var/lib/dpkg/status, or /usr/share/dpkg/database/status\nwhere OSTree images keep it) is readable, that every package in it is\n\"install ok installed\", and that no interrupted dpkg run left journal entries behind.\n"}, checkDpkgDB},
	{Info{Name: "apt-cache", Type: Warning,
		Description: "Check that /var/cache/apt and /var/lib/apt/lists are empty (besides lock files and\npartial directories). Downloaded packages and indexes bloat the image, go stale and\nare only applied at initial provisioning since they live in /var.\n"}, checkAptCache},
	{Info{Name: "machine-id", Type: Warning,
		Description: "Check that /etc/machine-id (and /usr/etc/machine-id, /var/lib/dbus/machine-id) has no\ncontent. A machine ID baked into the image would be shared by every system booted from it;\nan empty file makes systemd generate one on first boot.\n"}, checkMachineID},
	{Info{Name: "initramfs", Type: Fatal,
		Description: "Check that every kernel /usr/lib/modules/$kver/vmlinuz has an initramfs beside it,\n/usr/lib/modules/$kver/initramfs.img. ostree and bootc boot the kernel with that\ninitramfs; without it the deployment cannot boot.\n"}, checkInitramfs},
	{Info{Name: "kernel-vmlinuz", Type: Warning,
		Description: "Check for /usr/lib/modules/$kver directories without a vmlinuz. Debian kernel packages\ninstall the kernel as /boot/vmlinuz-$kver; unless it is also copied to\n/usr/lib/modules/$kver/vmlinuz the image has no bootable kernel (the kernel lint\ndoes not notice).\n"}, checkKernelVmlinuz},
	{Info{Name: "policy-rc-d", Type: Warning,
		Description: "Check for a leftover /usr/sbin/policy-rc.d. Build tools install one to stop\nmaintainer scripts from starting services; left in the image it keeps\ninvoke-rc.d from starting services when packages are upgraded on the booted system.\n"}, checkPolicyRcD},
	{Info{Name: "composefs-support", Type: Fatal,
		Description: "Check that an ostree/prepare-root.conf requiring composefs ([composefs] enabled =\nyes, true, 1, verity or signed) is not paired with an ostree in the image built without\ncomposefs (Debian trixie's): that ostree refuses to deploy the image (\"composefs: enabled\nat runtime, but support is not compiled in\"). Use enabled = maybe. bootc's\nbaseimage-composefs lint accepts both.\n"}, checkComposefsSupport},
	{Info{Name: "dpkg-diversions", Type: Warning,
		Description: "Check for build-time diversions left behind (start-stop-daemon.REAL, initctl.REAL):\nbootstrap tools divert these to no-op stubs while packages are configured, and a\nleftover stub silently stops daemons from starting.\n"}, checkBuildDiversions},
	devicesLint,
}

// prepareRootConfs are the prepare-root.conf files ostree reads, /usr/lib's
// first (at deploy, in the initramfs): in a composed tree /etc is /usr/etc.
var prepareRootConfs = []string{"usr/lib/ostree/prepare-root.conf", "etc/ostree/prepare-root.conf", "usr/etc/ostree/prepare-root.conf"}

// checkComposefsSupport fails when a prepare-root.conf requires composefs
// and the image's ostree lacks it. An image without ostree passes: nothing
// in it contradicts the setting (the kernel and initramfs lints judge
// whether it can boot at all).
func checkComposefsSupport(t *tree, _ *config) ([]string, error) {
	var requiring []string
	for _, p := range prepareRootConfs {
		data, ok, err := t.readFile(p)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		kf, err := parseKeyFile(data)
		if err != nil {
			return fail("Parsing /%s: %v", p, err)
		}
		enabled, _, err := kf.str("composefs", "enabled")
		if err != nil {
			return fail("Parsing /%s: %v", p, err)
		}
		enabled = strings.TrimSpace(enabled)
		if enabled == "verity" || enabled == "signed" || slices.Contains([]string{"yes", "true", "1"}, strings.ToLower(enabled)) {
			requiring = append(requiring, fmt.Sprintf("/%s: enabled = %s", p, enabled))
		}
	}
	if len(requiring) == 0 {
		return nil, nil
	}
	support, err := bootc.DetectOstreeComposefs(lintFS{t})
	if err != nil {
		return fail("Cannot tell whether the image's ostree has composefs: %v", err)
	}
	if !support.Present() || support.Supported {
		return nil, nil
	}
	return append([]string{fmt.Sprintf("Found prepare-root.conf requiring composefs, but the image's ostree (%s) is built without composefs and refuses to deploy it; use enabled = maybe:", support.Path)},
		indent(requiring)...), nil
}

func indent(items []string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = "  " + it
	}
	return out
}

// lintFS is the tree's file system with the context checked on every open.
type lintFS struct{ t *tree }

func (f lintFS) Open(name string) (fs.File, error) {
	if err := f.t.ctx.Err(); err != nil {
		return nil, err
	}
	return f.t.fsys.Open(name)
}
func (f lintFS) Lstat(name string) (fs.FileInfo, error) { return f.t.rawLstat(name) }
func (f lintFS) ReadLink(name string) (string, error)   { return f.t.rawReadLink(name) }

// dpkgStatusFiles are the status files of the places package deb looks
// for the dpkg database (the image reader keeps them in memory).
var dpkgStatusFiles = func() []string {
	var files []string
	for _, d := range deb.AdminDirs {
		files = append(files, d+"/status")
	}
	return files
}()

func checkDpkgDB(t *tree, cfg *config) ([]string, error) {
	db, err := deb.OpenDatabaseFS(lintFS{t})
	if errors.Is(err, deb.ErrNoDatabase) {
		// Only a tree that has dpkg is expected to have its database.
		for _, bin := range []string{"usr/bin/dpkg", "bin/dpkg"} {
			if _, ok, err := t.lstat(bin); err != nil || ok {
				if err != nil {
					return nil, err
				}
				return fail("Missing dpkg database: none of /%s exists", strings.Join(dpkgStatusFiles, ", /"))
			}
		}
		return nil, nil
	}
	if err != nil {
		return fail("Reading the dpkg database: %v", err)
	}
	var bad []string
	for _, p := range db.Packages() {
		if p.Want != "install" || p.Flag != "ok" || p.State != "installed" {
			name := p.Name
			if p.Arch != "" && p.Arch != "all" {
				name += ":" + p.Arch
			}
			bad = append(bad, name+": "+p.Control.Get("Status"))
		}
	}
	sort.Strings(bad)
	msg := cfg.items(fmt.Sprintf("Found packages in /%s/status that are not \"install ok installed\"", db.Dir()), bad)
	pending, err := db.PendingJournal()
	if err != nil {
		return nil, err
	}
	var journal []string
	for _, j := range pending {
		journal = append(journal, quotePath("/"+db.Dir()+"/updates/"+j))
	}
	return append(msg, cfg.items(fmt.Sprintf("Found pending dpkg journal entries (an interrupted dpkg run) in /%s/updates", db.Dir()), journal)...), nil
}

func checkAptCache(t *tree, cfg *config) ([]string, error) {
	var found []string
	for _, dir := range []string{"var/cache/apt", "var/lib/apt/lists"} {
		ok, err := t.isDir(dir)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		err = t.walk(dir, func(p string, d fs.DirEntry) error {
			if d.IsDir() || d.Name() == "lock" {
				return nil
			}
			found = append(found, "/"+p)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return cfg.items("Found apt caches or package lists (run apt-get clean and remove /var/lib/apt/lists/*)", quoteAll(found)), nil
}

func checkMachineID(t *tree, _ *config) ([]string, error) {
	var msg []string
	for _, f := range []string{"etc/machine-id", "usr/etc/machine-id", "var/lib/dbus/machine-id"} {
		fi, ok, err := t.lstat(f)
		if err != nil {
			return nil, err
		}
		if !ok || !fi.Mode().IsRegular() || fi.Size() == 0 {
			continue
		}
		data, _, err := t.readFile(f)
		if err != nil {
			return nil, err
		}
		// "uninitialized" is systemd's own first-boot marker.
		if s := strings.TrimSpace(string(data)); s != "" && s != "uninitialized" {
			msg = append(msg, fmt.Sprintf("/%s is not empty; every system booted from this image would share its machine ID", f))
		}
	}
	return msg, nil
}

func checkInitramfs(t *tree, cfg *config) ([]string, error) {
	kernels, _, err := kernelDirs(t)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, k := range kernels {
		p := "usr/lib/modules/" + k + "/initramfs.img"
		fi, ok, err := t.stat(p)
		if err != nil {
			return nil, err
		}
		if !ok || !fi.Mode().IsRegular() || fi.Size() == 0 {
			missing = append(missing, quotePath("/"+p))
		}
	}
	return cfg.items("Missing or empty initramfs for kernel", missing), nil
}

func checkKernelVmlinuz(t *tree, cfg *config) ([]string, error) {
	_, without, err := kernelDirs(t)
	if err != nil {
		return nil, err
	}
	var items []string
	for _, k := range without {
		item := quotePath("/usr/lib/modules/" + k)
		if _, ok, err := t.stat("boot/vmlinuz-" + k); err != nil {
			return nil, err
		} else if ok {
			item += " (the kernel is only in /boot/vmlinuz-" + k + ")"
		}
		items = append(items, item)
	}
	return cfg.items("Found directories in /usr/lib/modules without vmlinuz", items), nil
}

func checkPolicyRcD(t *tree, _ *config) ([]string, error) {
	for _, f := range []string{"usr/sbin/policy-rc.d", "sbin/policy-rc.d"} {
		_, ok, err := t.lstat(f)
		if err != nil {
			return nil, err
		}
		if ok {
			return fail("Found /%s; it stops services from starting when packages are installed or upgraded on the booted system", f)
		}
	}
	return nil, nil
}

func checkBuildDiversions(t *tree, cfg *config) ([]string, error) {
	var found []string
	seen := map[string]bool{}
	for _, f := range []string{"usr/sbin/start-stop-daemon.REAL", "sbin/start-stop-daemon.REAL", "usr/sbin/initctl.REAL", "sbin/initctl.REAL"} {
		_, ok, err := t.lstat(f)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		// /sbin is usually a symlink to usr/sbin: report each file once.
		real, err := t.resolve(f, false)
		if err != nil {
			return nil, err
		}
		if !seen[real] {
			seen[real] = true
			found = append(found, "/"+f)
		}
	}
	return cfg.items("Found files diverted at build time and never restored", found), nil
}
