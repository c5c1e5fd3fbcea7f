package oci

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Target is a parsed image destination of compose image: "oci:DIR[:TAG]",
// "oci-archive:FILE[:TAG]", "docker-archive:FILE[:REFERENCE]" or
// "docker://REGISTRY/NAME[:TAG]".
type Target struct {
	// Transport is "oci", "oci-archive", "docker-archive" or "docker".
	Transport string
	// Path is the directory or file (not used for docker).
	Path string
	// Tag is the oci tag, or the docker-archive image reference (name:tag).
	Tag string
	// Ref is the registry reference of a docker:// target.
	Ref string
}

func (t Target) String() string {
	switch t.Transport {
	case "docker":
		return "docker://" + t.Ref
	case "docker-archive":
		if t.Tag != "" {
			return "docker-archive:" + t.Path + ":" + t.Tag
		}
		return "docker-archive:" + t.Path
	}
	return Dest{Transport: t.Transport, Path: t.Path, Tag: t.Tag}.String()
}

const targetForms = "oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG] or docker://REGISTRY/NAME:TAG"

// ErrTarget is returned (wrapped) by ParseTarget for a destination it
// cannot write: the command line was wrong.
var ErrTarget = errors.New("invalid image destination")

type targetError struct{ err error }

func (e targetError) Error() string        { return e.err.Error() }
func (e targetError) Unwrap() error        { return e.err }
func (e targetError) Is(target error) bool { return target == ErrTarget }

// ParseTarget parses a compose image destination; other transports are
// refused with the supported list. Errors wrap ErrTarget.
func ParseTarget(ref string) (Target, error) {
	t, err := parseTarget(ref)
	if err != nil {
		return Target{}, targetError{err}
	}
	return t, nil
}

func parseTarget(ref string) (Target, error) {
	transport, rest, ok := strings.Cut(ref, ":")
	if !ok {
		return Target{}, fmt.Errorf("image destination %q: want %s", ref, targetForms)
	}
	switch transport {
	case "oci", "oci-archive":
		d, err := ParseDest(ref)
		if err != nil {
			return Target{}, err
		}
		return Target{Transport: d.Transport, Path: d.Path, Tag: d.Tag}, nil
	case "docker-archive":
		p, tag, _ := strings.Cut(rest, ":")
		if p == "" {
			return Target{}, fmt.Errorf("image destination %q: missing path after docker-archive:", ref)
		}
		if tag != "" {
			if _, err := name.NewTag(tag); err != nil {
				return Target{}, fmt.Errorf("image destination %q: invalid image reference %q: %w", ref, tag, err)
			}
		}
		return Target{Transport: transport, Path: p, Tag: tag}, nil
	case "docker":
		r, ok := strings.CutPrefix(rest, "//")
		if !ok || r == "" {
			return Target{}, fmt.Errorf("image destination %q: want docker://REGISTRY/NAME:TAG", ref)
		}
		if _, err := name.ParseReference(r); err != nil {
			return Target{}, fmt.Errorf("image destination %q: %w", ref, err)
		}
		return Target{Transport: transport, Ref: r}, nil
	case "containers-storage":
		return Target{}, fmt.Errorf("image destination %q: containers-storage: is not supported (writing it needs the containers/storage library, which does not build with CGO_ENABLED=0); write oci:DIR and run skopeo copy oci:DIR containers-storage:NAME", ref)
	}
	return Target{}, fmt.Errorf("image destination %q: transport %q is not supported; write %s", ref, transport, targetForms)
}

// ExportOptions control Export's registry access.
type ExportOptions struct {
	// AuthFile is a containers auth.json ({"auths": {REGISTRY: {"auth":
	// base64(user:password)}}}); empty uses the default keychain
	// ($REGISTRY_AUTH_FILE, containers/auth.json, ~/.docker/config.json).
	AuthFile string
	// Insecure allows plain HTTP and unverified TLS (--tls-verify=false).
	Insecure bool
}

// Export copies the single image of the OCI layout in dir to target and
// returns its manifest digest. oci: and oci-archive: targets are written as
// Encapsulate writes them (an existing layout keeps its other tags);
// docker-archive: through go-containerregistry's tarball package; docker://
// is pushed with remote.Write (blobs the registry has are not sent again).
func Export(ctx context.Context, dir string, t Target, opts ExportOptions) (v1.Hash, error) {
	data, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("export %s: %w", dir, err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(data, &idx); err != nil {
		return v1.Hash{}, fmt.Errorf("export %s: index.json: %w", dir, err)
	}
	if len(idx.Manifests) != 1 {
		return v1.Hash{}, fmt.Errorf("export %s: the layout holds %d images, want one", dir, len(idx.Manifests))
	}
	md := idx.Manifests[0]
	md.Annotations = nil
	switch t.Transport {
	case "oci", "oci-archive":
		return md.Digest, exportLayout(dir, Dest{Transport: t.Transport, Path: t.Path, Tag: t.Tag}, md)
	}
	img, err := layout.Path(dir).Image(md.Digest)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("export %s: %w", dir, err)
	}
	switch t.Transport {
	case "docker-archive":
		var ref name.Reference
		if t.Tag != "" {
			ref, err = name.NewTag(t.Tag)
		} else {
			ref, err = name.NewDigest("image@" + md.Digest.String())
		}
		if err != nil {
			return v1.Hash{}, fmt.Errorf("image destination %s: %w", t, err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Clean(t.Path)), 0o755); err != nil {
			return v1.Hash{}, fmt.Errorf("image destination %s: %w", t, err)
		}
		f, err := os.CreateTemp(filepath.Dir(filepath.Clean(t.Path)), "."+filepath.Base(t.Path)+".tmp-")
		if err != nil {
			return v1.Hash{}, fmt.Errorf("image destination %s: %w", t, err)
		}
		err = tarball.Write(ref, img, f)
		if err == nil {
			err = f.Chmod(0o644)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(f.Name(), t.Path)
		}
		if err != nil {
			os.Remove(f.Name())
			return v1.Hash{}, fmt.Errorf("image destination %s: %w", t, err)
		}
		return md.Digest, nil
	case "docker":
		ref, ropts, err := remoteRef(ctx, t, opts)
		if err != nil {
			return v1.Hash{}, err
		}
		if err := remote.Write(ref, img, ropts...); err != nil {
			return v1.Hash{}, fmt.Errorf("push to %s: %w (log in with skopeo/podman login or pass --authfile; --tls-verify=false for a plain-HTTP registry)", t, err)
		}
		return md.Digest, nil
	}
	return v1.Hash{}, fmt.Errorf("image destination %s: transport %q is not supported; write %s", t, t.Transport, targetForms)
}

