package bootc

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/apt-ostree/apt-ostree/deb"
)

// etcDir is where /etc lives in root: usr/etc once renameEtc has run, etc
// before, so the steps that write there also work on an unrenamed root.
func etcDir(r rootfs) (string, error) {
	if ok, err := r.isDir("usr/etc"); err != nil || ok {
		return "usr/etc", err
	}
	if ok, err := r.isDir("etc"); err != nil || ok {
		return "etc", err
	}
	return "", fmt.Errorf("%s has neither /etc nor /usr/etc", string(r))
}

// renameEtc moves /etc to /usr/etc, where ostree keeps the default
// configuration it three-way-merges into each deployment's /etc.
func renameEtc(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	etc, err := r.lstat("etc")
	if err != nil {
		return err
	}
	usrEtc, err := r.lstat("usr/etc")
	if err != nil {
		return err
	}
	switch {
	case etc == nil && usrEtc != nil && usrEtc.IsDir():
		return nil // already done
	case etc == nil:
		return fmt.Errorf("%s has no /etc", root)
	case !etc.IsDir():
		return fmt.Errorf("%s: /etc is a %s, not a directory", root, etc.Mode().Type())
	case usrEtc != nil:
		return fmt.Errorf("%s has both /etc and /usr/etc: remove /usr/etc (ostree owns that path)", root)
	}
	return r.rename("etc", "usr/etc")
}

// leftoverFiles are removed from the tree: lock files, backups and caches
// that describe the build host's last transaction, not the image. The
// usr/etc ones are rpm-ostree's list; the rest are their dpkg/apt analogues.
var leftoverFiles = []string{
	"{etc}/.pwd.lock", "{etc}/passwd-", "{etc}/group-", "{etc}/shadow-",
	"{etc}/gshadow-", "{etc}/subuid-", "{etc}/subgid-",
	"{dpkg}/lock", "{dpkg}/lock-frontend", "{dpkg}/triggers/Lock",
	"{dpkg}/*-old",
	"var/lib/apt/lists/*", "var/lib/apt/lists/partial/*",
	"var/lib/apt/daily_lock",
	"var/cache/apt/*.bin", "var/cache/apt/archives/*.deb",
	"var/cache/apt/archives/lock", "var/cache/apt/archives/partial/*",
}

// cleanupLeftoverFiles removes leftoverFiles and a /usr/sbin/policy-rc.d
// that no package owns (one put there to stop services starting during
// the build).
func cleanupLeftoverFiles(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	etc, err := etcDir(r)
	if err != nil {
		return err
	}
	dpkg, err := dpkgDir(r)
	if err != nil {
		return err
	}
	for _, pat := range leftoverFiles {
		if dpkg == "" && strings.Contains(pat, "{dpkg}") {
			continue
		}
		pat = strings.NewReplacer("{etc}", etc, "{dpkg}", dpkg).Replace(pat)
		if err := removeMatching(r, pat, pat == "var/lib/apt/lists/*"); err != nil {
			return err
		}
	}
	return removeStrayPolicyRCD(r, dpkg, opts)
}

// removeMatching removes the non-directories (and with dirsToo, the
// directories except "partial") matching the shell pattern pat, whose
// directory part is a plain path.
func removeMatching(r rootfs, pat string, dirsToo bool) error {
	dir, glob := path.Split(pat)
	dir = strings.TrimSuffix(dir, "/")
	if ok, err := r.isDir(dir); err != nil || !ok {
		return err
	}
	names, err := r.readDirNames(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		if ok, _ := path.Match(glob, n); !ok {
			continue
		}
		rel := path.Join(dir, n)
		fi, err := r.lstat(rel)
		if err != nil {
			return err
		}
		if fi.IsDir() && (!dirsToo || n == "partial") {
			continue
		}
		if err := r.removeAll(rel); err != nil {
			return err
		}
	}
	return nil
}

const policyRCD = "usr/sbin/policy-rc.d"

func removeStrayPolicyRCD(r rootfs, dpkg string, opts Options) error {
	fi, err := r.lstat(policyRCD)
	if err != nil || fi == nil {
		return err
	}
	owned, err := dpkgOwns(r, dpkg, "/"+policyRCD)
	if err != nil {
		return err
	}
	if owned {
		return nil
	}
	opts.log().Info("removing /usr/sbin/policy-rc.d left by the build (no package owns it)")
	return r.removeAll(policyRCD)
}

// dpkgOwns reports whether an installed package's file list names p.
func dpkgOwns(r rootfs, dpkg, p string) (bool, error) {
	if dpkg == "" {
		return false, nil
	}
	db, err := deb.OpenDatabase(string(r))
	if err != nil {
		return false, err
	}
	// Before the usr merge a package may list the file under /sbin.
	for _, q := range []string{p, strings.Replace(p, "/usr/sbin/", "/sbin/", 1)} {
		owners, err := db.Owners(q)
		if err != nil || len(owners) > 0 {
			return len(owners) > 0, err
		}
	}
	return false, nil
}

// postprocessUseradd points useradd's default home at /var/home, the
// real directory behind /home, so "~" prints as it is. Debian's file only
// has a commented "# HOME=/home", so the line is appended when missing.
func postprocessUseradd(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	etc, err := etcDir(r)
	if err != nil {
		return err
	}
	rel := path.Join(etc, "default/useradd")
	data, ok, err := r.readFile(rel)
	if err != nil || !ok {
		return err
	}
	var out bytes.Buffer
	found := false
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "HOME=") {
			line, found = "HOME=/var/home\n", true
		}
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteByte('\n')
		}
	}
	if !found {
		out.WriteString("HOME=/var/home\n")
	}
	return r.writeFile(rel, out.Bytes(), 0o644)
}

// postprocessMachineID commits an empty /etc/machine-id (machineid-compat,
// systemd then generates the id at boot without treating it as first
// boot) or none, and always drops dbus's copy, which must not be shared
// by every machine installed from the image.
func postprocessMachineID(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	etc, err := etcDir(r)
	if err != nil {
		return err
	}
	rel := path.Join(etc, "machine-id")
	if opts.MachineIDCompat {
		if err := r.writeFile(rel, nil, 0o444); err != nil {
			return err
		}
	} else if err := removeNonDir(r, rel); err != nil {
		return err
	}
	return removeNonDir(r, "var/lib/dbus/machine-id")
}

// removeNonDir removes rel unless it is missing or a directory.
func removeNonDir(r rootfs, rel string) error {
	fi, err := r.lstat(rel)
	if err != nil || fi == nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("/%s is a directory", rel)
	}
	return r.removeAll(rel)
}
