package bootc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/apt-ostree/apt-ostree/deb"
)

const (
	varDpkg = deb.AdminDir
	// usrDpkg is where the dpkg database lives in the commit, read-only,
	// like rpm-ostree's usr/share/rpm (Endless and Apertis use this path).
	usrDpkg = deb.OSTreeAdminDir
	// dpkgTmpfilesLine makes /var/lib/dpkg reach it on the booted system.
	dpkgTmpfilesLine = "L /" + varDpkg + " - - - - ../../" + usrDpkg
)

// dpkgDir returns where the dpkg database is now (package deb finds it),
// or "" if root has none.
func dpkgDir(r rootfs) (string, error) {
	db, err := deb.OpenDatabase(string(r))
	if errors.Is(err, deb.ErrNoDatabase) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return db.Dir(), nil
}

// moveDpkgDatabase moves /var/lib/dpkg (status, info/, alternatives/,
// diversions, statoverride, triggers/) to /usr/share/dpkg/database, so the
// booted system can still list its packages although /var starts empty;
// writeIntegrationTmpfiles links it back. A non-empty updates/ journal
// means dpkg was interrupted: that root is refused.
func moveDpkgDatabase(ctx context.Context, root string, opts Options) error {
	db, err := deb.OpenDatabase(root)
	if errors.Is(err, deb.ErrNoDatabase) {
		return fmt.Errorf("%s has no dpkg database (/%s): not an assembled Debian root", root, varDpkg)
	}
	if err != nil {
		return err
	}
	if db.Dir() == usrDpkg {
		return nil // already done
	}
	pending, err := db.PendingJournal()
	if err != nil {
		return err
	}
	if len(pending) > 0 {
		return fmt.Errorf("/%s/updates holds %s: dpkg was interrupted; run dpkg --configure -a in the root before post-processing", db.Dir(), strings.Join(pending, ", "))
	}
	return rootfs(root).rename(db.Dir(), usrDpkg)
}
