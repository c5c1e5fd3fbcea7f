package treefile

import (
	"fmt"
	"regexp"
	"strings"
)

// PackageSpec is one validated entry of `packages`: a Debian binary package
// name, optionally with an architecture and a version pin or constraint.
type PackageSpec struct {
	Name    string // Debian package name, e.g. "systemd"
	Arch    string // "" = the build architecture; else a dpkg arch, "all", "any" or "native"
	Op      string // "" (any version), or one of "=", "<<", "<=", ">=", ">>"
	Version string // set iff Op is set
}

var (
	pkgNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)
	archRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	// Debian policy 5.6.12: [epoch:]upstream[-revision]; upstream starts with a digit.
	versionRE    = regexp.MustCompile(`^([0-9]+:)?[0-9][A-Za-z0-9.+~:-]*$`)
	constraintRE = regexp.MustCompile(`^(\S+)\s*\(\s*(<<|<=|=|>=|>>)\s*(\S+)\s*\)$`)
)

// String renders the entry in the form Treefile.Packages uses:
// "name", "name:arch", "name=version" or "name (op version)".
func (p PackageSpec) String() string {
	s := p.Name
	if p.Arch != "" {
		s += ":" + p.Arch
	}
	switch p.Op {
	case "":
	case "=":
		s += "=" + p.Version
	default:
		s += " (" + p.Op + " " + p.Version + ")"
	}
	return s
}

// ParsePackageSpec parses one package entry (already split and unquoted):
// "name", "name:arch", "name=version", "name:arch=version" or
// "name (op version)" with op one of << <= = >= >>.
func ParsePackageSpec(s string) (PackageSpec, error) {
	var p PackageSpec
	s = strings.TrimSpace(s)
	if m := constraintRE.FindStringSubmatch(s); m != nil {
		s, p.Op, p.Version = m[1], m[2], m[3]
	} else if strings.ContainsAny(s, " \t()<>") {
		return p, fmt.Errorf("invalid package entry %q: want name, name:arch, name=version or 'name (op version)' with op one of << <= = >= >>", s)
	} else if name, version, ok := strings.Cut(s, "="); ok {
		s, p.Op, p.Version = name, "=", version
	}
	if name, arch, ok := strings.Cut(s, ":"); ok {
		s, p.Arch = name, arch
		if !archRE.MatchString(arch) {
			return p, fmt.Errorf("invalid architecture %q in package entry %q", arch, p.String())
		}
	}
	p.Name = s
	if err := checkPackageName(p.Name); err != nil {
		return p, err
	}
	if p.Op != "" && !validVersion(p.Version) {
		return p, fmt.Errorf("invalid Debian version %q for package %s", p.Version, p.Name)
	}
	return p, nil
}

func checkPackageName(name string) error {
	if !pkgNameRE.MatchString(name) {
		return fmt.Errorf("invalid Debian package name %q: names are lower case letters, digits and + - . , at least two characters, starting with a letter or digit", name)
	}
	return nil
}

func validVersion(v string) bool {
	if !versionRE.MatchString(v) {
		return false
	}
	// A colon in the upstream part is only allowed when an epoch is present.
	if epoch, rest, ok := strings.Cut(v, ":"); ok {
		for _, c := range epoch {
			if c < '0' || c > '9' {
				return false
			}
		}
		return rest != "" && rest[0] >= '0' && rest[0] <= '9' && !strings.HasSuffix(rest, "-")
	}
	return !strings.HasSuffix(v, "-")
}

// splitPackages splits one list entry the way rpm-ostree does: on
// whitespace, unless the whole entry is wrapped in single quotes. An entry
// with a "(" is a version constraint and is never split either: YAML eats
// the quotes of - 'foo (>= 1.2)', and names cannot contain parentheses.
func splitPackages(entry string) []string {
	t := strings.TrimSpace(entry)
	if len(t) >= 2 && t[0] == '\'' && t[len(t)-1] == '\'' {
		return []string{strings.TrimSpace(t[1 : len(t)-1])}
	}
	if strings.Contains(t, "(") {
		return []string{t}
	}
	return strings.Fields(t)
}
