package compose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/apt-ostree/apt-ostree/apt"
	"github.com/apt-ostree/apt-ostree/assemble"
	"github.com/apt-ostree/apt-ostree/bootc"
	"github.com/apt-ostree/apt-ostree/deb"
)

// Summary says what building a root did, for the commands' summary line.
type Summary struct {
	Packages        int           `json:"packages"`
	Downloaded      int           `json:"downloaded"`
	BytesDownloaded int64         `json:"bytes-downloaded"`
	Files           int           `json:"files"`
	Kernel          string        `json:"kernel,omitempty"`
	Phases          []PhaseTime   `json:"phases"`
	Total           time.Duration `json:"-"`
	// Unpacked lists, per package, the files it owns (for chunking).
	Unpacked []*deb.Unpacked `json:"-"`
}

// PhaseTime is one timed phase of a compose.
type PhaseTime struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// String is the one-line summary a command prints.
func (s *Summary) String() string {
	line := fmt.Sprintf("%d packages (%d downloaded, %s), %d files", s.Packages, s.Downloaded, humanBytes(s.BytesDownloaded), s.Files)
	if s.Kernel != "" {
		line += ", kernel " + s.Kernel
	}
	line += "; "
	for i, p := range s.Phases {
		if i > 0 {
			line += ", "
		}
		line += fmt.Sprintf("%s %.1fs", p.Name, p.Seconds)
	}
	return line + fmt.Sprintf("; total %.1fs", s.Total.Seconds())
}

