package assemble

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/apt-ostree/apt-ostree/internal/atomicfile"
	"github.com/apt-ostree/apt-ostree/internal/rootpath"
)

// Step is one treefile post-processing step, named after its treefile key
// so that it maps onto rpm-ostree's compose_postprocess.
type Step interface {
	// Name is the treefile key ("add-files", "units", ...).
	Name() string
	// Verify checks the inputs (paths, regexes, scripts) without touching
	// the root, so a bad treefile fails before anything runs.
	Verify() error
	// Run applies the step to the sandbox's root.
	Run(ctx context.Context, sb *Sandbox) error
}

// Steps are the treefile's post-processing inputs that change the content
// of the root. Zero fields are skipped.
type Steps struct {
	RemoveFromPackages []RemoveFromPackage // remove-from-packages
	OSReleaseBase      string              // mutate-os-release: the string to replace...
	Version            string              // ...by this version (skipped if empty)
	RemoveFiles        []string            // remove-files: root-relative paths
	AddFiles           []AddFile           // add-files, Src resolved by the caller
	Postprocess        []string            // postprocess: inline scripts
	PostprocessScript  string              // postprocess-script: host path
}

// List returns the steps in rpm-ostree's order (treefile spec §3):
// package checkout filter (remove-from-packages), [units, default-target],
// os-release, remove-files, add-files, inline scripts, the script file,
// then [machine-id] in the commit phase.
//
// The bracketed ones configure the system rather than change package
// content; they are post-processing rules and live in package bootc
// (PostprocessUnits, PostprocessDefaultTarget, PostprocessMachineID), which
// runs them after these steps: compose tree through bootc.PostProcess,
// compose rootfs through bootc.ConfigureSystem. Units are therefore enabled
// after the postprocess scripts, not before as in rpm-ostree, so what the
// treefile's units say is final.
func (s Steps) List() []Step {
	var out []Step
	if len(s.RemoveFromPackages) > 0 {
		out = append(out, RemoveFromPackagesStep{Rules: s.RemoveFromPackages})
	}
	if s.OSReleaseBase != "" && s.Version != "" {
		out = append(out, MutateOSReleaseStep{Base: s.OSReleaseBase, Version: s.Version})
	}
	if len(s.RemoveFiles) > 0 {
		out = append(out, RemoveFilesStep{Paths: s.RemoveFiles})
	}
	if len(s.AddFiles) > 0 {
		out = append(out, AddFilesStep{Files: s.AddFiles})
	}
	if len(s.Postprocess) > 0 {
		out = append(out, PostprocessStep{Scripts: s.Postprocess})
	}
	if s.PostprocessScript != "" {
		out = append(out, PostprocessScriptStep{Path: s.PostprocessScript})
	}
	return out
}

