package lockfile

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/apt-ostree/apt-ostree/apt"
)

// Entry is one locked package build.
type Entry struct {
	Name    string
	Version string
	// Arch is empty when the lockfile gave "evr" (any architecture).
	Arch string
	// SHA256 is the lowercase hex digest of the .deb, or empty when the
	// lockfile gave no digest.
	SHA256 string
	// Source is the source package name, informational.
	Source string
}

// Lock is a parsed lockfile.
type Lock struct {
	// Generated is the day the lock was made (midnight UTC, so that
	// rebuilding on the same day gives the same bytes).
	Generated time.Time
	// Repos maps "<uri> <suite>" to the Release file's Date (RFC 3339 when
	// it could be parsed, else as written).
	Repos map[string]string
	// Packages sorted by name, then architecture.
	Packages []Entry
}

// The JSON shape, with fields in sorted order so the encoder writes sorted
// keys.
type fileJSON struct {
	Metadata *metadataJSON        `json:"metadata,omitempty"`
	Packages map[string]entryJSON `json:"packages"`
}

type metadataJSON struct {
	Generated string              `json:"generated,omitempty"`
	Repos     map[string]repoJSON `json:"repos,omitempty"`
}

type repoJSON struct {
	Generated string `json:"generated"`
}

type entryJSON struct {
	Digest   string             `json:"digest,omitempty"`
	Evr      string             `json:"evr,omitempty"`
	Evra     string             `json:"evra,omitempty"`
	Metadata *entryMetadataJSON `json:"metadata,omitempty"`
}

type entryMetadataJSON struct {
	Source string `json:"source,omitempty"`
}

// New makes a lock of pkgs (typically resolve.Result.Packages), recording
// the repositories they came from. now is truncated to midnight UTC.
func New(pkgs []*apt.Package, now time.Time) *Lock {
	l := &Lock{Generated: midnight(now), Repos: map[string]string{}}
	for _, p := range pkgs {
		l.Packages = append(l.Packages, Entry{
			Name:    p.Name,
			Version: p.Version,
			Arch:    p.Architecture,
			SHA256:  strings.ToLower(p.SHA256),
			Source:  p.SourceName(),
		})
		if p.Repo != nil {
			l.Repos[p.Repo.URL+" "+p.Repo.Suite] = releaseDate(p.Repo.Date)
		}
	}
	sortEntries(l.Packages)
	return l
}

func midnight(t time.Time) time.Time {
	return t.UTC().Truncate(24 * time.Hour)
}

// releaseDate converts a Release file Date ("Sat, 15 Nov 2025 09:24:03
// UTC") to RFC 3339, keeping it verbatim when it does not parse.
func releaseDate(d string) string {
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, "Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, d); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return d
}

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Arch, b.Arch))
	})
}

// Lookup returns the entries locking name (one per architecture).
func (l *Lock) Lookup(name string) []Entry {
	i, _ := slices.BinarySearchFunc(l.Packages, name, func(e Entry, n string) int { return cmp.Compare(e.Name, n) })
	j := i
	for j < len(l.Packages) && l.Packages[j].Name == name {
		j++
	}
	return l.Packages[i:j]
}

// Merge combines lockfiles given in order; a later lock replaces every
// entry of a name an earlier one had (as with repeated --ex-lockfile).
func Merge(locks ...*Lock) *Lock {
	out := &Lock{Repos: map[string]string{}}
	byName := map[string][]Entry{}
	for _, l := range locks {
		if l == nil {
			continue
		}
		if l.Generated.After(out.Generated) {
			out.Generated = l.Generated
		}
		for k, v := range l.Repos {
			out.Repos[k] = v
		}
		seen := map[string]bool{}
		for _, e := range l.Packages {
			if !seen[e.Name] {
				seen[e.Name] = true
				byName[e.Name] = nil
			}
			byName[e.Name] = append(byName[e.Name], e)
		}
	}
	for _, es := range byName {
		out.Packages = append(out.Packages, es...)
	}
	sortEntries(out.Packages)
	return out
}

