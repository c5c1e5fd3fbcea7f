package lint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Type is a lint's severity.
type Type int

const (
	// Fatal means the image will not install or is effectively guaranteed to fail at runtime.
	Fatal Type = iota
	// Warning is not fatal, but something the image author likely wants to fix.
	Warning
)

func (t Type) String() string {
	if t == Fatal {
		return "fatal"
	}
	return "warning"
}

// MarshalText makes Type print as "fatal" or "warning" in JSON and YAML.
func (t Type) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// RootType limits a lint to the running root ("/") or to any other root.
type RootType int

const (
	// AnyRoot lints run on every root.
	AnyRoot RootType = iota
	// RunningRoot lints run only when the root is the running system's "/".
	RunningRoot
	// AlternativeRoot lints run only when the root is not the running system.
	AlternativeRoot
)

func (r RootType) String() string {
	switch r {
	case RunningRoot:
		return "Running"
	case AlternativeRoot:
		return "Alternative"
	}
	return ""
}

// defaultTruncate is how many items a list-style message shows unless NoTruncate is set.
const defaultTruncate = 5

// Info describes one lint.
type Info struct {
	Name        string
	Type        Type
	Description string
	RootType    RootType
	// Bootc is true for the lints bootc itself has; false for apt-ostree's Debian lints.
	Bootc bool
}

// checkFunc runs one lint. A nil return means the lint passed; otherwise the
// returned lines are the failure message. An error is an I/O problem reading
// the tree, never a problem with the tree's content.
type checkFunc func(t *tree, cfg *config) ([]string, error)

type lintDef struct {
	Info
	check checkFunc
}

// registry lists every lint in bootc's registration order, then ours.
var registry = slices.Concat(bootcLints, debianLints)

// Lints returns every lint in registration order (the order of --list).
func Lints() []Info {
	out := make([]Info, len(registry))
	for i, l := range registry {
		out[i] = l.Info
	}
	return out
}

// Names returns the names of every lint, sorted.
func Names() []string {
	var out []string
	for _, l := range registry {
		out = append(out, l.Name)
	}
	sort.Strings(out)
	return out
}

// WriteList prints every lint as YAML, in the shape of `bootc container
// lint --list`, or with asJSON as a JSON array of objects with the same keys.
func WriteList(w io.Writer, asJSON bool) error {
	type item struct {
		Name        string `yaml:"name" json:"name"`
		Type        string `yaml:"type" json:"type"`
		Description string `yaml:"description" json:"description"`
		RootType    string `yaml:"root-type,omitempty" json:"root-type,omitempty"`
	}
	var items []item
	for _, l := range registry {
		items = append(items, item{l.Name, l.Type.String(), l.Description, l.RootType.String()})
	}
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(items); err != nil {
			return fmt.Errorf("writing lint list: %w", err)
		}
		return nil
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(items); err != nil {
		return fmt.Errorf("writing lint list: %w", err)
	}
	return enc.Close()
}

// Options select and tune the lints.
type Options struct {
	// Skip names lints not to run; they count as skipped. Run rejects unknown names.
	Skip []string
	// FatalWarnings makes warnings count as failures.
	FatalWarnings bool
	// NoTruncate prints every item of list-style messages instead of the first 5.
	NoTruncate bool
	// Running says the root is the running system's "/": lints limited to the
	// running root run, and those limited to other roots are skipped.
	Running bool
}

// Result is the outcome of one lint.
type Result struct {
	Name    string   `json:"name"`
	Type    Type     `json:"type"`
	Passed  bool     `json:"passed"`
	Skipped bool     `json:"skipped"`
	Message []string `json:"message"`
}

// Failed reports whether the lint ran and did not pass.
func (r Result) Failed() bool { return !r.Passed && !r.Skipped }

// Report holds the results of a run, in bootc's print order: lints sorted by
// name, with the recursive utf8 lint last.
type Report struct {
	Results       []Result
	FatalWarnings bool
}

// ErrUnknownLint is returned (wrapped) when Options.Skip names no lint.
var ErrUnknownLint = errors.New("unknown lint")

