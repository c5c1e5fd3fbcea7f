package main

import (
	"context"
	"errors"

	"github.com/apt-ostree/apt-ostree/lint"
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
read straight from its layers, each blob checked against its digest) or an
OSTree commit (--repo REPO REF). Exit status is 1 when a fatal lint fails (or
any lint, with --fatal-warnings), 2 when the command line is wrong.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLint(cmd.Context(), cmd, f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.rootfs, "rootfs", "", "lint this directory as the image root (default /)")
	fl.StringVar(&f.repo, "repo", "", "lint the commit REF of this OSTree repository")
	fl.BoolVar(&f.fatalWarnings, "fatal-warnings", false, "make warnings count as failures")
	fl.BoolVar(&f.list, "list", false, "print every lint as YAML (JSON with --json) and exit")
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

func runLint(ctx context.Context, cmd *cobra.Command, f lintFlags, args []string) error {
	stdout := cmd.OutOrStdout()
	if f.list {
		return lint.WriteList(stdout, global.json)
	}
	target := lint.Target{Rootfs: f.rootfs, Repo: f.repo}
	if len(args) == 1 {
		if f.repo != "" {
			target.Ref = args[0]
		} else {
			target.Image = args[0]
		}
	}
	rep, err := lint.RunTarget(ctx, target, lint.Options{Skip: f.skip, FatalWarnings: f.fatalWarnings, NoTruncate: f.noTruncate})
	if errors.Is(err, lint.ErrTarget) || errors.Is(err, lint.ErrUnknownLint) {
		return usageError{cmd: cmd.CommandPath(), err: err}
	}
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