// Verify checks every step's inputs.
func (s Steps) Verify() error {
	var errs []error
	for _, st := range s.List() {
		if err := st.Verify(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", st.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// ApplySteps verifies, then runs, the steps on root in one sandbox.
func ApplySteps(ctx context.Context, root string, steps Steps, opts Options) (err error) {
	if err := steps.Verify(); err != nil {
		return err
	}
	sb, err := OpenSandbox(ctx, root, opts)
	if err != nil {
		return err
	}
	defer closeSandbox(sb, &err)
	return applySteps(ctx, sb, steps, opts)
}

func applySteps(ctx context.Context, sb *Sandbox, steps Steps, opts Options) error {
	for _, st := range steps.List() {
		if err := ctx.Err(); err != nil {
			return err
		}
		opts.logger().Debug("assemble: step", "name", st.Name())
		if err := opts.phase(st.Name(), func() error { return st.Run(ctx, sb) }); err != nil {
			return fmt.Errorf("%s: %w", st.Name(), err)
		}
	}
	return nil
}

// Run is the whole assembly of an unpacked root, in one sandbox:
// Configure, the steps, then Initramfs. It returns the kernel (nil if none).
func Run(ctx context.Context, root string, steps Steps, opts Options) (_ *Kernel, err error) {
	if err := steps.Verify(); err != nil {
		return nil, err
	}
	sb, err := OpenSandbox(ctx, root, opts)
	if err != nil {
		return nil, err
	}
	defer closeSandbox(sb, &err)
	if err := configure(ctx, sb, opts); err != nil {
		return nil, err
	}
	if err := applySteps(ctx, sb, steps, opts); err != nil {
		return nil, err
	}
	var k *Kernel
	err = opts.phase("initramfs", func() (err error) {
		k, err = initramfs(ctx, sb, opts)
		return err
	})
	return k, err
}

func replaceSymlink(target, link string) error {
	tmp := filepath.Join(filepath.Dir(link), ".apt-ostree-"+filepath.Base(link))
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, link); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// MutateOSReleaseStep puts the compose version into os-release (treefile
// spec §3 C8): on the VERSION= and PRETTY_NAME= lines every Base becomes
// Version, blank lines go, and OSTREE_VERSION='<Version>' is appended. The
// file written is the one /etc/os-release points to (usr/lib/os-release).
type MutateOSReleaseStep struct{ Base, Version string }

func (MutateOSReleaseStep) Name() string { return "mutate-os-release" }

func (s MutateOSReleaseStep) Verify() error {
	if strings.ContainsAny(s.Version, "\n\x00") {
		return fmt.Errorf("version %q contains a newline", s.Version)
	}
	return nil
}

func (s MutateOSReleaseStep) Run(ctx context.Context, sb *Sandbox) error {
	p, err := rootpath.ResolveFollow(sb.root, "etc/os-release")
	if err != nil {
		return err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read os-release: %w", err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	return atomicfile.Write(p, []byte(mutateOSRelease(string(b), s.Base, s.Version)), fi.Mode().Perm())
}

func mutateOSRelease(content, base, version string) string {
	var b strings.Builder
	for _, line := range strings.Split(content, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if strings.HasPrefix(line, "VERSION=") || strings.HasPrefix(line, "PRETTY_NAME=") {
			k, v, _ := strings.Cut(line, "=")
			line = k + "=" + strings.ReplaceAll(v, base, version)
		}
		b.WriteString(line + "\n")
	}
	b.WriteString("OSTREE_VERSION=" + shellQuote(version) + "\n")
	return b.String()
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// RemoveFilesStep deletes root-relative paths recursively (rm -rf); a
// missing path is not an error, "..", or an absolute path, is.
type RemoveFilesStep struct{ Paths []string }

func (RemoveFilesStep) Name() string { return "remove-files" }

func (s RemoveFilesStep) Verify() error {
	for _, p := range s.Paths {
		if strings.HasPrefix(p, "/") {
			return fmt.Errorf("%q: paths are relative to the root (write %q)", p, strings.TrimLeft(p, "/"))
		}
		if _, err := cleanRel(p); err != nil {
			return err
		}
	}
	return nil
}

func (s RemoveFilesStep) Run(ctx context.Context, sb *Sandbox) error {
	for _, p := range s.Paths {
		rel, _ := cleanRel(p)
		host, err := rootpath.Resolve(sb.root, rel)
		if err != nil {
			return err
		}
		if err := os.RemoveAll(host); err != nil {
			return fmt.Errorf("remove %s: %w", rel, err)
		}
	}
	return nil
}

// AddFile copies Src (a host path) to Dest (absolute, in the root).
type AddFile struct{ Src, Dest string }

// AddFilesStep copies host files into the root, creating missing parents
// 0755 and keeping the source's mode; an existing file is replaced. As in
// rpm-ostree, Dest must be under /usr (not /usr/local), /etc, /bin, /sbin,
// /lib or /lib64, and Src must be a regular file or a symlink.
type AddFilesStep struct{ Files []AddFile }

func (AddFilesStep) Name() string { return "add-files" }

var addFilesPrefixes = []string{"usr/", "etc/", "bin/", "sbin/", "lib/", "lib64/"}

func (s AddFilesStep) Verify() error {
	for _, f := range s.Files {
		rel, err := cleanRel(f.Dest)
		if err != nil {
			return err
		}
		ok := false
		for _, pre := range addFilesPrefixes {
			ok = ok || strings.HasPrefix(rel+"/", pre) && rel+"/" != pre
		}
		if !ok || strings.HasPrefix(rel+"/", "usr/local/") {
			return fmt.Errorf("destination %s: must be under /usr (not /usr/local), /etc, /bin, /sbin, /lib or /lib64", f.Dest)
		}
		fi, err := os.Lstat(f.Src)
		if err != nil {
			return fmt.Errorf("source of %s: %w", f.Dest, err)
		}
		if !fi.Mode().IsRegular() && fi.Mode()&fs.ModeSymlink == 0 {
			return fmt.Errorf("source %s of %s: not a regular file or symlink", f.Src, f.Dest)
		}
	}
	return nil
}

func (s AddFilesStep) Run(ctx context.Context, sb *Sandbox) error {
	for _, f := range s.Files {
		rel, _ := cleanRel(f.Dest)
		dst, err := rootpath.Resolve(sb.root, rel)
		if err != nil {
			return err
		}
		if fi, err := os.Lstat(dst); err == nil && fi.IsDir() {
			return fmt.Errorf("%s: destination is a directory in the root", f.Dest)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		fi, err := os.Lstat(f.Src)
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := os.Readlink(f.Src)
			if err == nil {
				err = replaceSymlink(target, dst)
			}
			if err != nil {
				return fmt.Errorf("add %s: %w", f.Dest, err)
			}
			continue
		}
		if err := copyFile(f.Src, dst); err != nil {
			return fmt.Errorf("add %s from %s: %w", f.Dest, f.Src, err)
		}
	}
	return nil
}

// PostprocessStep runs inline scripts in the sandbox, in order. Each is
// written to usr/bin/apt-ostree-postprocess-inline-<n> (0755), run, and
// deleted; one without "#!" is run by /bin/sh.
type PostprocessStep struct{ Scripts []string }

func (PostprocessStep) Name() string { return "postprocess" }

func (s PostprocessStep) Verify() error { return nil }

func (s PostprocessStep) Run(ctx context.Context, sb *Sandbox) error {
	for i, script := range s.Scripts {
		if err := runScriptIn(ctx, sb, fmt.Sprintf("%s-inline-%d", postprocessName, i), []byte(script), 0o755); err != nil {
			return fmt.Errorf("script %d: %w", i, err)
		}
	}
	return nil
}

// PostprocessScriptStep runs one executable host file in the sandbox, the
// same way as PostprocessStep.
type PostprocessScriptStep struct{ Path string }

func (PostprocessScriptStep) Name() string { return "postprocess-script" }

func (s PostprocessScriptStep) Verify() error {
	fi, err := os.Stat(s.Path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("%s: must be an executable file (chmod +x)", s.Path)
	}
	return nil
}

func (s PostprocessScriptStep) Run(ctx context.Context, sb *Sandbox) error {
	b, err := os.ReadFile(s.Path)
	if err != nil {
		return err
	}
	if err := runScriptIn(ctx, sb, postprocessName+"-script", b, 0o755); err != nil {
		return fmt.Errorf("%s: %w", s.Path, err)
	}
	return nil
}

func runScriptIn(ctx context.Context, sb *Sandbox, rel string, body []byte, mode fs.FileMode) error {
	host, err := rootpath.Resolve(sb.root, rel)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(host, body, mode); err != nil {
		return err
	}
	defer os.Remove(host)
	args := []string{"/" + rel}
	if !strings.HasPrefix(string(body), "#!") {
		args = []string{"/bin/sh", "/" + rel}
	}
	_, err = sb.Run(ctx, Cmd{Args: args})
	return err
}
