package main

import (
	"fmt"

	"github.com/apt-ostree/apt-ostree/compose"
	"github.com/spf13/cobra"
)

func newComposeEncapsulateCmd() *cobra.Command {
	o := compose.EncapsulateOptions{}
	cmd := &cobra.Command{
		Use:   "container-encapsulate --repo REPO REF DEST",
		Short: "Write an OSTree commit as a bootable container image",
		Long: `Write the commit REF of REPO as an ostree-ext (format v1) container image that bootc
and ostree container deploy, like rpm-ostree compose container-encapsulate.
DEST is oci:DIR[:TAG] or oci-archive:FILE[:TAG]; copy it to a registry with skopeo copy.
An existing oci: layout keeps its other tags. The same commit gives the same image digest.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Rev, o.Dest = args[0], args[1]
			res, err := compose.Encapsulate(cmd.Context(), o)
			if err != nil {
				return err
			}
			if global.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "Pushed digest: %s\n", res.ManifestDigest)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Repo, "repo", "", "OSTree repository")
	f.StringArrayVarP(&o.Labels, "label", "l", nil, "add image label KEY=VALUE (repeatable)")
	f.StringVar(&o.ImageConfig, "image-config", "", "JSON file with the image config's \"config\" object (Env, Entrypoint, ...)")
	f.StringArrayVar(&o.Cmd, "cmd", nil, "image CMD, one argument per flag (default: the commit's ostree.container-cmd)")
	f.StringVar(&o.Arch, "arch", "", "OCI architecture of the image (default: this machine's)")
	f.StringArrayVar(&o.CopyMeta, "copymeta", nil, "copy this commit metadata string as a label (repeatable; must exist)")
	f.StringArrayVar(&o.CopyMetaOpt, "copymeta-opt", nil, "copy this commit metadata string as a label if present (repeatable)")
	f.StringVar(&o.Compression, "compression", "gzip", "layer compression: gzip or zstd")
	cmd.MarkFlagRequired("repo")
	return cmd
}
