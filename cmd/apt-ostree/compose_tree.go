package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/apt-ostree/apt-ostree/compose"
	"github.com/apt-ostree/apt-ostree/treefile"
	"github.com/spf13/cobra"
)

// addComposeFlags registers the flags compose tree and compose rootfs share.
func addComposeFlags(cmd *cobra.Command, o *compose.Options) {
	f := cmd.Flags()
	f.StringVar(&o.CacheDir, "cachedir", defaultCacheDir(), "cache for apt indexes and downloaded .debs")
	f.StringVar(&o.Mirror, "mirror", "", "Debian archive URL for repos without a url (default: $APT_OSTREE_MIRROR, then the host's apt sources)")
	f.IntVarP(&o.Jobs, "jobs", "j", runtime.NumCPU(), "parallel jobs (downloads use 4x this)")
	f.StringArrayVar(&o.Lockfiles, "ex-lockfile", nil, "use exactly the versions and hashes in this lockfile (repeatable; later files win)")
	f.StringVar(&o.WriteLockfile, "ex-write-lockfile-to", "", "write the resolved package set as a lockfile")
	f.BoolVar(&o.Offline, "cache-only", false, "use only cached indexes and packages; no network")
	f.Var(&o.Sandbox, "sandbox", "how maintainer scripts are confined: bwrap, chroot, direct (the root is /, as in a container build step) or auto")
}

func defaultCacheDir() string {
	if os.Geteuid() == 0 {
		return "/var/cache/apt-ostree"
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "apt-ostree")
	}
	return ""
}

func newComposeTreeCmd() *cobra.Command {
	var (
		o           compose.TreeOptions
		dryRun      bool
		printOnly   bool
		unchanged77 bool
	)
	cmd := &cobra.Command{
		Use:   "tree TREEFILE --repo REPO",
		Short: "Compose a treefile into an OSTree commit",
		Long: `Resolve the treefile's packages, build and configure the root, lay it out for
OSTree and bootc, lint it, and commit it to the treefile's ref with the previous
commit as parent (like rpm-ostree compose tree). When the input hash (treefile
and resolved packages) equals the previous commit's, nothing is built.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			o.Treefile = args[0]
			out := cmd.OutOrStdout()
			if printOnly {
				tf, err := treefile.Load(ctx, o.Treefile, treefile.Options{})
				if err != nil {
					return err
				}
				data, err := tf.JSON()
				if err != nil {
					return err
				}
				_, err = fmt.Fprintln(out, string(data))
				return err
			}
			o.Progress = os.Stderr
			if global.verbose {
				o.ScriptOutput = os.Stderr
			}
			if dryRun {
				plan, err := compose.Resolve(ctx, o.Options)
				if err != nil {
					return err
				}
				if global.json {
					return plan.Resolved.WriteJSON(out)
				}
				return plan.Resolved.WriteTable(out)
			}
			res, err := compose.Tree(ctx, o)
			if err != nil {
				return err
			}
			if global.json {
				if err := printJSON(out, res); err != nil {
					return err
				}
			} else if res.Changed {
				fmt.Fprintf(out, "Wrote commit: %s\n", res.Commit)
				if res.Version != "" {
					fmt.Fprintf(out, "Version: %s\n", res.Version)
				}
				fmt.Fprintln(out, res.Summary)
			} else {
				fmt.Fprintln(out, "No apparent changes since previous commit")
			}
			if !res.Changed && unchanged77 {
				return exitError{code: 77}
			}
			return nil
		},
	}
	addComposeFlags(cmd, &o.Options)
	f := cmd.Flags()
	f.StringVarP(&o.Repo, "repo", "r", "", "OSTree repository to commit to (created as archive if missing)")
	f.StringVar(&o.Workdir, "workdir", "", "directory for the root while it is built (default: CACHEDIR/tmp)")
	f.BoolVar(&dryRun, "dry-run", false, "print the resolved package set and exit")
	f.BoolVar(&printOnly, "print-only", false, "print the merged treefile as JSON and exit")
	f.BoolVar(&o.ForceNocache, "force-nocache", false, "build even if the inputs did not change")
	f.BoolVar(&unchanged77, "unchanged-exit-77", false, "exit with status 77 when no new commit was needed")
	f.StringVar(&o.TouchIfChanged, "touch-if-changed", "", "create or touch FILE when a new commit was written")
	f.StringArrayVar(&o.AddMetadata, "add-metadata-string", nil, "add KEY=VALUE to the commit metadata (repeatable)")
	f.StringVar(&o.AddMetadataJSON, "add-metadata-from-json", "", "add the keys of this JSON object to the commit metadata")
	f.StringVar(&o.WriteCommitIDTo, "write-commitid-to", "", "write the commit id to FILE and do not update the ref")
	f.StringVar(&o.WriteComposeJSONTo, "write-composejson-to", "", "write a JSON summary of the compose to FILE")
	f.StringVar(&o.Parent, "parent", "", "parent commit (default: the ref's current commit)")
	f.BoolVar(&o.NoParent, "no-parent", false, "make a commit without parent")
	f.StringArrayVar(&o.SkipLint, "skip-lint", nil, "do not run this lint on the composed tree (repeatable)")
	return cmd
}

func newComposeRootfsCmd() *cobra.Command {
	var o compose.Options
	cmd := &cobra.Command{
		Use:   "rootfs TREEFILE DEST",
		Short: "Build the treefile's configured Debian root filesystem in DEST",
		Long: `Resolve, download, unpack and configure the treefile's packages and apply its
steps, producing a Debian root in DEST (which must not exist). The root is
built beside DEST and renamed into place only when complete.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Treefile = args[0]
			o.Progress = os.Stderr
			if global.verbose {
				o.ScriptOutput = os.Stderr
			}
			sum, err := compose.Rootfs(cmd.Context(), args[1], o)
			if err != nil {
				return err
			}
			if global.json {
				return printJSON(cmd.OutOrStdout(), sum)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), sum)
			return err
		},
	}
	addComposeFlags(cmd, &o)
	return cmd
}