func (s *Summary) add(name string, d time.Duration) {
	s.Phases = append(s.Phases, PhaseTime{name, d.Seconds()})
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Rootfs builds the treefile's configured Debian root in dest, like
// rpm-ostree's compose rootfs: the root is assembled in a directory beside
// dest and renamed into place only when it is complete. dest must not exist.
func Rootfs(ctx context.Context, dest string, opts Options) (*Summary, error) {
	start := time.Now()
	if _, err := os.Lstat(dest); err == nil {
		return nil, fmt.Errorf("compose rootfs: %s already exists; remove it or choose another destination", dest)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("compose rootfs: %w", err)
	}
	plan, err := Resolve(ctx, opts)
	if err != nil {
		return nil, err
	}
	resolved := time.Since(start)
	version := ""
	if tf := plan.Treefile; tf.AutomaticVersionPrefix != "" {
		if version, err = NextVersion(tf.AutomaticVersionPrefix, tf.AutomaticVersionSuffix, "", time.Now()); err != nil {
			return nil, err
		}
	}
	work, tmp, err := newWorkRoot(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*", true, opts.logger())
	if err != nil {
		return nil, fmt.Errorf("compose rootfs: %w", err)
	}
	defer removeWorkRoot(work, opts.logger())
	sum, err := plan.BuildRoot(ctx, tmp, version, opts)
	if err != nil {
		return nil, err
	}
	// The plain root gets the post-processing that configures the system
	// (units, default-target, machine-id), not the OSTree layout.
	t := time.Now()
	if err := bootc.ConfigureSystem(ctx, tmp, plan.bootcOptions(opts)); err != nil {
		return nil, err
	}
	sum.add("postprocess", time.Since(t))
	if err := os.Rename(tmp, dest); err != nil {
		return nil, fmt.Errorf("compose rootfs: %w", err)
	}
	sum.Phases = append([]PhaseTime{{"resolve", resolved.Seconds()}}, sum.Phases...)
	sum.Total = time.Since(start)
	return sum, nil
}

// BuildRoot downloads the plan's packages and installs them into root (an
// empty directory) with assemble.Install: unpack, dpkg database, preinsts,
// configure, the treefile's steps, prepare-root.conf (which the initramfs
// carries) and the initramfs. version is the compose version for
// mutate-os-release ("" for none).
func (p *Plan) BuildRoot(ctx context.Context, root, version string, opts Options) (*Summary, error) {
	sum := &Summary{}
	order := p.Resolved.InstallOrder()
	sum.Packages = len(order)

	t := time.Now()
	paths, stats, err := p.client.Fetch(ctx, order)
	if err != nil {
		return nil, err
	}
	sum.Downloaded, sum.BytesDownloaded = stats.Downloaded, stats.Bytes
	sum.add("download", time.Since(t))

	debs := make([]*deb.Package, 0, len(paths))
	defer func() {
		for _, d := range debs {
			d.Close()
		}
	}()
	for i, path := range paths {
		d, err := deb.OpenFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s (%s): %w", order[i].ID(), order[i].URL(), err)
		}
		debs = append(debs, d)
		if err := checkDebMatches(order[i], d); err != nil {
			return nil, err
		}
	}
	// documentation and install-langs: dpkg path filters, applied while
	// unpacking and recorded for the dpkg runs the image will see.
	exclude, include := deb.DocExcludes(p.Treefile.Documentation == nil || *p.Treefile.Documentation, p.Treefile.InstallLangs)

	tf := p.Treefile
	steps := assemble.Steps{
		OSReleaseBase:     tf.MutateOSRelease,
		Version:           version,
		RemoveFiles:       tf.RemoveFiles,
		Postprocess:       tf.Postprocess,
		PostprocessScript: tf.PostprocessScript,
	}
	for _, f := range tf.AddFiles {
		steps.AddFiles = append(steps.AddFiles, assemble.AddFile{Src: f.Src, Dest: f.Dest})
	}
	for _, r := range tf.RemoveFromPackages {
		steps.RemoveFromPackages = append(steps.RemoveFromPackages, assemble.RemoveFromPackage{Package: r.Package, Patterns: r.Patterns})
	}
	preinst := make([]string, len(order))
	for i, pkg := range order {
		preinst[i] = pkg.Name + ":" + pkg.Architecture
	}
	var beforeInitramfs func(context.Context, *assemble.Sandbox) error
	if !tf.Container {
		// The initramfs carries its own copy of prepare-root.conf; the
		// tree's ostree, which decides its composefs setting, is unpacked by now.
		beforeInitramfs = func(ctx context.Context, sb *assemble.Sandbox) error {
			return bootc.WritePrepareRootConf(ctx, sb.Root(), p.bootcOptions(opts))
		}
	}
	timings := &assemble.Timings{}
	res, err := assemble.Install(ctx, root, debs, assemble.InstallOptions{
		Options: assemble.Options{
			PreinstOrder:  preinst,
			InitramfsArgs: tf.InitramfsArgs,
			NoInitramfs:   tf.NoInitramfs,
			Sandbox:       opts.Sandbox,
			Logger:        opts.Logger,
			Output:        opts.ScriptOutput,
			Timings:       timings,
		},
		Jobs:            opts.Jobs,
		Arch:            tf.Arch,
		PathExclude:     exclude,
		PathInclude:     include,
		Steps:           &steps,
		BeforeInitramfs: beforeInitramfs,
	})
	for _, ph := range timings.Phases {
		sum.add(ph.Name, ph.Duration)
	}
	if err != nil {
		return nil, err
	}
	if err := deb.WriteDocExcludesConfig(root, exclude, include); err != nil {
		return nil, err
	}
	if err := packagedDevices(res.Unpacked, tf.IgnoreDevices); err != nil {
		return nil, err
	}
	sum.Files = res.Files
	sum.Unpacked = res.Unpacked
	if res.Kernel != nil {
		sum.Kernel = res.Kernel.Version
	}
	return sum, nil
}

// bootcOptions are the treefile's post-processing settings, for bootc.
func (p *Plan) bootcOptions(opts Options) bootc.Options {
	tf := p.Treefile
	b := bootc.DefaultOptions()
	if tf.MachineIDCompat != nil {
		b.MachineIDCompat = *tf.MachineIDCompat
	}
	b.Units = tf.Units
	b.DefaultTarget = tf.DefaultTarget
	b.Composefs = tf.Composefs
	b.Container = tf.Container
	b.NoInitramfs = tf.NoInitramfs
	b.FailOnDevices = tf.IgnoreDevices != nil && !*tf.IgnoreDevices
	b.TmpSymlink = tf.TmpIsDir != nil && !*tf.TmpIsDir
	b.OptUsrlocalRoot = tf.OptUsrlocal == "root"
	b.EtcGroupMembers = tf.EtcGroupMembers
	b.ReadonlyExecutables = tf.ReadonlyExecutables != nil && *tf.ReadonlyExecutables
	b.Logger = opts.Logger
	return b
}

// checkDebMatches guards against a pool file that is not the package the
// index promised (the pool is keyed by SHA256, so this means a broken
// repository).
func checkDebMatches(want *apt.Package, got *deb.Package) error {
	if got.Name() != want.Name || got.Version() != want.Version {
		return fmt.Errorf("%s from %s: the .deb is %s %s, not what the index lists; the repository is inconsistent", want.ID(), want.URL(), got.Name(), got.Version())
	}
	return nil
}