// MarshalJSON writes the lockfile document: sorted keys, one object per
// package, packages whose name occurs with several architectures keyed
// "name:arch".
func (l *Lock) MarshalJSON() ([]byte, error) {
	f := fileJSON{Packages: map[string]entryJSON{}}
	if !l.Generated.IsZero() || len(l.Repos) > 0 {
		f.Metadata = &metadataJSON{Repos: map[string]repoJSON{}}
		if !l.Generated.IsZero() {
			f.Metadata.Generated = l.Generated.UTC().Format(time.RFC3339)
		}
		for k, v := range l.Repos {
			f.Metadata.Repos[k] = repoJSON{Generated: v}
		}
	}
	archs := map[string]int{}
	for _, e := range l.Packages {
		archs[e.Name]++
	}
	for _, e := range l.Packages {
		key := e.Name
		if archs[e.Name] > 1 {
			if e.Arch == "" {
				return nil, fmt.Errorf("lockfile: package %s is listed more than once and one entry has no architecture", e.Name)
			}
			key += ":" + e.Arch
		}
		if _, dup := f.Packages[key]; dup {
			return nil, fmt.Errorf("lockfile: package %s is listed twice", key)
		}
		j := entryJSON{}
		if e.Arch != "" {
			j.Evra = e.Version + "." + e.Arch
		} else {
			j.Evr = e.Version
		}
		if e.SHA256 != "" {
			j.Digest = "sha256:" + e.SHA256
		}
		if e.Source != "" {
			j.Metadata = &entryMetadataJSON{Source: e.Source}
		}
		f.Packages[key] = j
	}
	return json.MarshalIndent(f, "", "  ")
}

// Parse reads a lockfile document. Unknown fields are errors; "evr" is
// accepted instead of "evra"; "digest" is optional.
func Parse(data []byte) (*Lock, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f fileJSON
	if err := dec.Decode(&f); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after the JSON object")
	}
	if f.Packages == nil {
		return nil, errors.New(`"packages" is missing`)
	}
	l := &Lock{Repos: map[string]string{}}
	if m := f.Metadata; m != nil {
		if m.Generated != "" {
			t, err := time.Parse(time.RFC3339, m.Generated)
			if err != nil {
				return nil, fmt.Errorf("metadata.generated: %w", err)
			}
			l.Generated = t.UTC()
		}
		for k, v := range m.Repos {
			l.Repos[k] = v.Generated
		}
	}
	for key, j := range f.Packages {
		e, err := parseEntry(key, j)
		if err != nil {
			return nil, fmt.Errorf("package %q: %w", key, err)
		}
		l.Packages = append(l.Packages, e)
	}
	sortEntries(l.Packages)
	for i := 1; i < len(l.Packages); i++ {
		a, b := l.Packages[i-1], l.Packages[i]
		if a.Name == b.Name && (a.Arch == b.Arch || a.Arch == "" || b.Arch == "") {
			return nil, fmt.Errorf("package %s is locked twice for the same architecture", a.Name)
		}
	}
	return l, nil
}

func parseEntry(key string, j entryJSON) (Entry, error) {
	var e Entry
	name, keyArch, _ := strings.Cut(key, ":")
	if name == "" || strings.ContainsAny(name, " \t/") {
		return e, errors.New("bad package name")
	}
	e.Name = name
	switch {
	case j.Evra != "" && j.Evr != "":
		return e, errors.New(`give "evra" or "evr", not both`)
	case j.Evra != "":
		i := strings.LastIndexByte(j.Evra, '.')
		if i <= 0 || !validArch(j.Evra[i+1:]) {
			return e, fmt.Errorf("evra %q is not <version>.<arch>", j.Evra)
		}
		e.Version, e.Arch = j.Evra[:i], j.Evra[i+1:]
	case j.Evr != "":
		e.Version = j.Evr
	default:
		return e, errors.New(`"evra" (or "evr") is missing`)
	}
	if strings.ContainsAny(e.Version, " \t") {
		return e, fmt.Errorf("bad version %q", e.Version)
	}
	if keyArch != "" {
		if !validArch(keyArch) || (e.Arch != "" && e.Arch != keyArch) {
			return e, fmt.Errorf("architecture in key does not match %q", j.Evra)
		}
		e.Arch = keyArch
	}
	if j.Digest != "" {
		algo, hexsum, _ := strings.Cut(j.Digest, ":")
		if algo != "sha256" {
			return e, fmt.Errorf("digest %q: only sha256 is supported", j.Digest)
		}
		if b, err := hex.DecodeString(hexsum); err != nil || len(b) != 32 {
			return e, fmt.Errorf("digest %q: want 64 hex digits", j.Digest)
		}
		e.SHA256 = strings.ToLower(hexsum)
	}
	if j.Metadata != nil {
		e.Source = j.Metadata.Source
	}
	return e, nil
}

func validArch(a string) bool {
	if a == "" || a[0] < 'a' || a[0] > 'z' {
		return false
	}
	for _, c := range []byte(a) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Read reads and parses the lockfile at path.
func Read(path string) (*Lock, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read lockfile: %w", err)
	}
	l, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("lockfile %s: %w", path, err)
	}
	return l, nil
}

// Write locks pkgs (typically resolve.Result.Packages) into path, dated
// today.
func Write(path string, pkgs []*apt.Package) error {
	return New(pkgs, time.Now()).WriteFile(path)
}

// WriteFile writes the lock to path atomically: a temporary file in the
// same directory, fsynced, then renamed over path.
func (l *Lock) WriteFile(path string) error {
	data, err := l.MarshalJSON()
	if err != nil {
		return err
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write lockfile %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("write lockfile %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
