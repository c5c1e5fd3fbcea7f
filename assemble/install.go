package assemble

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/apt-ostree/apt-ostree/deb"
)

// InstallOptions configures Install.
type InstallOptions struct {
	// Options holds the sandbox choice, the preinst order, initramfs
	// settings, output, logger and timings (phases "unpack", "preinst",
	// "configure", the steps' names, "initramfs").
	Options
	// Jobs bounds how many packages are unpacked at once; 0 means CPUs.
	Jobs int
	// Arch is the native architecture for a root without a dpkg database
	// ("" = the first package's that is not "all"). A root with a database
	// keeps its own.
	Arch string
	// PathExclude and PathInclude are dpkg's --path-exclude and
	// --path-include globs (deb.Options), e.g. from the treefile's
	// documentation and install-langs.
	PathExclude, PathInclude []string
	// Steps, if set, are the treefile's post-processing steps, run in the
	// sandbox after configure and before the initramfs is built.
	Steps *Steps
	// BeforeInitramfs, if set, runs after the steps, before the initramfs
	// is built (compose writes prepare-root.conf there, which the
	// initramfs carries). sb.Root() is the root.
	BeforeInitramfs func(ctx context.Context, sb *Sandbox) error
}

// InstallResult says what Install did.
type InstallResult struct {
	// Unpacked lists, for each package that was installed (debs order,
	// without the skipped ones), the files it owns.
	Unpacked []*deb.Unpacked
	// Skipped names the packages ("name:arch") given but already installed
	// at the same version.
	Skipped []string
	// Files counts the .list entries of the installed packages.
	Files int
	// Triggered lists the file triggers of already installed packages that
	// the new files activated ("<interest> <package>").
	Triggered []string
	// Kernel is the kernel whose initramfs was built, nil when none was.
	Kernel *Kernel
}

// ErrFrozenBase is wrapped when a package given to Install is installed in
// the root at another version: Install never upgrades or removes.
var ErrFrozenBase = errors.New("the installed packages are frozen")

