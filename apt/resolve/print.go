package resolve

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteTable writes the resolved set as an aligned table for
// "compose tree --dry-run": name, version, architecture, size, SHA256 and
// the repository (URL and suite) each package comes from.
func (r *Result) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tARCH\tSIZE\tSHA256\tREPO")
	var total int64
	for _, p := range r.Packages {
		repo := "-"
		if p.Repo != nil {
			repo = p.Repo.URL + " " + p.Repo.Suite
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", p.Name, p.Version, p.Architecture, p.Size, p.SHA256, repo)
		total += p.Size
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d packages, %d bytes to download\n", len(r.Packages), total)
	return err
}

type packageJSON struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Architecture string `json:"architecture"`
	Source       string `json:"source"`
	Size         int64  `json:"size"`
	SHA256       string `json:"sha256"`
	Filename     string `json:"filename"`
	RepoURL      string `json:"repo_url,omitempty"`
	Suite        string `json:"suite,omitempty"`
	Component    string `json:"component,omitempty"`
}

// WriteJSON writes the resolved set as a JSON array of objects with keys
// name, version, architecture, source, size, sha256, filename, repo_url,
// suite and component.
func (r *Result) WriteJSON(w io.Writer) error {
	out := make([]packageJSON, 0, len(r.Packages))
	for _, p := range r.Packages {
		j := packageJSON{
			Name: p.Name, Version: p.Version, Architecture: p.Architecture, Source: p.SourceName(),
			Size: p.Size, SHA256: p.SHA256, Filename: p.Filename,
		}
		if p.Repo != nil {
			j.RepoURL, j.Suite, j.Component = p.Repo.URL, p.Repo.Suite, p.Repo.Component
		}
		out = append(out, j)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
