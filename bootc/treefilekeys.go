package bootc

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// This file holds the steps for the treefile keys tmp-is-dir,
// opt-usrlocal, etc-group-members and readonly-executables.

// tmpLink is where /tmp points with tmp-is-dir: false (rpm-ostree's
// compose_init_rootfs): the physical root's /tmp.
const tmpLink = "sysroot/tmp"

// postprocessTmpIsDir makes /tmp the symlink sysroot/tmp when opts.TmpSymlink
// (tmp-is-dir: false) asks for it; initRootfs has left an empty 01777
// directory there. bootc's api-base-directories lint refuses such a tree:
// it suits plain ostree systems only.
func postprocessTmpIsDir(ctx context.Context, root string, opts Options) error {
	if !opts.TmpSymlink {
		return nil
	}
	r := rootfs(root)
	if names, err := r.readDirNames("tmp"); err != nil {
		return err
	} else if len(names) > 0 {
		return fmt.Errorf("/tmp is not empty (%s); it must become the symlink %s", strings.Join(names, ", "), tmpLink)
	}
	return r.symlink(tmpLink, "tmp")
}

// usrlocalRootPaths are the varLinks that opt-usrlocal: root keeps as
// directories of the image.
var usrlocalRootPaths = []string{"opt", "usr/local"}

// varLinksFor returns the top-level paths prepareRootfsLinks turns into
// symlinks: with opts.OptUsrlocalRoot, /opt and /usr/local stay.
func varLinksFor(opts Options) []varLink {
	if !opts.OptUsrlocalRoot {
		return varLinks
	}
	var out []varLink
	for _, l := range varLinks {
		if !slices.Contains(usrlocalRootPaths, l.path) {
			out = append(out, l)
		}
	}
	return out
}

// integrationLinesFor returns integrationLines without the /var/opt and
// /var/usrlocal directories when /opt and /usr/local are not links there.
func integrationLinesFor(opts Options) []string {
	if !opts.OptUsrlocalRoot {
		return integrationLines
	}
	var out []string
	for _, l := range integrationLines {
		if f := strings.Fields(l); len(f) > 1 && (f[1] == "/var/opt" || under(f[1], "/var/usrlocal")) {
			continue
		}
		out = append(out, l)
	}
	return out
}

// makeUsrlocalRootDirs makes /opt and /usr/local real directories (0755
// when created) for opt-usrlocal: root; content packages put there stays
// in the image, read-only at runtime like /usr.
func makeUsrlocalRootDirs(r rootfs, opts Options) error {
	if !opts.OptUsrlocalRoot {
		return nil
	}
	for _, p := range usrlocalRootPaths {
		fi, err := r.lstat(p)
		if err != nil {
			return err
		}
		if fi != nil && fi.IsDir() {
			continue
		}
		if fi != nil {
			opts.log().Warn("replacing with a directory (opt-usrlocal: root)", "path", "/"+p, "type", fi.Mode().Type().String())
		}
		if err := r.emptyDir(p, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// checkEtcGroupMembers honours etc-group-members. rpm-ostree moves the
// groups humans cannot join to /usr/lib/group and keeps the listed ones
// in /etc/group; Debian has no nss-altfiles, so every group stays in
// /etc/group, and what is left to guarantee is that each listed group
// exists in the tree.
func checkEtcGroupMembers(ctx context.Context, root string, opts Options) error {
	if len(opts.EtcGroupMembers) == 0 {
		return nil
	}
	r := rootfs(root)
	etc, err := etcDir(r)
	if err != nil {
		return err
	}
	data, _, err := r.readFile(path.Join(etc, "group"))
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if name, _, ok := strings.Cut(line, ":"); ok {
			have[name] = true
		}
	}
	var missing []string
	for _, g := range opts.EtcGroupMembers {
		if !have[g] {
			missing = append(missing, g)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("etc-group-members: %s not in the tree's /etc/group; install the package that creates it, or create it in a postprocess script", strings.Join(missing, ", "))
	}
	return nil
}

// postprocessReadonlyExecutables honours readonly-executables: every
// regular file with an execute bit loses its write bits, as rpm-ostree's
// importer does, so that nothing on the running system rewrites a
// program in place.
func postprocessReadonlyExecutables(ctx context.Context, root string, opts Options) error {
	if !opts.ReadonlyExecutables {
		return nil
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return ctx.Err()
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		m := fi.Mode()
		if m&0o111 == 0 || m&0o222 == 0 {
			return nil
		}
		if err := os.Chmod(p, permBits(m)&^0o222); err != nil {
			return fmt.Errorf("readonly-executables: chmod /%s: %w", relPath(root, p), err)
		}
		return nil
	})
}
