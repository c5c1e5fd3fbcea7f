package compose

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/apt-ostree/apt-ostree/bootc"
	"github.com/apt-ostree/apt-ostree/internal/atomicfile"
	"github.com/apt-ostree/apt-ostree/lint"
	"github.com/apt-ostree/apt-ostree/ostree"
	"github.com/apt-ostree/apt-ostree/ostree/gvariant"
)

// Commit metadata keys apt-ostree writes besides ostree's own.
const (
	MetaInputHash = "apt-ostree.inputhash"
	MetaPackages  = "apt-ostree.packages"
	MetaInitramfs = "apt-ostree.initramfs-args"
	MetaVersion   = "version"
)

// TreeOptions are compose tree's settings on top of Options.
type TreeOptions struct {
	Options
	// Repo is the OSTree repository; an archive repo is created if missing.
	Repo string
	// Workdir holds the root while it is built; default CacheDir/tmp.
	Workdir string
	// ForceNocache builds even when the input hash is unchanged.
	ForceNocache bool
	// AddMetadata are --add-metadata-string KEY=VALUE values (highest priority).
	AddMetadata []string
	// AddMetadataJSON is --add-metadata-from-json: a file with an object.
	AddMetadataJSON string
	// WriteCommitIDTo writes the commit id there and leaves the ref alone.
	WriteCommitIDTo string
	// WriteComposeJSONTo writes rpm-ostree's compose JSON there.
	WriteComposeJSONTo string
	// TouchIfChanged creates or updates the mtime of this file when a new
	// commit was written.
	TouchIfChanged string
	// Parent overrides the parent commit; NoParent makes a root commit.
	Parent   string
	NoParent bool
	// SkipLint names lints not to run on the tree before committing.
	SkipLint []string
}

// TreeResult is what compose tree did.
type TreeResult struct {
	// Changed is false when the input hash matched the previous commit
	// and nothing was written.
	Changed   bool
	Ref       string
	Commit    string
	Version   string
	InputHash string
	Summary   *Summary
	Stats     ostree.CommitStats
}

