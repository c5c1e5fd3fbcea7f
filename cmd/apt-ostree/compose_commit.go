package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/apt-ostree/apt-ostree/ostree"
	"github.com/spf13/cobra"
)

func newComposeCommitCmd() *cobra.Command {
	var (
		repo, branch, mode, subject, body, commitIDFile, parent string
		ownerUID, ownerGID, jobs                                int
		metadata                                                []string
		noParent                                                bool
	)
	cmd := &cobra.Command{
		Use:   "commit --repo REPO --branch REF DIR",
		Short: "Commit a directory as it is into an OSTree repository",
		Long: `Commit DIR with the ownership, modes and xattrs found on disk (like rpm-ostree compose commit).
REPO is created in --mode if it does not exist. The timestamp is SOURCE_DATE_EPOCH when set, else now.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			opts := ostree.CommitOptions{Ref: branch, WriteRef: true, Parent: parent, NoParent: noParent,
				Subject: subject, Body: body, OwnerUID: ownerUID, OwnerGID: ownerGID, Jobs: jobs}
			if len(metadata) > 0 {
				opts.Metadata = map[string]any{}
				for _, kv := range metadata {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return fmt.Errorf("--add-metadata-string %q: want KEY=VALUE", kv)
					}
					opts.Metadata[k] = v
				}
			}
			if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
				sec, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					return fmt.Errorf("SOURCE_DATE_EPOCH=%q: want seconds since 1970", s)
				}
				opts.Timestamp = time.Unix(sec, 0)
			}
			m, err := ostree.ParseRepoMode(mode)
			if err != nil {
				return err
			}
			r, err := ostree.Open(repo)
			if errors.Is(err, ostree.ErrNotRepo) {
				r, err = ostree.Init(ctx, repo, m)
			}
			if err != nil {
				return err
			}
			c, stats, err := r.CommitDir(ctx, args[0], opts)
			if err != nil {
				return err
			}
			if commitIDFile != "" {
				if err := os.WriteFile(commitIDFile, []byte(c.String()), 0o644); err != nil {
					return fmt.Errorf("--write-commitid-to: %w", err)
				}
			}
			if global.json {
				return printJSON(cmd.OutOrStdout(), struct {
					Commit string             `json:"commit"`
					Ref    string             `json:"ref"`
					Stats  ostree.CommitStats `json:"stats"`
				}{c.String(), branch, stats})
			}
			fmt.Fprintln(cmd.OutOrStdout(), c.String())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&repo, "repo", "", "OSTree repository (created if missing)")
	f.StringVarP(&branch, "branch", "b", "", "ref to commit to")
	f.StringVar(&mode, "mode", "archive", "mode for a new repository: archive, bare-user or bare")
	f.IntVar(&ownerUID, "owner-uid", -1, "store this uid for every file instead of the on-disk owner")
	f.IntVar(&ownerGID, "owner-gid", -1, "store this gid for every file instead of the on-disk group")
	f.StringVarP(&subject, "subject", "s", "", "commit subject")
	f.StringVar(&body, "body", "", "commit body")
	f.StringArrayVar(&metadata, "add-metadata-string", nil, "add KEY=VALUE string metadata (repeatable)")
	f.StringVar(&commitIDFile, "write-commitid-to", "", "write the commit checksum to this file")
	f.StringVar(&parent, "parent", "", "parent commit (default: the branch's current commit)")
	f.BoolVar(&noParent, "no-parent", false, "make a commit without parent")
	f.IntVarP(&jobs, "jobs", "j", 0, "files hashed and compressed in parallel (default: number of CPUs)")
	cmd.MarkFlagRequired("repo")
	cmd.MarkFlagRequired("branch")
	return cmd
}
