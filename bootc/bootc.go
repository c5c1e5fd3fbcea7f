package bootc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Options are the treefile settings post-processing honours. Start from
// DefaultOptions: the zero value has MachineIDCompat false, which is not
// rpm-ostree's default.
type Options struct {
	// MachineIDCompat is the treefile's machineid-compat: true commits an
	// empty /etc/machine-id, false none (systemd then runs first-boot presets).
	MachineIDCompat bool
	// Units are enabled through symlinks in /etc/systemd/system/<target>.wants.
	Units []string
	// DefaultTarget, if set, becomes /usr/lib/systemd/system/default.target.
	DefaultTarget string
	// TreefileJSON, if set, is written to /usr/share/apt-ostree/treefile.json.
	TreefileJSON []byte
	// Kargs, if set, are written to /usr/lib/bootc/kargs.d/10-apt-ostree.toml.
	Kargs []string
	// Container is the treefile's container: the root need not hold a kernel.
	Container bool
	// NoInitramfs is the treefile's no-initramfs: a kernel without an
	// initramfs is accepted.
	NoInitramfs bool
	// FailOnDevices is the treefile's ignore-devices: false. By default
	// (false) char and block devices other than overlay whiteouts are removed
	// with a warning; with FailOnDevices they are an error.
	FailOnDevices bool
	// Composefs is the treefile's composefs: ComposefsYes, ComposefsMaybe
	// or ComposefsNo forces prepare-root.conf's "[composefs] enabled"; ""
	// chooses from the tree's own ostree (see WritePrepareRootConf).
	Composefs string
	// TmpSymlink is the treefile's tmp-is-dir: false: /tmp becomes the
	// symlink sysroot/tmp instead of an empty 01777 directory. bootc's
	// api-base-directories lint refuses such a tree.
	TmpSymlink bool
	// OptUsrlocalRoot is the treefile's opt-usrlocal: root: /opt and
	// /usr/local stay directories of the image instead of symlinks into /var.
	OptUsrlocalRoot bool
	// EtcGroupMembers is the treefile's etc-group-members: groups that must
	// be in /etc/group (all groups stay there; a missing one is an error).
	EtcGroupMembers []string
	// ReadonlyExecutables is the treefile's readonly-executables: regular
	// files with an execute bit lose their write bits.
	ReadonlyExecutables bool
	// Logger receives notices about removed content; nil means slog.Default().
	Logger *slog.Logger
}

// DefaultOptions returns rpm-ostree's defaults: machineid-compat true,
// ignore-devices true.
func DefaultOptions() Options {
	return Options{MachineIDCompat: true}
}

func (o Options) log() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// ErrNoKernel is returned by KernelVersion when usr/lib/modules holds no
// kernel; callers composing a non-bootable (container) tree branch on it.
var ErrNoKernel = errors.New("no kernel in usr/lib/modules")

// Step is one named post-processing step. Run works on the root directory
// in place and may be run again on its own output.
type Step struct {
	Name string
	Run  func(ctx context.Context, root string, opts Options) error
	// System marks the steps that configure the system rather than lay it
	// out for OSTree; they also apply to a plain root (ConfigureSystem).
	System bool
}

