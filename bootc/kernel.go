package bootc

import (
	"context"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
)

const modulesDir = "usr/lib/modules"

// bootFiles maps Debian's /boot/<prefix>$kver files to their name in
// usr/lib/modules/$kver, the Fedora/bootc layout.
var bootFiles = []struct{ prefix, dest string }{
	{"vmlinuz-", "vmlinuz"},
	{"initrd.img-", "initramfs.img"},
	{"config-", "config"},
	{"System.map-", "System.map"},
}

// processKernelAndInitramfs moves a kernel and initramfs still in /boot
// (Debian's linux-image and initramfs-tools layout) to
// usr/lib/modules/$kver/{vmlinuz,initramfs.img}, deletes the top-level
// /vmlinuz* and /initrd.img* links and empties /boot, which is only a mount
// point in an ostree deployment. Unless opts.Container, exactly one kernel
// must result, every module directory must hold it, and (unless
// opts.NoInitramfs) an initramfs must sit beside it.
func processKernelAndInitramfs(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	log := opts.log()
	top, err := r.readDirNames(".")
	if err != nil {
		return err
	}
	for _, n := range top {
		if strings.HasPrefix(n, "vmlinuz") || strings.HasPrefix(n, "initrd.img") {
			if err := r.removeAll(n); err != nil {
				return err
			}
		}
	}
	if isDir, err := r.isDir("boot"); err != nil {
		return err
	} else if isDir {
		if err := moveBootKernels(r, opts); err != nil {
			return err
		}
		rest, err := r.readDirNames("boot")
		if err != nil {
			return err
		}
		if len(rest) > 0 {
			log.Info("emptying /boot: it is a mount point in an ostree deployment", "removed", rest)
		}
	}
	if err := r.emptyDir("boot", 0o755); err != nil {
		return err
	}
	return checkKernel(r, opts)
}

// moveBootKernels moves boot/{vmlinuz,initrd.img,config,System.map}-$kver
// regular files into usr/lib/modules/$kver, keeping a file already there.
func moveBootKernels(r rootfs, opts Options) error {
	names, err := r.readDirNames("boot")
	if err != nil {
		return err
	}
	var kvers []string
	for _, n := range names {
		if kver, ok := strings.CutPrefix(n, "vmlinuz-"); ok && kver != "" {
			if fi, err := r.lstat("boot/" + n); err != nil {
				return err
			} else if fi.Mode().IsRegular() {
				kvers = append(kvers, kver)
			}
		}
	}
	if len(kvers) > 1 {
		return fmt.Errorf("several kernels in /boot (%s): an ostree commit holds exactly one; install only one linux-image package", strings.Join(kvers, ", "))
	}
	for _, n := range names {
		for _, bf := range bootFiles {
			kver, ok := strings.CutPrefix(n, bf.prefix)
			if !ok || kver == "" {
				continue
			}
			src := "boot/" + n
			fi, err := r.lstat(src)
			if err != nil {
				return err
			}
			if !fi.Mode().IsRegular() {
				continue
			}
			moddir := path.Join(modulesDir, kver)
			if bf.dest != "vmlinuz" && (len(kvers) == 0 || kver != kvers[0]) {
				if ok, err := r.isDir(moddir); err != nil {
					return err
				} else if !ok {
					opts.log().Warn("dropping /boot file of a kernel that is not installed", "path", "/"+src)
					continue
				}
			}
			if _, err := r.mkdirAll(moddir, 0o755); err != nil {
				return err
			}
			dest := path.Join(moddir, bf.dest)
			if have, err := r.lstat(dest); err != nil {
				return err
			} else if have != nil {
				continue
			}
			sp, err := r.path(src)
			if err != nil {
				return err
			}
			dp, err := r.path(dest)
			if err != nil {
				return err
			}
			if err := os.Rename(sp, dp); err != nil {
				return fmt.Errorf("move /%s to /%s: %w", src, dest, err)
			}
		}
	}
	return nil
}

