package compose

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"

	"github.com/apt-ostree/apt-ostree/apt"
	"github.com/apt-ostree/apt-ostree/apt/lockfile"
	"github.com/apt-ostree/apt-ostree/apt/resolve"
	"github.com/apt-ostree/apt-ostree/assemble"
	"github.com/apt-ostree/apt-ostree/treefile"
)

// Options are the settings every compose command shares: where the
// treefile and the caches are, and how packages are chosen.
type Options struct {
	// Treefile is the path of the YAML or JSON treefile.
	Treefile string
	// CacheDir holds apt indexes and the .deb pool. Required.
	CacheDir string
	// Mirror is --mirror: the Debian archive for repos without a url.
	Mirror string
	// Jobs bounds parallel work (unpacking, hashing); 0 means CPUs.
	// Downloads use 4 × Jobs.
	Jobs int
	// Lockfiles are --ex-lockfile files, later ones overriding earlier.
	Lockfiles []string
	// WriteLockfile is --ex-write-lockfile-to.
	WriteLockfile string
	// Offline uses only cached indexes and packages.
	Offline bool
	// Progress receives download progress bars (when a terminal).
	Progress io.Writer
	// ScriptOutput, if set, receives the output of maintainer scripts and
	// other commands run in the root as they run (verbose mode).
	ScriptOutput io.Writer
	// Sandbox confines maintainer scripts and the other commands run in
	// the root (--sandbox); the zero value chooses (assemble.SandboxAuto).
	Sandbox assemble.SandboxMode
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (o *Options) logger() *slog.Logger {
	if o.Logger != nil {
		return o.Logger
	}
	return slog.Default()
}

// Plan is a treefile with its package set resolved: everything a compose
// knows before it downloads a single .deb.
type Plan struct {
	Treefile *treefile.Treefile
	Resolved *resolve.Result
	// InputHash is SHA-256 over the treefile (with the files it names) and
	// the SHA256 of every resolved package: equal hashes build equal trees.
	InputHash string

	client *apt.Client
}

// Resolve loads the treefile, its repositories' indexes and resolves the
// package set, writing the lockfile if asked. It downloads no .deb.
func Resolve(ctx context.Context, opts Options) (*Plan, error) {
	if opts.CacheDir == "" {
		return nil, fmt.Errorf("no cache directory: pass --cachedir")
	}
	tf, err := treefile.Load(ctx, opts.Treefile, treefile.Options{})
	if err != nil {
		return nil, err
	}
	sources, err := Sources(tf, opts.Mirror)
	if err != nil {
		return nil, fmt.Errorf("treefile %s: %w", opts.Treefile, err)
	}
	jobs := opts.Jobs
	if jobs > 0 {
		jobs *= 4
	}
	client := apt.NewClient(apt.Options{CacheDir: opts.CacheDir, Jobs: jobs, Progress: opts.Progress, Logger: opts.Logger, Offline: opts.Offline})
	universe, err := client.LoadIndexes(ctx, sources)
	if err != nil {
		return nil, err
	}
	var locks []*lockfile.Lock
	for _, path := range opts.Lockfiles {
		l, err := lockfile.Read(path)
		if err != nil {
			return nil, err
		}
		locks = append(locks, l)
	}
	req := resolve.Request{Arch: tf.Arch, Packages: tf.Packages, Exclude: tf.ExcludePackages, Recommends: tf.Recommends}
	if len(locks) > 0 {
		req.Lock = lockfile.Merge(locks...)
	}
	res, err := resolve.Resolve(universe, req)
	if err != nil {
		return nil, fmt.Errorf("resolve packages of %s: %w", opts.Treefile, err)
	}
	opts.logger().Info("resolved packages", "treefile", opts.Treefile, "packages", len(res.Packages), "available", len(universe))
	if opts.WriteLockfile != "" {
		if err := lockfile.Write(opts.WriteLockfile, res.Packages); err != nil {
			return nil, err
		}
	}
	hash, err := inputHash(ctx, tf, res)
	if err != nil {
		return nil, err
	}
	return &Plan{Treefile: tf, Resolved: res, InputHash: hash, client: client}, nil
}

// inputHash follows rpm-ostree's inputhash: the treefile's digest, then
// one "install sha256:<hex>" line per package in sorted order.
func inputHash(ctx context.Context, tf *treefile.Treefile, res *resolve.Result) (string, error) {
	digest, err := tf.Digest(ctx)
	if err != nil {
		return "", err
	}
	lines := make([]string, 0, len(res.Packages))
	for _, p := range res.Packages {
		lines = append(lines, fmt.Sprintf("install %s:%s=%s sha256:%s\n", p.Name, p.Architecture, p.Version, p.SHA256))
	}
	sort.Strings(lines)
	h := sha256.New()
	io.WriteString(h, digest)
	io.WriteString(h, "\n")
	for _, l := range lines {
		io.WriteString(h, l)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Sources turns the treefile's repos into apt sources. A repo without a
// url gets the Debian mirror: mirror (--mirror), then APT_OSTREE_MIRROR,
// then the build host's apt sources; "-security" suites get the host's
// security archive.
func Sources(tf *treefile.Treefile, mirror string) ([]apt.Source, error) {
	var out []apt.Source
	var host *apt.Mirrors
	for i, r := range tf.Repos {
		name := r.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i+1)
		}
		keyring, keyName, err := repoKeyring(r)
		if err != nil {
			return nil, fmt.Errorf("repo %s: %w", name, err)
		}
		arch := r.Arch
		if arch == "" {
			arch = tf.Arch
		}
		if r.URL != "" {
			out = append(out, apt.Source{URL: strings.TrimSuffix(r.URL, "/"), Suites: r.Suites, Components: r.Components, Arch: arch, Keyring: keyring, KeyringName: keyName, Trusted: r.Trusted, SkipValidUntil: r.SkipValidUntil})
			continue
		}
		// Suites of one repo may live on different archives (trixie and
		// trixie-security), so each suite becomes its own source.
		for _, suite := range r.Suites {
			if host == nil {
				// An unreadable host configuration only matters when
				// neither --mirror nor APT_OSTREE_MIRROR is set, and
				// MirrorFor says so then.
				m, err := apt.HostMirrors("/")
				if err != nil && mirror == "" && os.Getenv("APT_OSTREE_MIRROR") == "" {
					return nil, err
				}
				host = &m
			}
			url, err := apt.MirrorFor(suite, *host, mirror, os.Getenv("APT_OSTREE_MIRROR"))
			if err != nil {
				return nil, fmt.Errorf("repo %s has no url: %w", name, err)
			}
			out = append(out, apt.Source{URL: url, Suites: []string{suite}, Components: r.Components, Arch: arch, Keyring: keyring, KeyringName: keyName, Trusted: r.Trusted, SkipValidUntil: r.SkipValidUntil})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no repos: add a repos section")
	}
	return out, nil
}

func repoKeyring(r treefile.Repo) ([]byte, string, error) {
	switch {
	case r.SignedByKey != "":
		return []byte(r.SignedByKey), "inline signed-by key", nil
	case r.SignedBy != "":
		b, err := os.ReadFile(r.SignedBy)
		if err != nil {
			return nil, "", fmt.Errorf("signed-by: %w", err)
		}
		return b, r.SignedBy, nil
	case r.Trusted:
		return nil, "", nil
	}
	return nil, "", fmt.Errorf("no signed-by keyring: give signed-by (a keyring path or an armored key) or trusted: true")
}
