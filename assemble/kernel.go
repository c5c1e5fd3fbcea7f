package assemble

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apt-ostree/apt-ostree/internal/rootpath"
)

// ErrMultipleKernels is returned when the root holds more than one kernel:
// an OSTree/bootc image boots exactly one.
var ErrMultipleKernels = errors.New("more than one kernel installed")

// Kernel is the kernel of an image as bootc and ostree expect it.
type Kernel struct {
	Version   string // e.g. "6.12.57+deb13-amd64"
	Vmlinuz   string // root-relative: "usr/lib/modules/<ver>/vmlinuz"
	Initramfs string // root-relative "usr/lib/modules/<ver>/initramfs.img"; "" with NoInitramfs
	Generator string // "dracut", "initramfs-tools" or ""
}

// Initramfs finds the root's one kernel, puts vmlinuz in
// usr/lib/modules/<ver>/ (a hard link to boot/vmlinuz-<ver>, which dpkg
// owns) and builds usr/lib/modules/<ver>/initramfs.img (0644) with the
// root's own dracut (given Options.InitramfsArgs, default --no-hostonly)
// or initramfs-tools, whichever the packages brought. This is the single
// build that Configure's INITRD=No deferred (spec §3.4). A root without a
// kernel (a container base image) gives nil, nil.
func Initramfs(ctx context.Context, root string, opts Options) (_ *Kernel, err error) {
	sb, err := OpenSandbox(ctx, root, opts)
	if err != nil {
		return nil, err
	}
	defer closeSandbox(sb, &err)
	var k *Kernel
	err = opts.phase("initramfs", func() (err error) {
		k, err = initramfs(ctx, sb, opts)
		return err
	})
	return k, err
}

// kernelVersions lists versions with boot/vmlinuz-<ver> or
// usr/lib/modules/<ver>/vmlinuz.
func kernelVersions(root string) ([]string, error) {
	seen := map[string]bool{}
	boot, err := rootpath.ResolveFollow(root, "boot")
	if err != nil {
		return nil, err
	}
	matches, _ := filepath.Glob(filepath.Join(boot, "vmlinuz-*"))
	for _, m := range matches {
		v := strings.TrimPrefix(filepath.Base(m), "vmlinuz-")
		if !strings.Contains(v, ".dpkg-") {
			seen[v] = true
		}
	}
	mods, err := rootpath.ResolveFollow(root, "usr/lib/modules")
	if err != nil {
		return nil, err
	}
	matches, _ = filepath.Glob(filepath.Join(mods, "*", "vmlinuz"))
	for _, m := range matches {
		seen[filepath.Base(filepath.Dir(m))] = true
	}
	var out []string
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out, nil
}

func initramfs(ctx context.Context, sb *Sandbox, opts Options) (*Kernel, error) {
	versions, err := kernelVersions(sb.root)
	if err != nil {
		return nil, err
	}
	switch len(versions) {
	case 0:
		opts.logger().Debug("assemble: no kernel installed, no initramfs", "root", sb.root)
		return nil, nil
	case 1:
	default:
		return nil, fmt.Errorf("%s: %w (%s); keep one linux-image package", sb.root, ErrMultipleKernels, strings.Join(versions, ", "))
	}
	ver := versions[0]
	modDir := "usr/lib/modules/" + ver
	k := &Kernel{Version: ver, Vmlinuz: modDir + "/vmlinuz"}
	hostMod, err := rootpath.ResolveFollow(sb.root, modDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(hostMod, 0o755); err != nil {
		return nil, err
	}
	vmlinuz := filepath.Join(hostMod, "vmlinuz")
	if _, err := os.Lstat(vmlinuz); errors.Is(err, fs.ErrNotExist) {
		src, err := rootpath.ResolveFollow(sb.root, "boot/vmlinuz-"+ver)
		if err != nil {
			return nil, err
		}
		if err := linkOrCopy(src, vmlinuz); err != nil {
			return nil, fmt.Errorf("place kernel %s: %w", ver, err)
		}
	}
	if opts.NoInitramfs {
		return k, nil
	}
	out := modDir + "/initramfs.img"
	hostOut := filepath.Join(hostMod, "initramfs.img")
	switch {
	case existsIn(sb.root, "usr/bin/dracut") || existsIn(sb.root, "usr/sbin/dracut"):
		k.Generator = "dracut"
		args := opts.InitramfsArgs
		if args == nil {
			args = []string{"--no-hostonly"}
		}
		cmd := []string{"dracut", "--force", "--reproducible"}
		if m, _ := filepath.Glob(filepath.Join(sb.root, "usr/lib/dracut/modules.d/*ostree*")); len(m) > 0 {
			cmd = append(cmd, "--add", "ostree")
		}
		target := out
		ownCompression := !dracutChoosesCompression(sb.root, args)
		if ownCompression {
			target = modDir + "/.initramfs.img.raw"
			cmd = append(cmd, "--no-compress")
		}
		cmd = append(append(cmd, args...), "--kver", ver, "/"+target)
		opts.logger().Info("assemble: building initramfs", "kernel", ver, "with", "dracut")
		if _, err := sb.Run(ctx, Cmd{Args: cmd}); err != nil {
			return nil, fmt.Errorf("build initramfs for kernel %s: %w", ver, err)
		}
		if ownCompression {
			raw := filepath.Join(hostMod, ".initramfs.img.raw")
			err := compressInitramfs(raw, hostOut)
			os.Remove(raw)
			if err != nil {
				return nil, err
			}
		}
	case existsIn(sb.root, "usr/sbin/update-initramfs"):
		k.Generator = "initramfs-tools"
		built, err := rootpath.ResolveFollow(sb.root, "boot/initrd.img-"+ver)
		if err != nil {
			return nil, err
		}
		// -c refuses to overwrite; any image a package made is replaced.
		if err := os.Remove(built); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		opts.logger().Info("assemble: building initramfs", "kernel", ver, "with", "initramfs-tools")
		if _, err := sb.Run(ctx, Cmd{Args: []string{"update-initramfs", "-c", "-k", ver}}); err != nil {
			return nil, fmt.Errorf("build initramfs for kernel %s: %w", ver, err)
		}
		if err := os.Rename(built, hostOut); err != nil {
			return nil, fmt.Errorf("move initramfs of kernel %s into %s: %w", ver, modDir, err)
		}
	default:
		return nil, fmt.Errorf("kernel %s is installed but the root has neither dracut nor initramfs-tools: add one of them to the packages, or set no-initramfs", ver)
	}
	if err := os.Chmod(hostOut, 0o644); err != nil {
		return nil, fmt.Errorf("initramfs of kernel %s: %w", ver, err)
	}
	k.Initramfs = out
	return k, nil
}

func existsIn(root, rel string) bool {
	p, err := rootpath.ResolveFollow(root, rel)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// linkOrCopy hard-links src to dst, copying (mode kept) across filesystems.
func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	return copyFile(src, dst)
}

// copyFile copies a regular file through a temporary name in dst's
// directory, keeping the mode.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".apt-ostree-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, in); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(fi.Mode().Perm() | fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
