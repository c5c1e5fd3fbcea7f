package apt

import (
	"errors"
	"strconv"
	"strings"
)

// InstalledPackage makes a Package from the fields of an installed
// package's dpkg status stanza, for apt/resolve's frozen base
// (resolve.Request.Installed). field returns a field's value or "" (pass
// deb.Control.Get, so this package needs no dpkg database types). The
// caller picks the stanzas that are installed; Repo, Filename, Size and
// SHA256 stay empty: an installed package is not fetched.
func InstalledPackage(field func(name string) string) (*Package, error) {
	p := &Package{
		Name:         strings.TrimSpace(field("Package")),
		Version:      strings.TrimSpace(field("Version")),
		Architecture: strings.TrimSpace(field("Architecture")),
		MultiArch:    strings.TrimSpace(field("Multi-Arch")),
		Essential:    strings.TrimSpace(field("Essential")) == "yes",
		Priority:     strings.TrimSpace(field("Priority")),
		Section:      strings.TrimSpace(field("Section")),
		Depends:      field("Depends"),
		PreDepends:   field("Pre-Depends"),
		Recommends:   field("Recommends"),
		Suggests:     field("Suggests"),
		Conflicts:    field("Conflicts"),
		Breaks:       field("Breaks"),
		Provides:     field("Provides"),
		Replaces:     field("Replaces"),
	}
	if src, _, _ := strings.Cut(strings.TrimSpace(field("Source")), " "); src != p.Name {
		p.Source = src
	}
	if s := strings.TrimSpace(field("Installed-Size")); s != "" {
		p.InstalledSize, _ = strconv.ParseInt(s, 10, 64)
	}
	switch {
	case p.Name == "":
		return nil, errors.New("installed package stanza has no Package field")
	case p.Version == "" || p.Architecture == "":
		return nil, errors.New("installed package " + p.Name + ": stanza lacks Version or Architecture")
	}
	return p, nil
}
