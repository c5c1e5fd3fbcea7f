package main

import (
	"fmt"

	"github.com/apt-ostree/apt-ostree/compose"
	"github.com/spf13/cobra"
)

func newComposeCommitCmd() *cobra.Command {
	o := compose.CommitOptions{}
	cmd := &cobra.Command{
		Use:   "commit --repo REPO --branch REF DIR",
		Short: "Commit a directory as it is into an OSTree repository",
		Long: `Commit DIR with the ownership, modes and xattrs found on disk (like rpm-ostree compose commit).
REPO is created in --mode if it does not exist. The timestamp is SOURCE_DATE_EPOCH when set, else now.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Dir = args[0]
			res, err := compose.Commit(cmd.Context(), o)
			if err != nil {
				return err
			}
			if global.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), res.Commit)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Repo, "repo", "", "OSTree repository (created if missing)")
	f.StringVarP(&o.Branch, "branch", "b", "", "ref to commit to")
	f.StringVar(&o.Mode, "mode", "archive", "mode for a new repository: archive, bare-user or bare")
	f.IntVar(&o.OwnerUID, "owner-uid", -1, "store this uid for every file instead of the on-disk owner")
	f.IntVar(&o.OwnerGID, "owner-gid", -1, "store this gid for every file instead of the on-disk group")
	f.StringVarP(&o.Subject, "subject", "s", "", "commit subject")
	f.StringVar(&o.Body, "body", "", "commit body")
	f.StringArrayVar(&o.AddMetadata, "add-metadata-string", nil, "add KEY=VALUE string metadata (repeatable)")
	f.StringVar(&o.AddMetadataJSON, "add-metadata-from-json", "", "add the keys of this JSON object to the commit metadata")
	f.StringVar(&o.WriteCommitIDTo, "write-commitid-to", "", "write the commit checksum to this file")
	f.StringVar(&o.Parent, "parent", "", "parent commit (default: the branch's current commit)")
	f.BoolVar(&o.NoParent, "no-parent", false, "make a commit without parent")
	f.IntVarP(&o.Jobs, "jobs", "j", 0, "files hashed and compressed in parallel (default: number of CPUs)")
	cmd.MarkFlagRequired("repo")
	cmd.MarkFlagRequired("branch")
	return cmd
}
