package lint

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/apt-ostree/apt-ostree/oci"
	"github.com/apt-ostree/apt-ostree/ostree"
)

// Target names the root to lint: at most one of a directory (Rootfs), an
// image (Image, "oci:DIR[:TAG]" or "oci-archive:FILE[:TAG]") or an OSTree
// commit (Repo and Ref). None names the running system, "/".
type Target struct {
	Rootfs string
	Image  string
	Repo   string
	Ref    string
}

// ErrTarget is returned (wrapped) for a Target that names nothing valid;
// the command line was wrong.
var ErrTarget = errors.New("invalid lint target")

// RunTarget opens target, lints it (Options.Running is set when it is the
// running system's "/") and closes it.
func RunTarget(ctx context.Context, target Target, opts Options) (Report, error) {
	fsys, running, closeFS, err := openTarget(ctx, target)
	if err != nil {
		return Report{}, err
	}
	defer closeFS()
	opts.Running = running
	return Run(ctx, fsys, opts)
}

func openTarget(ctx context.Context, t Target) (fsys fs.FS, running bool, closeFS func() error, err error) {
	noop := func() error { return nil }
	n := 0
	for _, set := range []bool{t.Rootfs != "", t.Image != "", t.Repo != ""} {
		if set {
			n++
		}
	}
	switch {
	case n > 1:
		return nil, false, noop, fmt.Errorf("%w: give only one of --rootfs DIR, IMAGE or --repo REPO REF", ErrTarget)
	case t.Repo == "" && t.Ref != "":
		return nil, false, noop, fmt.Errorf("%w: REF %s needs --repo REPO", ErrTarget, t.Ref)
	case t.Repo != "":
		if t.Ref == "" {
			return nil, false, noop, fmt.Errorf("%w: --repo %s needs a REF argument", ErrTarget, t.Repo)
		}
		repo, err := ostree.Open(t.Repo)
		if err != nil {
			return nil, false, noop, err
		}
		fsys, err := repo.FS(ctx, t.Ref)
		if err != nil {
			return nil, false, noop, fmt.Errorf("open commit %s in %s: %w", t.Ref, t.Repo, err)
		}
		return fsys, false, noop, nil
	case t.Image != "":
		if !oci.IsRef(t.Image) {
			return nil, false, noop, fmt.Errorf("%w: %q is not an image reference: use oci:DIR[:TAG] or oci-archive:FILE[:TAG], or --rootfs DIR for a directory", ErrTarget, t.Image)
		}
		img, err := OpenImage(ctx, t.Image)
		if err != nil {
			return nil, false, noop, err
		}
		return img, false, img.Close, nil
	}
	root := t.Rootfs
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
	return DirFS(abs), abs == "/", noop, nil
}