// Install is the one transaction from .debs to a configured root (spec §6):
// unpack (deb.Unpack), write the dpkg database, run the preinsts, dpkg
// --configure -a (which also runs the triggers), the Steps, BeforeInitramfs,
// and a single initramfs build. root is either
//
//   - a directory without a dpkg database (compose): all packages are new;
//     the initramfs is built when the root has a kernel;
//   - a root holding an installed base (a composed tree or image, where the
//     database may be in usr/share/dpkg/database and /etc in usr/etc; see
//     presentLayout): the base is frozen. A package already installed at
//     the same version is skipped, at another version refused
//     (ErrFrozenBase). The database is merged; only the new packages are
//     configured; file triggers of base packages that the new files match
//     are activated as dpkg does while unpacking, and run once in the
//     configure run. The initramfs is rebuilt only when a kernel,
//     initramfs generator or initramfs hook package was added.
//     If anything fails before the first maintainer script (a file
//     conflict, a bad archive), the root and its database are put back as
//     they were; after that, a failed root must be discarded.
//
// The caller opens and closes the packages.
func Install(ctx context.Context, root string, debs []*deb.Package, opts InstallOptions) (_ *InstallResult, err error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("install: root %s is not a directory", root)
	}
	if opts.Steps != nil {
		if err := opts.Steps.Verify(); err != nil {
			return nil, err
		}
	}
	log := opts.logger()
	restore, err := presentLayout(abs)
	if err != nil {
		return nil, err
	}
	defer func() {
		if rerr := restore(); rerr != nil && err == nil {
			err = rerr
		}
	}()
	db, err := deb.OpenDatabase(abs)
	if errors.Is(err, deb.ErrNoDatabase) {
		db, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	var installed []*deb.Installed
	if db != nil {
		pending, err := db.PendingJournal()
		if err != nil {
			return nil, err
		}
		if len(pending) > 0 {
			return nil, fmt.Errorf("install into %s: dpkg was interrupted there (%s/updates holds %s); run dpkg --configure -a in it first", abs, db.Dir(), strings.Join(pending, ", "))
		}
		for _, p := range db.Packages() {
			if p.State != "not-installed" {
				installed = append(installed, p)
			}
		}
	}
	base := len(installed) > 0
	res := &InstallResult{}
	var fresh []*deb.Package
	for _, d := range debs {
		var p *deb.Installed
		if db != nil {
			if p = db.Lookup(d.Name(), d.Architecture()); p == nil && !d.MultiArchSame() {
				p = db.Lookup(d.Name(), "") // installed as another architecture
			}
		}
		if p == nil || p.State == "not-installed" {
			fresh = append(fresh, d)
			continue
		}
		if p.Version == d.Version() && p.State == "installed" {
			res.Skipped = append(res.Skipped, d.Name()+":"+d.Architecture())
			continue
		}
		return nil, fmt.Errorf("install %s %s into %s: %w: %s is %s at version %s", d.Name(), d.Version(), abs, ErrFrozenBase, p.ID(), p.State, p.Version)
	}
	if len(fresh) == 0 {
		log.Info("install: every package is already installed", "root", abs, "skipped", len(res.Skipped))
		return res, nil
	}
	arch := opts.Arch
	if db != nil {
		arch = db.Arch()
	}
	if arch == "" {
		arch = packagesArch(fresh)
	}
	if arch == "" {
		return nil, fmt.Errorf("install into %s: no native architecture (only Architecture: all packages); set InstallOptions.Arch", abs)
	}
	if db == nil {
		if db, err = deb.NewDatabase(abs, arch); err != nil {
			return nil, err
		}
	}

	start := time.Now()
	var undo *undoLog
	if base {
		admin := filepath.Join(abs, db.Dir())
		if undo, err = newUndoLog(ctx, abs, admin, fresh); err != nil {
			return nil, err
		}
		defer func() {
			if undo == nil {
				return
			}
			if rerr := undo.rollback(); rerr != nil {
				err = fmt.Errorf("%w; and %v", err, rerr)
			} else {
				log.Info("install: failed before any script ran; the root is as it was", "root", abs)
			}
		}()
	}
	log.Info("install: unpacking", "packages", len(fresh), "root", abs, "installed-before", len(installed))
	uopts := deb.Options{Jobs: opts.Jobs, Logger: opts.Logger, PathExclude: opts.PathExclude, PathInclude: opts.PathInclude}
	if base {
		uopts.Installed = db
		// The image's own path-exclude configuration (a treefile's
		// documentation and install-langs) applies to what is added.
		if uopts.PathFilters, err = deb.RootPathFilters(abs); err != nil {
			return nil, err
		}
	}
	unpacked, err := deb.Unpack(ctx, abs, fresh, uopts)
	if err != nil {
		return nil, err
	}
	if base {
		// Add leaves these pending, as dpkg's unpack would.
		if res.Triggered, err = db.FileTriggerActivations(unpacked); err != nil {
			return nil, err
		}
	}
	if err := db.Add(ctx, unpacked, deb.DatabaseOptions{Arch: arch}); err != nil {
		return nil, err
	}
	for _, u := range unpacked {
		res.Files += len(u.Files)
	}
	res.Unpacked = unpacked
	if opts.Timings != nil {
		opts.Timings.Add("unpack", time.Since(start))
	}
	if undo != nil {
		if err := undo.discard(); err != nil {
			return nil, err
		}
		undo = nil
	}

	sb, err := OpenSandbox(ctx, abs, opts.Options)
	if err != nil {
		return nil, err
	}
	defer closeSandbox(sb, &err)
	if err := configure(ctx, sb, opts.Options); err != nil {
		return nil, err
	}
	if opts.Steps != nil {
		if err := applySteps(ctx, sb, *opts.Steps, opts.Options); err != nil {
			return nil, err
		}
	}
	if opts.BeforeInitramfs != nil {
		if err := opts.BeforeInitramfs(ctx, sb); err != nil {
			return nil, err
		}
	}
	if base && !addsInitramfsInput(unpacked) {
		return res, nil
	}
	err = opts.phase("initramfs", func() (err error) {
		res.Kernel, err = initramfs(ctx, sb, opts.Options)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// packagesArch is the first architecture of pkgs that is not "all".
func packagesArch(pkgs []*deb.Package) string {
	for _, d := range pkgs {
		if a := d.Architecture(); a != "" && a != "all" {
			return a
		}
	}
	return ""
}

// initramfsInputs are where packages put what goes into an initramfs.
var initramfsInputs = []string{"/usr/share/initramfs-tools/hooks/", "/usr/lib/dracut/modules.d/"}

// addsInitramfsInput reports whether a kernel, an initramfs generator or
// an initramfs hook came with the new packages: only then is the base's
// initramfs rebuilt.
func addsInitramfsInput(unpacked []*deb.Unpacked) bool {
	for _, u := range unpacked {
		name := u.Package.Name()
		if strings.HasPrefix(name, "linux-image-") || strings.HasPrefix(name, "dracut") || strings.HasPrefix(name, "initramfs-tools") {
			return true
		}
		for _, f := range u.Files {
			for _, dir := range initramfsInputs {
				if strings.HasPrefix(f, dir) && len(f) > len(dir) {
					return true
				}
			}
		}
	}
	return false
}
