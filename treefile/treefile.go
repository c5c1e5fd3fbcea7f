package treefile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// Treefile is a fully merged, substituted and validated treefile. Unset keys
// keep their zero value (pointers stay nil) so callers can apply rpm-ostree's
// defaults; the JSON tags are the treefile's own key names.
type Treefile struct {
	Ref        string `json:"ref,omitempty"`
	Arch       string `json:"arch"` // dpkg architecture; always set (defaults to the build arch)
	Releasever string `json:"releasever,omitempty"`

	Repos           []Repo   `json:"repos,omitempty"`
	Packages        []string `json:"packages,omitempty"` // PackageSpec.String() forms, sorted, unique; packages-<arch> folded in
	ExcludePackages []string `json:"exclude-packages,omitempty"`
	Recommends      bool     `json:"recommends,omitempty"`    // default false (unlike rpm-ostree)
	Documentation   *bool    `json:"documentation,omitempty"` // nil = true; false: see deb.DocExcludes
	InstallLangs    []string `json:"install-langs,omitempty"` // locale names (en_US) or "all"; nil keeps every translation

	Postprocess        []string            `json:"postprocess,omitempty"`        // inline scripts, in merged order
	PostprocessScript  string              `json:"postprocess-script,omitempty"` // absolute path of an executable file
	AddFiles           []AddFile           `json:"add-files,omitempty"`
	RemoveFiles        []string            `json:"remove-files,omitempty"` // relative to the root, no ".."
	RemoveFromPackages []RemoveFromPackage `json:"remove-from-packages,omitempty"`

	Units               []string `json:"units,omitempty"`
	DefaultTarget       string   `json:"default-target,omitempty"`
	MachineIDCompat     *bool    `json:"machineid-compat,omitempty"`
	InitramfsArgs       []string `json:"initramfs-args,omitempty"`
	NoInitramfs         bool     `json:"no-initramfs,omitempty"`
	BootLocation        string   `json:"boot-location,omitempty"` // only "modules", what bootc always does
	TmpIsDir            *bool    `json:"tmp-is-dir,omitempty"`
	OptUsrlocal         string   `json:"opt-usrlocal,omitempty"` // "var" or "root"
	Composefs           string   `json:"composefs,omitempty"`    // prepare-root.conf's [composefs] enabled: "yes", "maybe", "no"; "" = chosen from the tree's ostree
	IgnoreDevices       *bool    `json:"ignore-devices,omitempty"`
	ReadonlyExecutables *bool    `json:"readonly-executables,omitempty"`
	EtcGroupMembers     []string `json:"etc-group-members,omitempty"`
	PreservePasswd      *bool    `json:"preserve-passwd,omitempty"`

	AutomaticVersionPrefix string         `json:"automatic-version-prefix,omitempty"`
	AutomaticVersionSuffix string         `json:"automatic-version-suffix,omitempty"` // one ASCII character
	MutateOSRelease        string         `json:"mutate-os-release,omitempty"`
	Metadata               map[string]any `json:"metadata,omitempty"` // not committed; excluded from Digest
	AddCommitMetadata      map[string]any `json:"add-commit-metadata,omitempty"`
	ContainerCmd           []string       `json:"container-cmd,omitempty"`
	Container              bool           `json:"container,omitempty"`

	// Variables are the values ${name} was substituted with, including
	// basearch and releasever. Like rpm-ostree, --print-only omits them.
	Variables map[string]string `json:"-"`
}

// Repo is one apt source. URL empty means the Debian archive, whose mirror
// the apt layer picks (a "-security" suite maps to the security archive).
type Repo struct {
	Name        string   `json:"name,omitempty"`
	URL         string   `json:"url,omitempty"`
	Suites      []string `json:"suites"`
	Components  []string `json:"components"` // default [main]
	Arch        string   `json:"arch,omitempty"`
	SignedBy    string   `json:"-"` // absolute path of a keyring file
	SignedByKey string   `json:"-"` // inline ASCII-armored public key block
	Trusted     bool     `json:"trusted,omitempty"`
	// SkipValidUntil is check-valid-until: false: the Release file's
	// Valid-Until is not enforced (dated snapshot mirrors).
	SkipValidUntil bool `json:"-"`
}