// checkKernel enforces the one-kernel layout bootc's kernel lint and
// ostree's deployment code expect.
func checkKernel(r rootfs, opts Options) error {
	kvers, bare, err := kernelDirs(r)
	if err != nil {
		return err
	}
	if len(kvers) > 1 {
		return fmt.Errorf("several kernels in /%s (%s): bootc allows one; install only one linux-image package", modulesDir, strings.Join(kvers, ", "))
	}
	if opts.Container {
		return nil
	}
	if len(kvers) == 0 {
		return fmt.Errorf("no kernel: no /%s/$kver/vmlinuz and no /boot/vmlinuz-$kver; install a linux-image package or set container: true", modulesDir)
	}
	if len(bare) > 0 {
		return fmt.Errorf("/%s/{%s} hold modules but no vmlinuz (kernel is %s): remove the packages that ship modules for another kernel version", modulesDir, strings.Join(bare, ","), kvers[0])
	}
	if opts.NoInitramfs {
		return nil
	}
	initramfs := path.Join(modulesDir, kvers[0], "initramfs.img")
	fi, err := r.lstat(initramfs)
	if err != nil {
		return err
	}
	if fi == nil || !fi.Mode().IsRegular() {
		return fmt.Errorf("no initramfs at /%s (nor /boot/initrd.img-%s): build it before post-processing, or set no-initramfs: true", initramfs, kvers[0])
	}
	// rpm-ostree makes the initramfs world-readable; update-initramfs
	// may have written it 0600.
	p, err := r.path(initramfs)
	if err != nil {
		return err
	}
	if err := os.Chmod(p, 0o644); err != nil {
		return fmt.Errorf("chmod /%s: %w", initramfs, err)
	}
	return nil
}

// kernelDirs returns the usr/lib/modules subdirectories that hold a vmlinuz
// (followed inside the root, as bootc does) and those that do not, sorted.
func kernelDirs(r rootfs) (kernels, bare []string, err error) {
	if ok, err := r.isDir(modulesDir); err != nil || !ok {
		return nil, nil, err
	}
	names, err := r.readDirNames(modulesDir)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range names {
		d := path.Join(modulesDir, n)
		if ok, err := r.isDir(d); err != nil {
			return nil, nil, err
		} else if !ok {
			continue
		}
		p, err := r.resolve(path.Join(d, "vmlinuz"))
		if err != nil {
			return nil, nil, err
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			kernels = append(kernels, n)
		} else if err != nil && !os.IsNotExist(err) {
			return nil, nil, fmt.Errorf("stat /%s/vmlinuz: %w", d, err)
		} else {
			bare = append(bare, n)
		}
	}
	sort.Strings(kernels)
	sort.Strings(bare)
	return kernels, bare, nil
}

// KernelVersion returns the single $kver with a usr/lib/modules/$kver/vmlinuz
// in root: the value of the ostree.linux commit metadata. It returns
// ErrNoKernel when there is none and an error when there are several.
func KernelVersion(root string) (string, error) {
	kvers, _, err := kernelDirs(rootfs(root))
	if err != nil {
		return "", err
	}
	switch len(kvers) {
	case 0:
		return "", fmt.Errorf("%s: %w", root, ErrNoKernel)
	case 1:
		return kvers[0], nil
	}
	return "", fmt.Errorf("%s: several kernels in /%s (%s)", root, modulesDir, strings.Join(kvers, ", "))
}

// ImageLabels returns the OCI labels that mark a bootable bootc image with
// kernel kver (from KernelVersion); an empty kver (a container: true tree)
// gives no labels, since the tree is not bootable.
func ImageLabels(kver string) map[string]string {
	if kver == "" {
		return map[string]string{}
	}
	return map[string]string{
		"containers.bootc": "1",
		"ostree.bootable":  "true",
		"ostree.linux":     kver,
	}
}
