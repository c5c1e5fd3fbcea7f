package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/apt-ostree/apt-ostree/lint"
	"github.com/apt-ostree/apt-ostree/ostree"
	"github.com/spf13/cobra"
)

type lintFlags struct {
	rootfs        string
	repo          string
	fatalWarnings bool
	list          bool
	noTruncate    bool
	skip          []string
}

func newLintCmd() *cobra.Command {
	var f lintFlags
	cmd := &cobra.Command{
		Use:   "lint [--rootfs DIR | IMAGE | --repo REPO REF]",
		Short: "Check an image root with bootc's container lints and Debian checks",
		Long: `Run bootc's "container lint" checks (same names, severities and messages) and
apt-ostree's Debian checks on an image root: the running system (the default),
a directory (--rootfs DIR), an OCI image (oci:DIR[:TAG] or oci-archive:FILE[:TAG],
read straight from its layers) or an OSTree commit (--repo REPO REF).
Exit status is 1 when a fatal lint fails (or any lint, with --fatal-warnings).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLint(cmd.Context(), cmd.OutOrStdout(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.rootfs, "rootfs", "", "lint this directory as the image root (default /)")
	fl.StringVar(&f.repo, "repo", "", "lint the commit REF of this OSTree repository")
	fl.BoolVar(&f.fatalWarnings, "fatal-warnings", false, "make warnings count as failures")
	fl.BoolVar(&f.list, "list", false, "print every lint as YAML and exit")
	fl.BoolVar(&f.noTruncate, "no-truncate", false, "print every item instead of the first 5")
	fl.StringArrayVar(&f.skip, "skip", nil, "do not run the lint `NAME` (repeatable)")
	return cmd
}

// newContainerCmd groups bootc's spelling, `container lint`.
func newContainerCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "container", Short: "bootc-compatible container commands"}
	cmd.AddCommand(newLintCmd())
	return cmd
}

func runLint(ctx context.Context, stdout io.Writer, f lintFlags, args []string) error {
	if f.list {
		return lint.WriteList(stdout)
	}
	fsys, running, closeFS, err := lintTarget(ctx, f, args)
	if err != nil {
		return err
	}
	defer closeFS()
	rep, err := lint.Run(ctx, fsys, lint.Options{Skip: f.skip, FatalWarnings: f.fatalWarnings, NoTruncate: f.noTruncate, Running: running})
	if err != nil {
		return err
	}
	if global.json {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return err
	}
	return rep.Err()
}

// lintTarget opens what the flags and argument name; running is true for "/".
func lintTarget(ctx context.Context, f lintFlags, args []string) (fsys fs.FS, running bool, closeFS func(), err error) {
	noop := func() {}
	n := 0
	for _, set := range []bool{f.rootfs != "", f.repo != "", len(args) > 0 && f.repo == ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, false, noop, fmt.Errorf("give only one of --rootfs DIR, IMAGE or --repo REPO REF")
	}
	switch {
	case f.repo != "":
		if len(args) != 1 {
			return nil, false, noop, fmt.Errorf("--repo %s needs a REF argument", f.repo)
		}
		repo, err := ostree.Open(f.repo)
		if err != nil {
			return nil, false, noop, err
		}
		fsys, err := repo.FS(ctx, args[0])
		if err != nil {
			return nil, false, noop, fmt.Errorf("open commit %s in %s: %w", args[0], f.repo, err)
		}
		return fsys, false, noop, nil
	case len(args) == 1:
		if !lint.IsImageRef(args[0]) {
			return nil, false, noop, fmt.Errorf("%q is not an image reference: use oci:DIR[:TAG] or oci-archive:FILE[:TAG], or --rootfs DIR for a directory", args[0])
		}
		img, err := lint.OpenImage(ctx, args[0])
		if err != nil {
			return nil, false, noop, err
		}
		return img, false, func() { img.Close() }, nil
	}
	root := f.rootfs
	if root == "" {
		root = "/"
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, false, noop, fmt.Errorf("--rootfs %s: %w", root, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, false, noop, fmt.Errorf("--rootfs %s: not a directory", root)
	}
	return lint.DirFS(abs), abs == "/", noop, nil
}
