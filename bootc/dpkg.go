package bootc

import (
	"context"
	"fmt"
	"path"
	"strings"
)

const (
	varDpkg = "var/lib/dpkg"
	// usrDpkg is where the dpkg database lives in the commit, read-only,
	// like rpm-ostree's usr/share/rpm (Endless and Apertis use this path).
	usrDpkg = "usr/share/dpkg/database"
	// dpkgTmpfilesLine makes /var/lib/dpkg reach it on the booted system.
	dpkgTmpfilesLine = "L /var/lib/dpkg - - - - ../../usr/share/dpkg/database"
)

// dpkgDir returns where the dpkg database is now, or "" if root has none.
func dpkgDir(r rootfs) (string, error) {
	for _, d := range []string{varDpkg, usrDpkg} {
		if ok, err := r.isDir(d); err != nil || ok {
			return d, err
		}
	}
	return "", nil
}

// moveDpkgDatabase moves /var/lib/dpkg (status, info/, alternatives/,
// diversions, statoverride, triggers/) to /usr/share/dpkg/database, so the
// booted system can still list its packages although /var starts empty;
// writeIntegrationTmpfiles links it back. A non-empty updates/ journal
// means dpkg was interrupted: that root is refused.
func moveDpkgDatabase(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	fi, err := r.lstat(varDpkg)
	if err != nil {
		return err
	}
	done, err := r.isDir(usrDpkg)
	if err != nil {
		return err
	}
	switch {
	case fi == nil || !fi.IsDir():
		if done {
			return nil
		}
		return fmt.Errorf("%s has no dpkg database (/%s): not an assembled Debian root", root, varDpkg)
	case done:
		return fmt.Errorf("%s has both /%s and /%s: remove one", root, varDpkg, usrDpkg)
	}
	pending, err := r.readDirNames(path.Join(varDpkg, "updates"))
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		return fmt.Errorf("/%s/updates holds %s: dpkg was interrupted; run dpkg --configure -a in the root before post-processing", varDpkg, strings.Join(pending, ", "))
	}
	return r.rename(varDpkg, usrDpkg)
}