// Run lints the image root fsys. fsys may implement fs.ReadLinkFS so symlinks
// are seen as symlinks; file owners come from FileInfo.Sys() (see Owner).
// The error is non-nil only when the tree could not be read or an option is
// invalid; failed lints are reported in the Report.
func Run(ctx context.Context, fsys fs.FS, opts Options) (Report, error) {
	skip := map[string]bool{}
	for _, s := range opts.Skip {
		if !slices.ContainsFunc(registry, func(l lintDef) bool { return l.Name == s }) {
			return Report{}, fmt.Errorf("%w %q; valid lints are: %s", ErrUnknownLint, s, strings.Join(Names(), ", "))
		}
		skip[s] = true
	}
	cfg := &config{truncate: defaultTruncate}
	if opts.NoTruncate {
		cfg.truncate = 0
	}
	order := slices.Clone(registry)
	slices.SortFunc(order, func(a, b lintDef) int {
		// bootc runs the non-recursive lints by name, then the walk for utf8.
		if (a.Name == "utf8") != (b.Name == "utf8") {
			if a.Name == "utf8" {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Name, b.Name)
	})
	t := newTree(ctx, fsys)
	rep := Report{FatalWarnings: opts.FatalWarnings}
	for _, l := range order {
		res := Result{Name: l.Name, Type: l.Type}
		switch {
		case skip[l.Name],
			l.RootType == RunningRoot && !opts.Running,
			l.RootType == AlternativeRoot && opts.Running:
			res.Skipped = true
		default:
			if err := ctx.Err(); err != nil {
				return Report{}, err
			}
			msg, err := l.check(t, cfg)
			if err != nil {
				return Report{}, fmt.Errorf("running lint %s: %w", l.Name, err)
			}
			res.Passed = msg == nil
			res.Message = msg
		}
		if res.Message == nil {
			res.Message = []string{}
		}
		rep.Results = append(rep.Results, res)
	}
	return rep, nil
}

// Counts returns how many lints passed, were skipped, failed as warnings and failed fatally.
func (r Report) Counts() (passed, skipped, warnings, fatal int) {
	for _, res := range r.Results {
		switch {
		case res.Skipped:
			skipped++
		case res.Passed:
			passed++
		case res.Type == Warning:
			warnings++
		default:
			fatal++
		}
	}
	return
}

// Failures is the number of failed lints that make the run fail: fatal ones,
// plus warnings when FatalWarnings is set.
func (r Report) Failures() int {
	_, _, warnings, fatal := r.Counts()
	if r.FatalWarnings {
		return fatal + warnings
	}
	return fatal
}

// Err is nil when the run succeeded, and otherwise bootc's final error.
func (r Report) Err() error {
	if n := r.Failures(); n > 0 {
		return fmt.Errorf("Linting: Checks failed: %d", n)
	}
	return nil
}

// WriteText prints the report the way `bootc container lint` does on stdout.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, res := range r.Results {
		if !res.Failed() {
			continue
		}
		prefix := "Failed lint"
		if res.Type == Warning {
			prefix = "Lint warning"
		}
		fmt.Fprintf(&b, "%s: %s: %s\n", prefix, res.Name, strings.Join(res.Message, "\n"))
		// bootc's list messages end in a newline of their own, which leaves a blank line.
		if len(res.Message) > 1 {
			b.WriteString("\n")
		}
	}
	passed, skipped, warnings, _ := r.Counts()
	fmt.Fprintf(&b, "Checks passed: %d\n", passed)
	if skipped > 0 {
		fmt.Fprintf(&b, "Checks skipped: %d\n", skipped)
	}
	if warnings > 0 {
		fmt.Fprintf(&b, "Warnings: %d\n", warnings)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the results as a JSON array, one object per lint.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	results := r.Results
	if results == nil {
		results = []Result{}
	}
	return enc.Encode(results)
}

// config is what a check needs from Options.
type config struct {
	truncate int // 0: no truncation
}

// items formats a list-style message section: a header line ending in ':'
// and items indented by two spaces, truncated bootc's way. No items, no section.
func (c *config) items(header string, items []string) []string {
	if len(items) == 0 {
		return nil
	}
	out := []string{header + ":"}
	shown := items
	if c.truncate > 0 && len(items) > c.truncate {
		shown = items[:c.truncate]
	}
	for _, it := range shown {
		out = append(out, "  "+it)
	}
	if rest := len(items) - len(shown); rest > 0 {
		out = append(out, fmt.Sprintf("  ...and %d more", rest))
	}
	return out
}

// fail turns a single message into a failure.
func fail(format string, args ...any) ([]string, error) {
	return []string{fmt.Sprintf(format, args...)}, nil
}