// exportLayout copies the blobs of the layout in dir into a staging layout
// beside dest (hard links when on the same file system) and commits it with
// manifest md.
func exportLayout(dir string, dest Dest, md v1.Descriptor) error {
	st, err := newStaging(dest)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			st.remove()
		}
	}()
	src := filepath.Join(dir, "blobs", "sha256")
	ents, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("export %s: %w", dir, err)
	}
	for _, e := range ents {
		from, to := filepath.Join(src, e.Name()), filepath.Join(st.dir, "blobs", "sha256", e.Name())
		if os.Link(from, to) == nil {
			continue
		}
		if err := copyFile(from, to); err != nil {
			return fmt.Errorf("image destination %s: %w", dest, err)
		}
	}
	if err := st.commit(dest, md); err != nil {
		return err
	}
	ok = true
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// authFileKeychain reads a containers auth.json (the docker config.json
// "auths" format).
func authFileKeychain(path string) (authn.Keychain, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authfile: %w", err)
	}
	var f struct {
		Auths map[string]struct {
			Auth     string `json:"auth"`
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"auths"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("authfile %s: %w (want a containers auth.json: {\"auths\": {\"REGISTRY\": {\"auth\": \"BASE64(USER:PASSWORD)\"}}})", path, err)
	}
	kc := authKeychain{}
	for reg, a := range f.Auths {
		cfg := authn.AuthConfig{Username: a.Username, Password: a.Password}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("authfile %s: registry %s: auth is not base64: %w", path, reg, err)
			}
			u, p, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, fmt.Errorf("authfile %s: registry %s: auth is not base64(USER:PASSWORD)", path, reg)
			}
			cfg.Username, cfg.Password = u, p
		}
		reg = strings.TrimPrefix(strings.TrimPrefix(reg, "https://"), "http://")
		reg, _, _ = strings.Cut(reg, "/")
		kc[reg] = cfg
	}
	return kc, nil
}

// authKeychain maps a registry host to its credentials.
type authKeychain map[string]authn.AuthConfig

func (k authKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if c, ok := k[r.RegistryStr()]; ok {
		return authn.FromConfig(c), nil
	}
	return authn.Anonymous, nil
}

// PreviousManifest returns the manifest of the image at target, to keep its
// chunk layers stable (ChunkOptions.Previous), or nil when there is none:
// the oci: or oci-archive: path (and tag) does not exist, or the registry
// has no such manifest. docker-archive: targets give nil (the archive keeps
// no layer annotations).
func PreviousManifest(ctx context.Context, t Target, opts ExportOptions) (*v1.Manifest, error) {
	switch t.Transport {
	case "oci", "oci-archive":
		if _, err := os.Stat(t.Path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		img, err := Open(ctx, t.String())
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, nil
			}
			return nil, fmt.Errorf("previous image at %s: %w", t, err)
		}
		defer img.Close()
		return img.Manifest, nil
	case "docker":
		ref, ropts, err := remoteRef(ctx, t, opts)
		if err != nil {
			return nil, err
		}
		img, err := remote.Image(ref, ropts...)
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("previous image at %s: %w", t, err)
		}
		return img.Manifest()
	}
	return nil, nil
}

// remoteRef parses a docker:// target and returns the registry options
// (context, credentials, TLS) for it.
func remoteRef(ctx context.Context, t Target, opts ExportOptions) (name.Reference, []remote.Option, error) {
	var nopts []name.Option
	if opts.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	ref, err := name.ParseReference(t.Ref, nopts...)
	if err != nil {
		return nil, nil, fmt.Errorf("image destination %s: %w", t, err)
	}
	var kc authn.Keychain = authn.DefaultKeychain
	if opts.AuthFile != "" {
		if kc, err = authFileKeychain(opts.AuthFile); err != nil {
			return nil, nil, err
		}
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}
	if opts.Insecure {
		tr := remote.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // --tls-verify=false
		ropts = append(ropts, remote.WithTransport(tr))
	}
	return ref, ropts, nil
}