// Steps returns the post-processing steps in the order PostProcess runs
// them. Each name is the rpm-ostree composepost function it mirrors, with
// dashes.
func Steps() []Step {
	return []Step{
		// process_kernel_and_initramfs: kernel and initramfs into usr/lib/modules/$kver, /boot emptied.
		{"process-kernel-and-initramfs", processKernelAndInitramfs, false},
		// compose_prepare_rootfs: drop what a fresh ostree root would not carry over.
		{"prepare-rootfs", prepareRootfs, false},
		// the etc -> usr/etc rename at the start of compose_postprocess.
		{"rename-etc", renameEtc, false},
		// postprocess_cleanup_rpmdb and the common cleanup, for dpkg/apt.
		{"cleanup-leftover-files", cleanupLeftoverFiles, false},
		// (apt's own modes for its download directories.)
		{"apt-partial-dirs", aptPartialDirs, true},
		// the rpmdb move and macros.rpm-ostree, for the dpkg database.
		{"move-dpkg-database", moveDpkgDatabase, false},
		// compose_postprocess_units.
		{"units", PostprocessUnits, true},
		// compose_postprocess_default_target.
		{"default-target", PostprocessDefaultTarget, true},
		// postprocess_presets.
		{"presets", postprocessPresets, false},
		// postprocess_useradd.
		{"useradd", postprocessUseradd, false},
		// the machine-id part of process_kernel_and_initramfs.
		{"machine-id", PostprocessMachineID, true},
		// (machine-specific secrets a maintainer script made: SSH host keys.)
		{"ssh-host-keys", postprocessSSHHostKeys, true},
		// writing usr/share/rpm-ostree/treefile.json.
		{"treefile-json", writeTreefileJSON, false},
		// (bootc images ship usr/lib/ostree/prepare-root.conf.)
		{"prepare-root-conf", WritePrepareRootConf, false},
		// (bootc's usr/lib/bootc/kargs.d.)
		{"kargs", postprocessKargs, false},
		// postprocess_embedded_ovl_whiteouts and ignore-devices.
		{"embedded-ovl-whiteouts", postprocessDevices, false},
		// (bootc's utf8 lint, as an early error: ostree cannot store such names.)
		{"utf8-filenames", checkUTF8Filenames, false},
		// compose_init_rootfs's symlinks and rootfs_prepare_links.
		{"rootfs-links", prepareRootfsLinks, false},
		// rpm-ostree-0-integration.conf.
		{"integration-tmpfiles", writeIntegrationTmpfiles, false},
		// convert_var_to_tmpfiles_d.
		{"convert-var-to-tmpfiles-d", convertVarToTmpfilesD, false},
		// compose_init_rootfs's directories.
		{"init-rootfs", initRootfs, false},
		// compose_init_rootfs's tmp symlink (tmp-is-dir: false).
		{"tmp-is-dir", postprocessTmpIsDir, false},
		// (etc-group-members: every group stays in /etc/group; check them.)
		{"etc-group-members", checkEtcGroupMembers, true},
		// the importer's readonly-executables, on the whole tree.
		{"readonly-executables", postprocessReadonlyExecutables, true},
	}
}

// PostProcess runs Steps in order on root, stopping at the first error.
func PostProcess(ctx context.Context, root string, opts Options) error {
	return run(ctx, root, opts, Steps())
}

// ConfigureSystem runs only the System steps (apt's directories, units,
// default-target, machine-id) on a plain configured root that is not laid
// out for OSTree, as compose rootfs builds it; PostProcess runs them too.
func ConfigureSystem(ctx context.Context, root string, opts Options) error {
	var steps []Step
	for _, s := range Steps() {
		if s.System {
			steps = append(steps, s)
		}
	}
	return run(ctx, root, opts, steps)
}

func run(ctx context.Context, root string, opts Options, steps []Step) error {
	if err := opts.validate(); err != nil {
		return err
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		if err := s.Run(ctx, root, opts); err != nil {
			return fmt.Errorf("bootc post-processing step %s: %w", s.Name, err)
		}
		opts.log().Debug("bootc post-processing step done", "step", s.Name, "took", time.Since(start))
	}
	return nil
}

func (o Options) validate() error {
	if len(o.Units) > 0 && !o.MachineIDCompat {
		return errors.New("treefile units need machineid-compat: true (with machineid-compat: false systemd applies presets on first boot instead)")
	}
	if t := o.DefaultTarget; t != "" && (!strings.HasSuffix(t, ".target") || strings.Contains(t, "/")) {
		return fmt.Errorf("default-target %q: not a .target unit name", t)
	}
	switch o.Composefs {
	case "", ComposefsYes, ComposefsMaybe, ComposefsNo:
	default:
		return fmt.Errorf("composefs %q: want yes, maybe or no", o.Composefs)
	}
	return checkKargs(o.Kargs)
}
