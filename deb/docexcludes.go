package deb

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DocExcludesConfig is where the image records the path filters of
// DocExcludes (relative to the root, before /etc moves to /usr/etc), so
// that dpkg keeps leaving those paths out when packages are installed or
// upgraded later.
const DocExcludesConfig = "etc/dpkg/dpkg.cfg.d/apt-ostree-excludes"

// DocExcludes turns a treefile's documentation and install-langs into
// dpkg --path-exclude and --path-include globs (dpkg's semantics: '*'
// also matches '/'; a path matching an include is kept even when it
// matches an exclude; an excluded directory stays when an include could
// match below it).
//
// documentation false drops /usr/share/doc except each package's
// copyright file (Debian's licence statement, which rpm's nodocs keeps as
// %license too), and all of /usr/share/man and /usr/share/info.
//
// langs (rpm's _install_langs values, e.g. en_US) keeps, of the
// translations in /usr/share/locale/<L>/ and the manual pages in
// /usr/share/man/<L>/, only those whose L is a listed locale or its
// language alone, with any .codeset or @modifier: en_US keeps en_US,
// en_US.UTF-8, en and en@quot, not en_GB; rpm matches %lang files the same
// way. Empty language directories stay, as with dpkg. nil or a list
// containing "all" keeps every translation. /usr/lib/locale is not
// touched: Debian ships no locale-archive; locale-gen builds one from
// /etc/locale.gen, which the treefile controls.
func DocExcludes(documentation bool, langs []string) (exclude, include []string) {
	if !documentation {
		exclude = append(exclude, "/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*")
		include = append(include, "/usr/share/doc/*/copyright")
	}
	if len(langs) == 0 || slices.Contains(langs, "all") {
		return exclude, include
	}
	var bases []string
	for _, l := range langs {
		l, _, _ = strings.Cut(l, "@")
		l, _, _ = strings.Cut(l, ".")
		lang, _, hasTerritory := strings.Cut(l, "_")
		bases = append(bases, lang)
		if hasTerritory {
			bases = append(bases, l)
		}
	}
	slices.Sort(bases)
	bases = slices.Compact(bases)
	dirs := []string{"/usr/share/locale/"}
	exclude = append(exclude, "/usr/share/locale/*/*")
	if documentation {
		dirs = append(dirs, "/usr/share/man/")
		// Sections are man1, man8, mann, man3p...: everything else at
		// that level is a language.
		exclude = append(exclude, "/usr/share/man/*")
		include = append(include, "/usr/share/man/man*")
	}
	for _, d := range dirs {
		for _, b := range bases {
			include = append(include, d+b+"/*", d+b+".*", d+b+"@*")
		}
	}
	return exclude, include
}

// WriteDocExcludesConfig records exclude and include in root's
// DocExcludesConfig as path-exclude= and path-include= lines, excludes
// first, which gives dpkg the same result as DocExcludes describes. With
// no filters it writes nothing.
func WriteDocExcludesConfig(root string, exclude, include []string) error {
	if len(exclude) == 0 && len(include) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("# Written by apt-ostree from the treefile's documentation and install-langs:\n")
	b.WriteString("# dpkg leaves these paths out when it installs or upgrades a package.\n")
	for _, e := range exclude {
		fmt.Fprintf(&b, "path-exclude=%s\n", e)
	}
	for _, i := range include {
		fmt.Fprintf(&b, "path-include=%s\n", i)
	}
	dst := filepath.Join(root, DocExcludesConfig)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("write dpkg path filters: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(dst), ".apt-ostree-excludes.tmp-")
	if err != nil {
		return fmt.Errorf("write dpkg path filters: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(b.String()); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return nil
}

// RootPathFilters reads the path filters of root's own dpkg configuration
// (/etc/dpkg, or /usr/etc/dpkg in a composed tree) as dpkg in that root
// would, following links inside the root only: what Options.PathFilters
// needs so that packages added to an image honour its DocExcludesConfig.
func RootPathFilters(root string) ([]PathFilter, error) {
	dir := "etc/dpkg"
	if _, err := fs.Stat(rootFS(root), "etc"); errors.Is(err, fs.ErrNotExist) {
		dir = "usr/etc/dpkg"
	}
	filters, err := ReadPathFilters(rootFS(root), dir)
	if err != nil {
		return nil, fmt.Errorf("read the dpkg path filters of %s: %w", root, err)
	}
	return filters, nil
}
