package compose

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/apt-ostree/apt-ostree/oci"
	"github.com/apt-ostree/apt-ostree/ostree"
)

// EncapsulateOptions are compose container-encapsulate's settings, as
// rpm-ostree's command of that name.
type EncapsulateOptions struct {
	// Repo is the OSTree repository holding Rev (a ref or checksum).
	Repo, Rev string
	// Dest is oci:DIR[:TAG] or oci-archive:FILE[:TAG].
	Dest string
	// Labels are KEY=VALUE image labels; they override derived ones.
	Labels []string
	// ImageConfig is a file holding the OCI image config's "config" object
	// (Env, Entrypoint, ...).
	ImageConfig string
	// Cmd replaces the commit's ostree.container-cmd.
	Cmd []string
	// Arch is the OCI architecture (default: this machine's).
	Arch string
	// CopyMeta and CopyMetaOpt are commit metadata keys copied as labels;
	// a missing CopyMeta key is an error.
	CopyMeta, CopyMetaOpt []string
	// Compression is the layer compression: gzip (default) or zstd.
	Compression string
}

// EncapsulateResult is what container-encapsulate wrote.
type EncapsulateResult struct {
	Commit         string `json:"commit"`
	ManifestDigest string `json:"manifest_digest"`
	Dest           string `json:"dest"`
}

// Encapsulate writes a commit of an existing repository as a bootable
// ostree-ext container image (oci.Encapsulate).
func Encapsulate(ctx context.Context, opts EncapsulateOptions) (*EncapsulateResult, error) {
	repo, err := ostree.Open(opts.Repo)
	if err != nil {
		return nil, err
	}
	o := oci.EncapsulateOptions{Cmd: opts.Cmd, Architecture: opts.Arch, CopyMeta: opts.CopyMeta, CopyMetaOpt: opts.CopyMetaOpt, Compression: opts.Compression}
	if o.Labels, o.Config, err = imageSettings(opts.Labels, opts.ImageConfig); err != nil {
		return nil, err
	}
	res, err := oci.Encapsulate(ctx, repo, opts.Rev, opts.Dest, o)
	if err != nil {
		return nil, err
	}
	return &EncapsulateResult{Commit: res.Config.Config.Labels["ostree.commit"], ManifestDigest: res.ManifestDigest.String(), Dest: opts.Dest}, nil
}

// imageSettings parses --label KEY=VALUE values and the --image-config file
// (the JSON of an OCI image config's "config" object).
func imageSettings(labels []string, imageConfig string) (map[string]string, *v1.Config, error) {
	var out map[string]string
	if len(labels) > 0 {
		out = map[string]string{}
		for _, l := range labels {
			k, v, ok := strings.Cut(l, "=")
			if !ok || k == "" {
				return nil, nil, fmt.Errorf("label %q: want KEY=VALUE", l)
			}
			out[k] = v
		}
	}
	if imageConfig == "" {
		return out, nil, nil
	}
	data, err := os.ReadFile(imageConfig)
	if err != nil {
		return nil, nil, fmt.Errorf("image config: %w", err)
	}
	var cfg v1.Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, nil, fmt.Errorf("image config %s: %w (want the JSON of an OCI image config's \"config\" object)", imageConfig, err)
	}
	return out, &cfg, nil
}
