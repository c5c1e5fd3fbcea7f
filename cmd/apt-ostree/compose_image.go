package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/apt-ostree/apt-ostree/compose"
	"github.com/apt-ostree/apt-ostree/oci"
	"github.com/spf13/cobra"
)

func newComposeImageCmd() *cobra.Command {
	var (
		o         compose.ImageOptions
		tlsVerify bool
	)
	cmd := &cobra.Command{
		Use:   "image TREEFILE DEST",
		Short: "Compose a treefile into a bootable container image",
		Long: `Compose the treefile into an OSTree commit as compose tree does (in --repo, or in
a repository in the cache directory; an unchanged input hash reuses the previous
commit), write it as an ostree-ext (format v1) container image with its content
in layers by Debian package (keeping the layers of the previous build, read from
--previous-build-manifest or the image at DEST), lint the image,
and copy it to DEST, like rpm-ostree compose image. DEST is oci:DIR[:TAG],
oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG] or
docker://REGISTRY/NAME:TAG (credentials from --authfile or the usual containers
and docker auth files). containers-storage: is not supported; write oci:DIR and
copy it with skopeo. The same inputs and SOURCE_DATE_EPOCH give the same image
digest.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Treefile, o.Dest = args[0], args[1]
			o.Insecure = !tlsVerify
			o.Progress = os.Stderr
			if global.verbose {
				o.ScriptOutput = os.Stderr
			}
			res, err := compose.Image(cmd.Context(), o)
			if errors.Is(err, oci.ErrTarget) {
				return usageError{cmd: cmd.CommandPath(), err: err}
			}
			if err != nil {
				return err
			}
			if global.json {
				return printJSON(cmd.OutOrStdout(), res)
			}
			out := cmd.OutOrStdout()
			if res.Tree.Changed {
				fmt.Fprintf(out, "Wrote commit: %s\n", res.Commit)
			} else {
				fmt.Fprintf(out, "No apparent changes since previous commit %s\n", res.Commit)
			}
			_, err = fmt.Fprintf(out, "Pushed digest: %s\n", res.ManifestDigest)
			return err
		},
	}
	addComposeFlags(cmd, &o.Options)
	f := cmd.Flags()
	f.StringVarP(&o.Repo, "repo", "r", "", "OSTree repository that keeps the commit (default: CACHEDIR/repo)")
	f.StringVar(&o.Workdir, "workdir", "", "directory for the root while it is built (default: CACHEDIR/tmp)")
	f.BoolVar(&o.ForceNocache, "force-nocache", false, "build even if the inputs did not change")
	f.StringVar(&o.TouchIfChanged, "touch-if-changed", "", "create or touch FILE when a new commit was written")
	f.StringArrayVar(&o.AddMetadata, "add-metadata-string", nil, "add KEY=VALUE to the commit metadata (repeatable)")
	f.StringArrayVar(&o.SkipLint, "skip-lint", nil, "do not run this lint on the tree and the image (repeatable)")
	f.StringArrayVarP(&o.Labels, "label", "l", nil, "add image label KEY=VALUE (repeatable)")
	f.StringVar(&o.ImageConfig, "image-config", "", "JSON file with the image config's \"config\" object (Env, Entrypoint, ...)")
	f.StringVar(&o.Format, "format", "ostree", "image format: ostree (the commit embedded, ostree-ext format v1)")
	f.StringVar(&o.Compression, "compression", "gzip", "layer compression: gzip or zstd")
	f.IntVar(&o.MaxLayers, "max-layers", oci.DefaultMaxLayers, "most layers of the image, the ostree layer included; content is chunked by Debian package")
	f.StringVar(&o.PreviousBuildManifest, "previous-build-manifest", "", "manifest JSON of the previous build, whose package layers are kept (default: the image at DEST)")
	f.StringVar(&o.AuthFile, "authfile", "", "containers auth.json with the registry credentials for docker://")
	f.BoolVar(&tlsVerify, "tls-verify", true, "verify the registry's TLS certificate and use HTTPS (false: plain HTTP or unverified TLS)")
	return cmd
}
