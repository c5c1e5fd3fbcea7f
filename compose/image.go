package compose

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/apt-ostree/apt-ostree/internal/workdir"
	"github.com/apt-ostree/apt-ostree/lint"
	"github.com/apt-ostree/apt-ostree/oci"
	"github.com/apt-ostree/apt-ostree/ostree"
)

// ImageOptions are compose image's settings: compose tree's (Repo may be
// empty) plus the image's.
type ImageOptions struct {
	TreeOptions
	// Dest is oci:DIR[:TAG], oci-archive:FILE[:TAG],
	// docker-archive:FILE[:NAME:TAG] or docker://REGISTRY/NAME:TAG.
	Dest string
	// Labels are KEY=VALUE image labels; they override derived ones.
	Labels []string
	// ImageConfig is a file holding the OCI image config's "config" object.
	ImageConfig string
	// Format is the image format; only "ostree" (the default) is written.
	Format string
	// Compression is the layer compression: gzip (default) or zstd.
	Compression string
	// MaxLayers is the most layers of the image (the ostree layer
	// included); 0 means oci.DefaultMaxLayers, 1 puts all content in the
	// ostree layer.
	MaxLayers int
	// PreviousBuildManifest is the manifest JSON of the previous build;
	// empty: the image already at Dest, if any. Its chunk layers' package
	// groups are kept, so an unchanged package keeps its layer digest.
	PreviousBuildManifest string
	// AuthFile and Insecure are for docker:// (see oci.ExportOptions).
	AuthFile string
	Insecure bool
}

// ImageResult is what compose image did.
type ImageResult struct {
	// Tree is the compose of the commit (Changed false: it was reused).
	Tree           *TreeResult `json:"tree"`
	Commit         string      `json:"commit"`
	ManifestDigest string      `json:"manifest_digest"`
	Dest           string      `json:"dest"`
}

// Image composes the treefile into a commit (compose.Tree; an unchanged
// input hash reuses the previous commit of the ref) in opts.Repo, or in
// CACHEDIR/repo when none is given, encapsulates it as an ostree-ext image
// in a temporary OCI layout with its content chunked by Debian package
// (oci.ChunkByPackage, keeping the groups of the previous build), lints
// that image (fatal findings fail and nothing is written) and copies it to
// Dest. Options that cannot work are refused before anything is composed.
func Image(ctx context.Context, opts ImageOptions) (*ImageResult, error) {
	target, err := oci.ParseTarget(opts.Dest)
	if err != nil {
		return nil, err
	}
	switch opts.Format {
	case "", "ostree":
	default:
		return nil, fmt.Errorf("compose image: --format %q is not supported; apt-ostree writes only ostree (ostree-ext encapsulated) images", opts.Format)
	}
	labels, cfg, err := imageSettings(opts.Labels, opts.ImageConfig)
	if err != nil {
		return nil, err
	}
	if opts.Compression != "" && !slices.Contains(oci.Compressions, opts.Compression) {
		return nil, fmt.Errorf("compose image: unknown layer compression %q (use %s)", opts.Compression, strings.Join(oci.Compressions, " or "))
	}
	if opts.MaxLayers < 0 || opts.MaxLayers > oci.MaxLayersLimit {
		return nil, fmt.Errorf("compose image: --max-layers %d: want 1 to %d (Docker cannot pull images with more layers; the ostree layer counts as one)", opts.MaxLayers, oci.MaxLayersLimit)
	}
	var previous *v1.Manifest
	if opts.PreviousBuildManifest != "" {
		data, err := os.ReadFile(opts.PreviousBuildManifest)
		if err != nil {
			return nil, fmt.Errorf("compose image: --previous-build-manifest: %w", err)
		}
		if previous, err = v1.ParseManifest(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("compose image: --previous-build-manifest %s: %w (want an OCI image manifest JSON)", opts.PreviousBuildManifest, err)
		}
	}
	exportOpts := oci.ExportOptions{AuthFile: opts.AuthFile, Insecure: opts.Insecure}
	if opts.CacheDir == "" {
		return nil, errors.New("compose image: no cache directory: pass --cachedir")
	}
	if opts.Repo == "" {
		opts.Repo = filepath.Join(opts.CacheDir, "repo")
	}
	tree, err := Tree(ctx, opts.TreeOptions)
	if err != nil {
		return nil, err
	}
	repo, err := ostree.Open(opts.Repo)
	if err != nil {
		return nil, err
	}
	tmpRoot := filepath.Join(opts.CacheDir, "tmp")
	if err := os.MkdirAll(tmpRoot, 0o755); err != nil {
		return nil, fmt.Errorf("compose image: %w", err)
	}
	// Layouts of killed runs are removed; this one names its process.
	if err := workdir.RemoveStale(tmpRoot, "image-*", workdir.CleanOptions{Unmarked: true, Logger: opts.logger()}); err != nil {
		return nil, fmt.Errorf("compose image: %w", err)
	}
	work, err := workdir.Create(tmpRoot, "image-*")
	if err != nil {
		return nil, fmt.Errorf("compose image: %w", err)
	}
	defer func() {
		if err := work.Remove(); err != nil {
			opts.logger().Warn("could not remove the temporary image layout", "dir", work.Path(), "err", err)
		}
	}()
	tmp := work.Path()
	if previous == nil && opts.PreviousBuildManifest == "" {
		// The image already at DEST keeps the chunks stable; without it
		// (or unreadable) the chunks are packed afresh.
		if previous, err = oci.PreviousManifest(ctx, target, exportOpts); err != nil {
			opts.logger().Warn("compose image: not reusing the layers of the image at the destination", "dest", opts.Dest, "err", err)
		}
	}
	chunks, err := oci.ChunkByPackage(ctx, repo, tree.Commit, oci.ChunkOptions{MaxLayers: opts.MaxLayers, Previous: previous})
	if err != nil {
		return nil, fmt.Errorf("compose image: %w", err)
	}
	layout := filepath.Join(tmp, "layout")
	if _, err := oci.Encapsulate(ctx, repo, tree.Commit, "oci:"+layout, oci.EncapsulateOptions{
		Chunks: chunks,
		// As rpm-ostree's rpmostree.inputhash: what the image was built from.
		CopyMetaOpt: []string{MetaInputHash},
		Labels:      labels,
		Config:      cfg,
		Compression: opts.Compression,
	}); err != nil {
		return nil, fmt.Errorf("compose image: %w", err)
	}
	report, err := lint.RunTarget(ctx, lint.Target{Image: "oci:" + layout}, lint.Options{Skip: opts.SkipLint})
	if err != nil {
		return nil, fmt.Errorf("compose image: lint the image: %w", err)
	}
	for _, r := range report.Results {
		if r.Failed() {
			opts.logger().Warn("lint: "+r.Name, "type", r.Type.String(), "message", strings.Join(r.Message, "; "))
		}
	}
	if err := report.Err(); err != nil {
		return nil, fmt.Errorf("compose image: the image fails bootc's lints (see the warnings above; skip one with --skip-lint NAME); nothing was written to %s: %w", opts.Dest, err)
	}
	digest, err := oci.Export(ctx, layout, target, exportOpts)
	if err != nil {
		return nil, fmt.Errorf("compose image: %w", err)
	}
	return &ImageResult{Tree: tree, Commit: tree.Commit, ManifestDigest: digest.String(), Dest: target.String()}, nil
}
