package apt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apt-ostree/apt-ostree/deb"
)

// MirrorEnv is the environment variable that names the Debian mirror for
// treefile repositories without a url (after --mirror, before the host's
// apt sources).
const MirrorEnv = "APT_OSTREE_MIRROR"

// HostSource is one entry of an apt sources file (one-line or deb822).
type HostSource struct {
	Types      []string // "deb", "deb-src"
	URIs       []string
	Suites     []string
	Components []string
	// SignedBy is the Signed-By value: a keyring path or an inline key.
	SignedBy string
	Enabled  bool
	// File is where the entry was read, for messages.
	File string
}

// ReadHostSources reads root/etc/apt/sources.list, sources.list.d/*.list
// (one-line format) and sources.list.d/*.sources (deb822) in apt's order.
// Missing files are not an error.
func ReadHostSources(root string) ([]HostSource, error) {
	dir := filepath.Join(root, "etc", "apt")
	files := []string{filepath.Join(dir, "sources.list")}
	entries, err := os.ReadDir(filepath.Join(dir, "sources.list.d"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && (strings.HasSuffix(n, ".list") || strings.HasSuffix(n, ".sources")) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		files = append(files, filepath.Join(dir, "sources.list.d", n))
	}
	var out []HostSource
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var srcs []HostSource
		if strings.HasSuffix(f, ".sources") {
			srcs, err = parseDeb822Sources(data, f)
		} else {
			srcs, err = parseOneLineSources(data, f)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, srcs...)
	}
	return out, nil
}

func parseOneLineSources(data []byte, file string) ([]HostSource, error) {
	var out []HostSource
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		typ, rest, _ := strings.Cut(line, " ")
		rest = strings.TrimSpace(rest)
		s := HostSource{Types: []string{typ}, Enabled: true, File: file}
		if strings.HasPrefix(rest, "[") {
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("%s:%d: unterminated [options]", file, n)
			}
			for _, opt := range strings.Fields(rest[1:end]) {
				if k, v, ok := strings.Cut(opt, "="); ok && strings.EqualFold(k, "signed-by") {
					s.SignedBy = v
				}
			}
			rest = rest[end+1:]
		}
		f := strings.Fields(rest)
		if len(f) < 2 {
			return nil, fmt.Errorf("%s:%d: want \"deb URI SUITE [COMPONENT...]\"", file, n)
		}
		s.URIs, s.Suites, s.Components = f[:1], f[1:2], f[2:]
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseDeb822Sources(data []byte, file string) ([]HostSource, error) {
	paras, err := deb.ParseParagraphs(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []HostSource
	for _, p := range paras {
		out = append(out, HostSource{
			Types: strings.Fields(p.Get("Types")), URIs: strings.Fields(p.Get("URIs")),
			Suites: strings.Fields(p.Get("Suites")), Components: strings.Fields(p.Get("Components")),
			SignedBy: trimLines(p.Get("Signed-By")),
			Enabled:  !strings.EqualFold(strings.TrimSpace(p.Get("Enabled")), "no"), File: file,
		})
	}
	return out, nil
}

// trimLines trims every line of a multi-line field value (an inline key).
func trimLines(v string) string {
	lines := strings.Split(v, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// Mirrors are the Debian archive URLs found in the host's apt sources.
type Mirrors struct {
	// Archive serves the normal suites (trixie, trixie-updates, ...).
	Archive string
	// Security serves suites ending in -security; "" if the host has none.
	Security string
	// ArchiveFile and SecurityFile name where each was found.
	ArchiveFile, SecurityFile string
}

// IsSecuritySuite reports whether suite is served by the security archive
// (trixie-security, or the old "buster/updates" form).
func IsSecuritySuite(suite string) bool {
	return strings.HasSuffix(suite, "-security") || strings.HasSuffix(suite, "/updates")
}

// HostMirrors picks, like mmdebstrap, the host's Debian archive and
// security sources from root's apt configuration (root is usually "/").
// A source counts as Debian when its Signed-By names the Debian archive
// keyring or its URI path ends in /debian (or /debian-security); enabled
// "deb" entries with http(s) URIs are considered, first one wins.
func HostMirrors(root string) (Mirrors, error) {
	srcs, err := ReadHostSources(root)
	if err != nil {
		return Mirrors{}, fmt.Errorf("read host apt sources: %w", err)
	}
	var m Mirrors
	for _, s := range srcs {
		if !s.Enabled || !slicesContains(s.Types, "deb") || len(s.Suites) == 0 {
			continue
		}
		for _, u := range s.URIs {
			if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				continue
			}
			if !looksDebian(u, s.SignedBy) {
				continue
			}
			u = strings.TrimRight(u, "/")
			security := IsSecuritySuite(s.Suites[0])
			switch {
			case security && m.Security == "":
				m.Security, m.SecurityFile = u, s.File
			case !security && m.Archive == "":
				m.Archive, m.ArchiveFile = u, s.File
			}
		}
	}
	if m.Archive == "" && m.Security == "" {
		return m, fmt.Errorf("no Debian archive in the apt sources under %s; pass --mirror or set %s",
			filepath.Join(root, "etc", "apt"), MirrorEnv)
	}
	return m, nil
}

func looksDebian(uri, signedBy string) bool {
	if strings.Contains(signedBy, "debian-archive-keyring") {
		return true
	}
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	base := path.Base(strings.TrimRight(u.Path, "/"))
	return base == "debian" || base == "debian-security"
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// MirrorFor returns the archive URL for a treefile repository of suite
// that gives no url. The first of flag (--mirror), env ($APT_OSTREE_MIRROR)
// and the host's sources (host, from HostMirrors) that is set wins.
//
// flag and env name the Debian archive. For -security suites the security
// archive is used instead: derived from an explicit mirror ending in
// /debian by using /debian-security beside it (the layout of Debian
// mirrors), otherwise the host's security source, otherwise the explicit
// mirror itself.
func MirrorFor(suite string, host Mirrors, flag, env string) (string, error) {
	explicit := flag
	if explicit == "" {
		explicit = env
	}
	explicit = strings.TrimRight(explicit, "/")
	if explicit != "" {
		if _, err := url.ParseRequestURI(explicit); err != nil || !strings.HasPrefix(explicit, "http") {
			return "", fmt.Errorf("mirror %q is not an http(s) URL", explicit)
		}
	}
	if !IsSecuritySuite(suite) {
		switch {
		case explicit != "":
			return explicit, nil
		case host.Archive != "":
			return host.Archive, nil
		}
		return "", fmt.Errorf("no mirror for suite %s: the host's apt sources name no Debian archive; pass --mirror or set %s", suite, MirrorEnv)
	}
	switch {
	case explicit != "" && path.Base(explicit) == "debian":
		return explicit + "-security", nil
	case host.Security != "":
		return host.Security, nil
	case explicit != "":
		return explicit, nil
	}
	return "", fmt.Errorf("no mirror for suite %s: the host's apt sources name no security archive; pass --mirror or set %s", suite, MirrorEnv)
}