// Tree composes the treefile into an OSTree commit on its ref, as
// rpm-ostree compose tree does: resolve, compare the input hash with the
// previous commit's, build the root, lay it out for OSTree and bootc, lint
// it and commit it with the previous commit as parent.
func Tree(ctx context.Context, opts TreeOptions) (*TreeResult, error) {
	start := time.Now()
	if opts.Repo == "" {
		return nil, errors.New("compose tree: no repository: pass --repo")
	}
	if err := checkOutputPaths(opts); err != nil {
		return nil, err
	}
	extra, err := extraMetadata(opts)
	if err != nil {
		return nil, err
	}
	timestamp, err := commitTimestamp()
	if err != nil {
		return nil, err
	}
	plan, err := Resolve(ctx, opts.Options)
	if err != nil {
		return nil, err
	}
	tf := plan.Treefile
	if tf.Ref == "" && opts.WriteCommitIDTo == "" {
		return nil, fmt.Errorf("compose tree: treefile %s has no ref (set ref, or pass --write-commitid-to)", opts.Treefile)
	}
	repo, err := openOrInitRepo(ctx, opts.Repo)
	if err != nil {
		return nil, err
	}
	prev, prevMeta, err := previousCommit(repo, tf.Ref, opts)
	if err != nil {
		return nil, err
	}
	res := &TreeResult{Ref: tf.Ref, InputHash: plan.InputHash}
	if prev != nil && !opts.ForceNocache {
		if h, _ := prevMeta[MetaInputHash].(string); h == plan.InputHash {
			opts.logger().Info("No apparent changes since previous commit; use --force-nocache to override", "commit", prev.String())
			res.Commit = prev.String()
			return res, nil
		}
	}
	res.Changed = true
	if v, ok := extra[MetaVersion].(string); ok {
		res.Version = v
	} else if tf.AutomaticVersionPrefix != "" {
		prevVersion, _ := prevMeta[MetaVersion].(string)
		if res.Version, err = NextVersion(tf.AutomaticVersionPrefix, tf.AutomaticVersionSuffix, prevVersion, time.Now()); err != nil {
			return nil, err
		}
	}

	workdir := opts.Workdir
	if workdir == "" {
		workdir = filepath.Join(opts.CacheDir, "tmp")
	}
	if err := os.MkdirAll(workdir, 0o755); err != nil {
		return nil, fmt.Errorf("compose tree: workdir: %w", err)
	}
	// CACHEDIR/tmp is ours; a --workdir may hold the user's own rootfs-*.
	work, root, err := newWorkRoot(workdir, "rootfs-*", opts.Workdir == "", opts.logger())
	if err != nil {
		return nil, fmt.Errorf("compose tree: workdir: %w", err)
	}
	defer removeWorkRoot(work, opts.logger())
	if prev != nil && preservePasswd(tf) {
		seeded, err := seedAccounts(ctx, repo, prev.String(), root)
		if err != nil {
			return nil, err
		}
		opts.logger().Info("preserve-passwd: accounts of the previous commit kept", "commit", prev.String(), "files", seeded)
	}
	sum, err := plan.BuildRoot(ctx, root, res.Version, opts.Options)
	if err != nil {
		return nil, err
	}
	res.Summary = sum

	t := time.Now()
	treefileJSON, err := tf.JSON()
	if err != nil {
		return nil, err
	}
	bopts := plan.bootcOptions(opts.Options)
	bopts.TreefileJSON = treefileJSON
	if err := bootc.PostProcess(ctx, root, bopts); err != nil {
		return nil, err
	}
	kver := ""
	if !tf.Container {
		if kver, err = bootc.KernelVersion(root); err != nil {
			return nil, fmt.Errorf("compose tree: %w (add a linux-image package, or set container: true)", err)
		}
	}
	sum.add("postprocess", time.Since(t))

	t = time.Now()
	report, err := lint.Run(ctx, lint.DirFS(root), lint.Options{Skip: opts.SkipLint})
	if err != nil {
		return nil, err
	}
	for _, r := range report.Results {
		if !r.Passed && !r.Skipped {
			opts.logger().Warn("lint: "+r.Name, "type", r.Type.String(), "message", strings.Join(r.Message, "; "))
		}
	}
	if err := report.Err(); err != nil {
		return nil, fmt.Errorf("compose tree: the composed tree fails bootc's lints (see the warnings above; skip one with --skip-lint NAME): %w", err)
	}
	sum.add("lint", time.Since(t))

	md := map[string]any{}
	for k, v := range tf.AddCommitMetadata {
		md[k] = v
	}
	if res.Version != "" {
		md[MetaVersion] = res.Version
	}
	md[MetaInputHash] = plan.InputHash
	pkgs := make([]any, 0, len(plan.Resolved.Packages))
	for _, p := range plan.Resolved.Packages {
		pkgs = append(pkgs, []any{p.Name, p.Version, p.Architecture})
	}
	md[MetaPackages] = gvariant.Variant{Type: "a(sss)", Value: pkgs}
	if len(tf.InitramfsArgs) > 0 {
		md[MetaInitramfs] = tf.InitramfsArgs
	}
	if len(tf.ContainerCmd) > 0 {
		md["ostree.container-cmd"] = tf.ContainerCmd
	}
	if kver != "" {
		md["ostree.bootable"] = true
		md["ostree.linux"] = kver
	}
	for k, v := range extra {
		md[k] = v
	}
	commitOpts := ostree.CommitOptions{
		Ref:       tf.Ref,
		WriteRef:  opts.WriteCommitIDTo == "" && tf.Ref != "",
		Parent:    opts.Parent,
		NoParent:  opts.NoParent,
		Timestamp: timestamp,
		Metadata:  md,
		OwnerUID:  -1,
		OwnerGID:  -1,
		Jobs:      opts.Jobs,
	}
	if prev != nil && opts.Parent == "" && !opts.NoParent {
		commitOpts.Parent = prev.String()
	}
	if commitOpts.WriteRef && opts.Parent == "" && !opts.NoParent {
		// The tree was built on prev: commit only if the ref is still there.
		commitOpts.ExpectRef, commitOpts.ExpectedRef = true, prev
	}
	if testHookBeforeCommit != nil {
		testHookBeforeCommit()
	}
	t = time.Now()
	csum, stats, err := repo.CommitDir(ctx, root, commitOpts)
	if moved := (*ostree.RefMovedError)(nil); errors.As(err, &moved) {
		return nil, fmt.Errorf("compose tree: another compose moved ref %s while this one was building on %s; nothing was committed to the ref, run compose tree again: %w", tf.Ref, parentName(prev), err)
	}
	if err != nil {
		return nil, err
	}
	sum.add("commit", time.Since(t))
	sum.Total = time.Since(start)
	res.Commit, res.Stats = csum.String(), stats
	if opts.WriteCommitIDTo != "" {
		if err := writeCommitID(opts.WriteCommitIDTo, res.Commit); err != nil {
			return nil, err
		}
	}
	if opts.WriteComposeJSONTo != "" {
		if err := writeComposeJSON(opts.WriteComposeJSONTo, res, commitOpts, csum, repo); err != nil {
			return nil, err
		}
	}
	if opts.TouchIfChanged != "" {
		if err := touch(opts.TouchIfChanged); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// testHookBeforeCommit, when set by a test, runs just before the commit.
var testHookBeforeCommit func()

func parentName(c *ostree.Checksum) string {
	if c == nil {
		return "no previous commit"
	}
	return c.String()
}

func openOrInitRepo(ctx context.Context, path string) (*ostree.Repo, error) {
	return ostree.OpenOrInit(ctx, path, ostree.ModeArchive)
}

// previousCommit returns the commit the ref (or --parent) points at, with
// its metadata; nil when there is none.
func previousCommit(repo *ostree.Repo, ref string, opts TreeOptions) (*ostree.Checksum, map[string]any, error) {
	if opts.NoParent {
		return nil, nil, nil
	}
	rev := opts.Parent
	if rev == "" {
		if ref == "" {
			return nil, nil, nil
		}
		c, err := repo.ReadRef(ref)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		rev = c.String()
	}
	c, err := repo.ResolveRev(rev)
	if err != nil {
		return nil, nil, err
	}
	commit, err := repo.ReadCommit(c)
	if err != nil {
		return nil, nil, err
	}
	return &c, commit.Metadata, nil
}

func writeComposeJSON(path string, res *TreeResult, opts ostree.CommitOptions, csum ostree.Checksum, repo *ostree.Repo) error {
	commit, err := repo.ReadCommit(csum)
	if err != nil {
		return err
	}
	out := map[string]any{
		"ostree-commit":                res.Commit,
		"ostree-content-checksum":      commit.ContentChecksum().String(),
		"ostree-timestamp":             commit.Timestamp.UTC().Format(time.RFC3339),
		"apt-ostree-inputhash":         res.InputHash,
		"ostree-n-metadata-total":      res.Stats.MetadataObjectsTotal,
		"ostree-n-metadata-written":    res.Stats.MetadataObjectsWritten,
		"ostree-n-content-total":       res.Stats.ContentObjectsTotal,
		"ostree-n-content-written":     res.Stats.ContentObjectsWritten,
		"ostree-n-cache-hits":          res.Stats.ContentObjectsTotal - res.Stats.ContentObjectsWritten,
		"ostree-content-bytes-written": res.Stats.ContentBytesWritten,
	}
	if opts.WriteRef {
		out["ref"] = res.Ref
	}
	if res.Version != "" {
		out["ostree-version"] = res.Version
	}
	keys := make([]string, 0, len(out))
	for k := range out {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o644)
}

func touch(path string) error {
	now := time.Now()
	if err := os.Chtimes(path, now, now); errors.Is(err, fs.ErrNotExist) {
		return atomicfile.Write(path, nil, 0o644)
	} else if err != nil {
		return fmt.Errorf("--touch-if-changed: %w", err)
	}
	return nil
}
