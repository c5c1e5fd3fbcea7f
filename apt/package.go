package apt

// Package is one binary package stanza from a repository's Packages index,
// with enough of its fields for resolving, downloading and locking. Relation
// fields are kept as the raw strings from the index; apt/resolve parses them
// on demand so that loading a full archive index stays cheap.
type Package struct {
	Name         string
	Version      string
	Architecture string
	// MultiArch is the Multi-Arch field: "", "same", "foreign" or "allowed".
	MultiArch string
	Essential bool
	// Priority is the Priority field ("required", "important", ...).
	Priority string
	Section  string
	// Source is the source package name (without version); empty when it
	// equals Name.
	Source string

	Depends    string
	PreDepends string
	Recommends string
	Suggests   string
	Conflicts  string
	Breaks     string
	Provides   string
	Replaces   string

	// Filename is the path of the .deb relative to the repository root.
	Filename      string
	Size          int64
	InstalledSize int64 // in KiB, as in the index
	SHA256        string

	// Repo is where the package was found; several packages share one.
	Repo *RepoRef
}

// RepoRef identifies the repository (archive root, suite and component) a
// package index came from.
type RepoRef struct {
	// URL is the archive root, e.g. "http://127.0.0.1:8080/debian", without a
	// trailing slash.
	URL       string
	Suite     string
	Component string
	// Date is the Release file's Date field, as written there.
	Date string
}

// URL returns the download URL of the package's .deb.
func (p *Package) URL() string {
	return p.Repo.URL + "/" + p.Filename
}

// SourceName returns the source package name, which is Name when the index
// gives none.
func (p *Package) SourceName() string {
	if p.Source != "" {
		return p.Source
	}
	return p.Name
}

// ID is "name_version_arch", the form Debian uses in .deb file names and
// the form used in error messages.
func (p *Package) ID() string {
	return p.Name + "_" + p.Version + "_" + p.Architecture
}