// MarshalJSON writes signed-by as the treefile spells it: a path or a key block.
func (r Repo) MarshalJSON() ([]byte, error) {
	type plain Repo
	var check *bool
	if r.SkipValidUntil {
		check = new(bool)
	}
	return json.Marshal(struct {
		plain
		SignedBy        string `json:"signed-by,omitempty"`
		CheckValidUntil *bool  `json:"check-valid-until,omitempty"`
	}{plain(r), r.SignedBy + r.SignedByKey, check})
}

// AddFile copies Src (absolute path on the build host) to Dest (absolute path in the tree).
type AddFile struct {
	Src  string
	Dest string
}

// MarshalJSON writes the treefile form [src, dest].
func (a AddFile) MarshalJSON() ([]byte, error) { return json.Marshal([2]string{a.Src, a.Dest}) }

// RemoveFromPackage drops the files of Package whose path matches any of
// Patterns (Go regexps, unanchored, matched against the translated path).
type RemoveFromPackage struct {
	Package  string
	Patterns []string
}

// MarshalJSON writes the treefile form [pkg, regex...].
func (r RemoveFromPackage) MarshalJSON() ([]byte, error) {
	return json.Marshal(append([]string{r.Package}, r.Patterns...))
}

// Options changes how Load reads a treefile.
type Options struct {
	// Arch overrides the build architecture (default HostArch()). The
	// treefile's `arch` must equal it; packages-<arch> and ${basearch} follow it.
	Arch string
}

// Load reads the treefile at path with its includes, merges and substitutes
// it and validates every key and every local file it names. Problems are
// reported as *Error values (joined when there are several).
func Load(ctx context.Context, path string, opts Options) (*Treefile, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	arch := opts.Arch
	if arch == "" {
		if arch = HostArch(); arch == "" {
			return nil, fmt.Errorf("load treefile %s: no Debian architecture for this host; set Options.Arch", path)
		}
	}
	ld := &loader{ctx: ctx, arch: arch}
	l := ld.load(path, pos{}, 0)
	if err := ld.errs.err(); err != nil {
		return nil, err
	}
	t := ld.build(l)
	if err := ld.errs.err(); err != nil {
		return nil, err
	}
	return t, nil
}

// JSON returns the treefile as pretty-printed JSON for `compose tree
// --print-only`. The output is itself a valid treefile (entries with
// version constraints are single-quoted again).
func (t *Treefile) JSON() ([]byte, error) {
	return encodeJSON(t.forJSON(), "  ")
}

// encodeJSON marshals without HTML escaping so "'a (>= 1)'" stays readable.
func encodeJSON(v any, indent string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("encode treefile as JSON: %w", err)
	}
	return buf.Bytes(), nil
}

func (t *Treefile) forJSON() *Treefile {
	c := *t
	c.Packages = make([]string, len(t.Packages))
	for i, p := range t.Packages {
		if strings.ContainsAny(p, " \t") {
			p = "'" + p + "'"
		}
		c.Packages[i] = p
	}
	if len(t.Packages) == 0 {
		c.Packages = nil
	}
	return &c
}

// CanonicalJSON returns the bytes the input hash covers: compact JSON of the
// treefile without `metadata` (and variables), in which every referenced file
// (postprocess-script, add-files sources, signed-by keyrings) is replaced by
// "sha256:<hex>" of its content. Editing such a file changes the result;
// moving the checkout does not.
func (t *Treefile) CanonicalJSON(ctx context.Context) ([]byte, error) {
	c := *t.forJSON()
	c.Metadata = nil
	var err error
	if c.PostprocessScript != "" {
		if c.PostprocessScript, err = fileDigest(ctx, c.PostprocessScript); err != nil {
			return nil, err
		}
	}
	c.AddFiles = make([]AddFile, len(t.AddFiles))
	for i, a := range t.AddFiles {
		if a.Src, err = fileDigest(ctx, a.Src); err != nil {
			return nil, err
		}
		c.AddFiles[i] = a
	}
	c.Repos = make([]Repo, len(t.Repos))
	for i, r := range t.Repos {
		if r.SignedBy != "" {
			if r.SignedBy, err = fileDigest(ctx, r.SignedBy); err != nil {
				return nil, err
			}
		}
		c.Repos[i] = r
	}
	b, err := encodeJSON(&c, "")
	if err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b, []byte("\n")), nil
}

// Digest is the SHA-256 (hex) of CanonicalJSON: the treefile's part of the
// compose input hash.
func (t *Treefile) Digest(ctx context.Context) (string, error) {
	b, err := t.CanonicalJSON(ctx)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

func fileDigest(ctx context.Context, path string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hash treefile input: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash treefile input %s: %w", path, err)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
