package treefile

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// rule is how a key merges when an included file and its includer both set it (spec §1).
type rule int

const (
	ruleScalar rule = iota // includer wins; among sibling includes the earlier-listed wins
	ruleAppend             // included items first; later-listed includes first
	ruleUnion              // like ruleAppend, then sorted and de-duplicated
	ruleMap                // key by key, includer wins
)

// val is one decoded value with the place it was written.
type val struct {
	pos pos
	v   any
}

// field is one key's value in one file, or merged across files.
type field struct {
	rule rule
	pos  pos // where the key was written
	one  *val
	list []val
	m    map[string]val
}

// layer is one treefile's keys; after include processing, the merged result.
type layer struct {
	file     string // path as given or joined, for messages
	dir      string // absolute directory, for relative paths
	fields   map[string]*field
	includes []val // string: include paths joined with the file's directory
}

type decodeFunc func(d *decoder, key string, n *yaml.Node)

var keys map[string]decodeFunc

func init() {
	keys = map[string]decodeFunc{
		"ref":        scalarString(nil),
		"arch":       scalarString(nil),
		"releasever": decodeReleasever,

		"repos":            decodeRepos,
		"packages":         decodePackages,
		"exclude-packages": stringList(ruleAppend, checkExclude),
		"recommends":       scalarBool,
		"documentation":    scalarBool,
		"install-langs":    decodeInstallLangs,

		"include":      decodeInclude,
		"arch-include": decodeArchInclude,
		"variables":    decodeVariables,

		"postprocess":          stringList(ruleAppend, nil),
		"postprocess-script":   decodePostprocessScript,
		"add-files":            decodeAddFiles,
		"remove-files":         stringList(ruleAppend, checkRemoveFile),
		"remove-from-packages": decodeRemoveFromPackages,

		"units":                stringList(ruleAppend, checkUnit),
		"default-target":       scalarString(checkTarget),
		"machineid-compat":     scalarBool,
		"initramfs-args":       stringList(ruleAppend, nil),
		"no-initramfs":         scalarBool,
		"boot-location":        scalarString(checkBootLocation),
		"tmp-is-dir":           scalarBool,
		"opt-usrlocal":         scalarString(checkOptUsrlocal),
		"composefs":            decodeComposefs,
		"ignore-devices":       scalarBool,
		"readonly-executables": scalarBool,
		"etc-group-members":    stringList(ruleAppend, checkAccountName),
		"preserve-passwd":      scalarBool,

		"automatic-version-prefix": scalarString(nil),
		"automatic-version-suffix": scalarString(checkVersionSuffix),
		"mutate-os-release":        scalarString(nil),
		"metadata":                 decodeAnyMap,
		"add-commit-metadata":      decodeAnyMap,
		"container-cmd":            decodeContainerCmd,
		"container":                scalarBool,
	}
}

// aliases are the underscore spellings rpm-ostree accepts (and its `basearch`).
var aliases = map[string]string{
	"gpg_key":                  "gpg-key",
	"boot_location":            "boot-location",
	"default_target":           "default-target",
	"automatic_version_prefix": "automatic-version-prefix",
	"basearch":                 "arch",
}

// rpmOnly are rpm-ostree keys with no Debian meaning (spec marks "–").
var rpmOnly = map[string]string{
	"bootstrap_packages":  "deprecated rpm-ostree alias; list the packages under packages",
	"platform-module":     "dnf modularity does not exist in Debian",
	"rojig":               "rpm-ostree's rojig format has no Debian equivalent",
	"rpmdb":               "the rpm database backend has no Debian equivalent",
	"rpmdb-normalize":     "the rpm database has no Debian equivalent",
	"repo-metadata":       "rpm-md repository metadata has no Debian equivalent",
	"advisories-metadata": "rpm-md advisories have no Debian equivalent",
	"cliwrap":             "rpm-ostree's cliwrap wraps rpm/dnf and has no Debian equivalent",
	"cliwrap-binaries":    "rpm-ostree's cliwrap wraps rpm/dnf and has no Debian equivalent",
	"sysusers":            "rpm-ostree's sysusers conversion is RPM-specific",
}

// notYet are rpm-ostree keys that make sense for Debian but apt-ostree does
// not implement; rejecting them beats silently building something else.
// The value, if any, says what apt-ostree does instead.
var notYet = map[string]string{
	"ima":                    "",
	"repo-packages":          "",
	"lockfile-repos":         "",
	"repovars":               "",
	"conditional-include":    "",
	"check-passwd":           "",
	"check-groups":           "",
	"ignore-removed-users":   "it only matters to check-passwd, which is not supported either",
	"ignore-removed-groups":  "it only matters to check-groups, which is not supported either",
	"selinux":                "the tree is committed without SELinux labels",
	"selinux-label-version":  "the tree is committed without SELinux labels",
	"ostree-layers":          "add content with add-files or a package instead",
	"ostree-override-layers": "add content with add-files or a package instead",
	"gpg-key":                "commits are not signed; sign them afterwards with ostree gpg-sign",
	"edition":                "apt-ostree has one set of defaults, those of edition 2024 (boot-location: modules, tmp-is-dir: true)",
	"image":                  "it comes with compose image; the tree carries no image labels",
}

// decoder turns one file's root mapping into a layer.
type decoder struct {
	errs *errList
	arch string
	l    *layer
	key  *yaml.Node // key node being decoded, for field positions
}

func (d *decoder) at(n *yaml.Node) pos { return pos{file: d.l.file, line: n.Line} }

func (d *decoder) errorf(n *yaml.Node, key, format string, args ...any) {
	d.errs.add(d.at(n), key, format, args...)
}

func (d *decoder) set(key string, f *field) {
	f.pos = d.at(d.key)
	d.l.fields[key] = f
}

func decodeLayer(errs *errList, file, dir, arch string, root *yaml.Node) *layer {
	d := &decoder{errs: errs, arch: arch, l: &layer{file: file, dir: dir, fields: map[string]*field{}}}
	spelled := map[string]*yaml.Node{} // canonical key -> key node as written
	for i := 0; i+1 < len(root.Content); i += 2 {
		kn, vn := deref(root.Content[i]), deref(root.Content[i+1])
		if kn == nil || kn.Kind != yaml.ScalarNode || kn.ShortTag() != "!!str" {
			d.errorf(root.Content[i], "", "key is %s, want a string", describe(kn))
			continue
		}
		name := kn.Value
		canon := name
		if a, ok := aliases[name]; ok {
			canon = a
		}
		if prev, ok := spelled[canon]; ok {
			if prev.Value != name {
				d.errorf(kn, name, "both %q (line %d) and %q given; they are the same key, keep one", prev.Value, prev.Line, name)
			} else {
				d.errorf(kn, name, "duplicate key (first at line %d)", prev.Line)
			}
			continue
		}
		spelled[canon] = kn
		d.key = kn
		if vn == nil {
			d.errorf(kn, name, "value is an alias nested too deeply")
			continue
		}
		switch {
		case strings.HasPrefix(name, "packages-"):
			d.archPackages(name, vn)
		case rpmOnly[name] != "":
			d.errorf(kn, name, "RPM-only key, not supported for Debian (%s)", rpmOnly[name])
		case hasKey(notYet, canon):
			msg := "rpm-ostree key not supported by apt-ostree yet; remove it"
			if hint := notYet[canon]; hint != "" {
				msg += " (" + hint + ")"
			}
			d.errorf(kn, name, "%s", msg)
		case keys[canon] == nil:
			msg := "unknown key"
			if s := suggest(name); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.errorf(kn, name, "%s", msg)
		case vn.ShortTag() == "!!null":
			// Like rpm-ostree's optional fields: null means unset.
		default:
			keys[canon](d, canon, vn)
		}
	}
	return d.l
}

// suggest returns the known key closest to a misspelled one.
func suggest(name string) string {
	best, bestDist := "", 4
	for k := range keys {
		dist := editDistance(name, k)
		if dist*3 > len(name) { // too different to be a typo of k
			continue
		}
		if dist < bestDist || (dist == bestDist && k < best) {
			best, bestDist = k, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// --- typed scalar helpers -------------------------------------------------

func (d *decoder) str(key string, n *yaml.Node) (string, bool) {
	n = deref(n)
	if n == nil || n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		hint := ""
		if n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() != "!!null" {
			hint = " (quote it)"
		}
		d.errorf(orKey(n, d.key), key, "want a string, got %s%s", describe(n), hint)
		return "", false
	}
	return n.Value, true
}

func (d *decoder) boolean(key string, n *yaml.Node) (bool, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		d.errorf(n, key, "want true or false, got %s", describe(n))
		return false, false
	}
	b, err := strconv.ParseBool(strings.ToLower(n.Value))
	if err != nil {
		d.errorf(n, key, "want true or false, got %s", describe(n))
		return false, false
	}
	return b, true
}

func (d *decoder) integer(key string, n *yaml.Node) (int, bool) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		d.errorf(n, key, "want an integer, got %s", describe(n))
		return 0, false
	}
	var i int
	if err := n.Decode(&i); err != nil {
		d.errorf(n, key, "want an integer, got %s (out of range)", describe(n))
		return 0, false
	}
	return i, true
}

// strings decodes a list of strings.
func (d *decoder) strings(key string, n *yaml.Node) ([]val, bool) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, key, "want a list of strings, got %s", describe(n))
		return nil, false
	}
	out := make([]val, 0, len(n.Content))
	ok := true
	for i, item := range n.Content {
		s, good := d.str(fmt.Sprintf("%s[%d]", key, i), item)
		if !good {
			ok = false
			continue
		}
		out = append(out, val{pos: d.at(orKey(item, n)), v: s})
	}
	return out, ok
}

func orKey(n, fallback *yaml.Node) *yaml.Node {
	if n == nil || n.Line == 0 {
		return fallback
	}
	return n
}

// checkFunc validates one string value; it returns a message or "".
type checkFunc func(s string) string

func scalarString(check checkFunc) decodeFunc {
	return func(d *decoder, key string, n *yaml.Node) {
		s, ok := d.str(key, n)
		if !ok {
			return
		}
		if check != nil {
			if msg := check(s); msg != "" {
				d.errorf(n, key, "%s", msg)
				return
			}
		}
		d.set(key, &field{rule: ruleScalar, one: &val{pos: d.at(n), v: s}})
	}
}

func scalarBool(d *decoder, key string, n *yaml.Node) {
	if b, ok := d.boolean(key, n); ok {
		d.set(key, &field{rule: ruleScalar, one: &val{pos: d.at(n), v: b}})
	}
}

func stringList(r rule, check checkFunc) decodeFunc {
	return func(d *decoder, key string, n *yaml.Node) {
		list, ok := d.strings(key, n)
		if check != nil {
			for i, v := range list {
				if msg := check(v.v.(string)); msg != "" {
					d.errs.add(v.pos, fmt.Sprintf("%s[%d]", key, i), "%s", msg)
					ok = false
				}
			}
		}
		if ok {
			d.set(key, &field{rule: r, list: list})
		}
	}
}

func oneOf(values ...string) checkFunc {
	return func(s string) string {
		if slices.Contains(values, s) {
			return ""
		}
		return fmt.Sprintf("invalid value %q; want one of %s", s, strings.Join(values, ", "))
	}
}

// --- key-specific decoders ------------------------------------------------

func decodeReleasever(d *decoder, key string, n *yaml.Node) {
	var s string
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!int":
		i, ok := d.integer(key, n)
		if !ok {
			return
		}
		if i < 0 {
			d.errorf(n, key, "want a string or unsigned integer, got %s", describe(n))
			return
		}
		s = strconv.Itoa(i)
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		s = n.Value
	default:
		d.errorf(n, key, "want a string or unsigned integer, got %s", describe(n))
		return
	}
	if msg := checkVarValue(s); msg != "" {
		d.errorf(n, key, "%s", msg)
		return
	}
	d.set(key, &field{rule: ruleScalar, one: &val{pos: d.at(n), v: s}})
}

// decodeComposefs takes prepare-root.conf's words for "[composefs]
// enabled": yes, maybe or no; a YAML boolean is refused with the same
// hint, since "maybe" has no boolean.
func decodeComposefs(d *decoder, key string, n *yaml.Node) {
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" || !slices.Contains([]string{"yes", "maybe", "no"}, n.Value) {
		d.errorf(n, key, "want yes, maybe or no (prepare-root.conf's [composefs] enabled), got %s", describe(n))
		return
	}
	d.set(key, &field{rule: ruleScalar, one: &val{pos: d.at(n), v: n.Value}})
}

func decodePackages(d *decoder, key string, n *yaml.Node) {
	list, ok := d.strings(key, n)
	if !ok {
		return
	}
	var out []val
	for i, v := range list {
		entry := v.v.(string)
		parts := splitPackages(entry)
		if len(parts) == 0 || parts[0] == "" {
			d.errs.add(v.pos, fmt.Sprintf("%s[%d]", key, i), "empty package entry")
			ok = false
			continue
		}
		for _, p := range parts {
			out = append(out, val{pos: v.pos, v: p})
		}
	}
	if !ok {
		return
	}
	// packages and the build arch's packages-<arch> share one field.
	if own := d.l.fields["packages"]; own != nil {
		own.list = append(own.list, out...)
		return
	}
	d.set("packages", &field{rule: ruleUnion, list: out})
}

// archPackages handles packages-<arch>: every such key must be a list of
// strings; only the one for the build arch is folded into packages.
func (d *decoder) archPackages(name string, n *yaml.Node) {
	arch := strings.TrimPrefix(name, "packages-")
	if !dpkgArches[arch] {
		hint := ""
		if h, ok := rpmArchHint[arch]; ok {
			hint = fmt.Sprintf("; Debian calls it %q (packages-%s)", h, h)
		}
		d.errorf(d.key, name, "unknown dpkg architecture %q%s", arch, hint)
		return
	}
	if n.ShortTag() == "!!null" {
		return
	}
	if arch == d.arch {
		decodePackages(d, name, n)
		return
	}
	// Other arches' lists are validated, then dropped.
	sub := &decoder{errs: d.errs, arch: d.arch, l: &layer{file: d.l.file, dir: d.l.dir, fields: map[string]*field{}}, key: d.key}
	decodePackages(sub, name, n)
}

func decodeInclude(d *decoder, key string, n *yaml.Node) {
	d.l.includes = append(d.l.includes, d.includeList(key, n)...)
}

func (d *decoder) includeList(key string, n *yaml.Node) []val {
	var list []val
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" {
		list = []val{{pos: d.at(n), v: n.Value}}
	} else if n.Kind == yaml.SequenceNode {
		var ok bool
		if list, ok = d.strings(key, n); !ok {
			return nil
		}
	} else {
		d.errorf(n, key, "want a path or a list of paths, got %s", describe(n))
		return nil
	}
	for i, v := range list {
		p := v.v.(string)
		if p == "" {
			d.errs.add(v.pos, key, "empty include path")
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(d.l.file), p)
		}
		list[i].v = p
	}
	return list
}

// decodeArchInclude keeps the entries for the build arch; they are processed
// after `include`.
func decodeArchInclude(d *decoder, key string, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, key, "want a mapping of architecture to path(s), got %s", describe(n))
		return
	}
	var matched *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := deref(n.Content[i]), deref(n.Content[i+1])
		arch, ok := d.str(key, kn)
		if !ok {
			continue
		}
		if !dpkgArches[arch] {
			d.errorf(kn, key+"."+arch, "unknown dpkg architecture %q", arch)
			continue
		}
		if arch == d.arch && vn != nil {
			matched = vn
		}
	}
	if matched != nil && matched.ShortTag() != "!!null" {
		d.l.includes = append(d.l.includes, d.includeList(key+"."+d.arch, matched)...)
	}
}

var varNameRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)

func checkVarValue(s string) string {
	if strings.ContainsAny(s, "${}") {
		return fmt.Sprintf("value %q must not contain $, { or }", s)
	}
	return ""
}

func decodeVariables(d *decoder, key string, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, key, "want a mapping of name to string, integer or boolean, got %s", describe(n))
		return
	}
	m := map[string]val{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := deref(n.Content[i]), deref(n.Content[i+1])
		name, ok := d.str(key, kn)
		if !ok {
			continue
		}
		sub := key + "." + name
		switch {
		case !varNameRE.MatchString(name):
			d.errorf(kn, sub, "invalid variable name; use letters, digits and _")
			continue
		case name == "basearch" || name == "releasever":
			d.errorf(kn, sub, "%s is reserved (set by the build architecture / the releasever key)", name)
			continue
		case m[name].pos.line != 0:
			d.errorf(kn, sub, "duplicate variable (first at line %d)", m[name].pos.line)
			continue
		}
		if vn == nil || vn.Kind != yaml.ScalarNode {
			d.errorf(orKey(vn, kn), sub, "want a string, unsigned integer or boolean, got %s", describe(vn))
			continue
		}
		var s string
		switch vn.ShortTag() {
		case "!!str":
			s = vn.Value
		case "!!bool":
			b, ok := d.boolean(sub, vn)
			if !ok {
				continue
			}
			s = strconv.FormatBool(b)
		case "!!int":
			i, ok := d.integer(sub, vn)
			if !ok {
				continue
			}
			if i < 0 {
				d.errorf(vn, sub, "want an unsigned integer, got %d", i)
				continue
			}
			s = strconv.Itoa(i)
		default:
			d.errorf(vn, sub, "want a string, unsigned integer or boolean, got %s", describe(vn))
			continue
		}
		if msg := checkVarValue(s); msg != "" {
			d.errorf(vn, sub, "%s", msg)
			continue
		}
		m[name] = val{pos: d.at(vn), v: s}
	}
	d.set(key, &field{rule: ruleMap, m: m})
}

// resolvePath joins a relative path to the declaring file's directory.
func (d *decoder) resolvePath(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(d.l.dir, p)
}

// checkFile resolves p and checks it names an existing regular file.
func (d *decoder) checkFile(n *yaml.Node, key, what, p string) (string, bool) {
	if p == "" {
		d.errorf(n, key, "empty path")
		return "", false
	}
	abs := d.resolvePath(p)
	fi, err := os.Stat(abs)
	if err != nil {
		d.errs.wrap(d.at(n), key, err, "%s %s (resolved against %s)", what, p, d.l.dir)
		return "", false
	}
	if !fi.Mode().IsRegular() {
		d.errorf(n, key, "%s %s is not a regular file", what, abs)
		return "", false
	}
	return abs, true
}

func decodePostprocessScript(d *decoder, key string, n *yaml.Node) {
	p, ok := d.str(key, n)
	if !ok {
		return
	}
	abs, ok := d.checkFile(n, key, "postprocess script", p)
	if !ok {
		return
	}
	if fi, err := os.Stat(abs); err == nil && fi.Mode().Perm()&0o111 == 0 {
		d.errorf(n, key, "postprocess script %s is not executable; chmod +x it", abs)
		return
	}
	d.set(key, &field{rule: ruleScalar, one: &val{pos: d.at(n), v: abs}})
}

// addFilesDirs are the trees add-files may write to (rpm-ostree's rule).
var addFilesDirs = []string{"/usr/", "/etc/", "/bin/", "/sbin/", "/lib/", "/lib64/"}

func decodeAddFiles(d *decoder, key string, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, key, "want a list of [source, destination] pairs, got %s", describe(n))
		return
	}
	var list []val
	ok := true
	for i, item := range n.Content {
		item = deref(item)
		sub := fmt.Sprintf("%s[%d]", key, i)
		if item == nil || item.Kind != yaml.SequenceNode || len(item.Content) != 2 {
			d.errorf(orKey(item, n), sub, "want a [source, destination] pair, got %s", describe(item))
			ok = false
			continue
		}
		src, good1 := d.str(sub, item.Content[0])
		dest, good2 := d.str(sub, item.Content[1])
		if !good1 || !good2 {
			ok = false
			continue
		}
		abs, good := d.checkFile(item, sub, "add-files source", src)
		if !good {
			ok = false
			continue
		}
		if msg := checkAddFilesDest(dest); msg != "" {
			d.errorf(item, sub, "%s", msg)
			ok = false
			continue
		}
		list = append(list, val{pos: d.at(item), v: AddFile{Src: abs, Dest: path.Clean(dest)}})
	}
	if ok {
		d.set(key, &field{rule: ruleAppend, list: list})
	}
}

func checkAddFilesDest(dest string) string {
	if !path.IsAbs(dest) {
		return fmt.Sprintf("destination %q must be an absolute path", dest)
	}
	if slices.Contains(strings.Split(dest, "/"), "..") {
		return fmt.Sprintf("destination %q must not contain ..", dest)
	}
	clean := path.Clean(dest)
	if clean == "/usr/local" || strings.HasPrefix(clean, "/usr/local/") {
		return fmt.Sprintf("destination %q is under /usr/local, which is not part of the image", dest)
	}
	for _, dir := range addFilesDirs {
		if strings.HasPrefix(clean, dir) {
			return ""
		}
	}
	return fmt.Sprintf("destination %q must be under /usr, /etc, /bin, /sbin, /lib or /lib64", dest)
}

func decodeRemoveFromPackages(d *decoder, key string, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, key, "want a list of [package, regex...] lists, got %s", describe(n))
		return
	}
	var list []val
	ok := true
	for i, item := range n.Content {
		item = deref(item)
		sub := fmt.Sprintf("%s[%d]", key, i)
		if item == nil || item.Kind != yaml.SequenceNode || len(item.Content) < 2 {
			d.errorf(orKey(item, n), sub, "want [package, regex...] with at least one regex, got %s", describe(item))
			ok = false
			continue
		}
		strs, good := d.strings(sub, item)
		if !good {
			ok = false
			continue
		}
		r := RemoveFromPackage{Package: strs[0].v.(string)}
		if err := checkPackageName(r.Package); err != nil {
			d.errs.wrap(strs[0].pos, sub, err, "")
			ok = false
			continue
		}
		for _, s := range strs[1:] {
			re := s.v.(string)
			if _, err := regexp.Compile(re); err != nil {
				d.errs.wrap(s.pos, sub, err, "invalid regex %q", re)
				good = false
			}
			r.Patterns = append(r.Patterns, re)
		}
		if !good {
			ok = false
			continue
		}
		list = append(list, val{pos: d.at(item), v: r})
	}
	if ok {
		d.set(key, &field{rule: ruleAppend, list: list})
	}
}

func decodeContainerCmd(d *decoder, key string, n *yaml.Node) {
	list, ok := d.strings(key, n)
	if !ok {
		return
	}
	if len(list) == 0 {
		d.errorf(n, key, "empty command")
		return
	}
	cmd := make([]string, len(list))
	for i, v := range list {
		cmd[i] = v.v.(string)
	}
	// rpm-ostree merges this list like a scalar: the whole command is replaced.
	d.set(key, &field{rule: ruleScalar, one: &val{pos: d.at(n), v: cmd}})
}

// maxMetadataNodes bounds alias expansion ("billion laughs") in free-form maps.
const maxMetadataNodes = 100000

func decodeAnyMap(d *decoder, key string, n *yaml.Node) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, key, "want a mapping, got %s", describe(n))
		return
	}
	budget := maxMetadataNodes
	m := map[string]val{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn := deref(n.Content[i])
		k, ok := d.str(key, kn)
		if !ok {
			continue
		}
		if prev, dup := m[k]; dup {
			d.errorf(kn, key+"."+k, "duplicate key (first at line %d)", prev.pos.line)
			continue
		}
		vn := n.Content[i+1]
		v, err := toAny(vn, 0, &budget)
		if err != nil {
			d.errorf(orKey(deref(vn), kn), key+"."+k, "%v", err)
			continue
		}
		m[k] = val{pos: d.at(orKey(deref(vn), kn)), v: v}
	}
	d.set(key, &field{rule: ruleMap, m: m})
}

// toAny converts a node to JSON-compatible Go values (string-keyed maps only).
func toAny(n *yaml.Node, depth int, budget *int) (any, error) {
	n = deref(n)
	*budget--
	if n == nil || depth > maxNesting || *budget < 0 {
		return nil, fmt.Errorf("value nested too deeply or too large")
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn := deref(n.Content[i])
			if kn == nil || kn.Kind != yaml.ScalarNode || kn.ShortTag() != "!!str" {
				return nil, fmt.Errorf("line %d: map key is %s, want a string", orKey(kn, n).Line, describe(kn))
			}
			if _, dup := m[kn.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", kn.Line, kn.Value)
			}
			v, err := toAny(n.Content[i+1], depth+1, budget)
			if err != nil {
				return nil, err
			}
			m[kn.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := toAny(c, depth+1, budget)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return n.Value, nil
		case "!!null":
			return nil, nil
		case "!!bool", "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				return nil, fmt.Errorf("line %d: %w", n.Line, err)
			}
			if f, ok := v.(float64); ok && (f != f || f > 1.7976931348623157e308 || f < -1.7976931348623157e308) {
				return nil, fmt.Errorf("line %d: %s cannot be represented in JSON", n.Line, n.Value)
			}
			return v, nil
		}
		return nil, fmt.Errorf("line %d: unsupported value %s; quote it", n.Line, describe(n))
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// --- value checks -----------------------------------------------------------

func checkExclude(s string) string {
	name, arch, hasArch := strings.Cut(s, ":")
	if err := checkPackageName(name); err != nil {
		return err.Error()
	}
	if hasArch && !archRE.MatchString(arch) {
		return fmt.Sprintf("invalid architecture %q", arch)
	}
	return ""
}

var ostreeRefRE = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)

func checkRemoveFile(s string) string {
	switch {
	case s == "":
		return "empty path"
	case strings.HasPrefix(s, "/"):
		return fmt.Sprintf("path %q must be relative to the root (no leading /)", s)
	case slices.Contains(strings.Split(s, "/"), ".."):
		return fmt.Sprintf("path %q must not contain ..", s)
	}
	return ""
}

var unitRE = regexp.MustCompile(`^[A-Za-z0-9:_.\\@-]+\.(service|socket|device|mount|automount|swap|target|path|timer|slice|scope)$`)

func checkUnit(s string) string {
	if !unitRE.MatchString(s) {
		return fmt.Sprintf("invalid systemd unit name %q (want e.g. foo.service)", s)
	}
	return ""
}

func checkTarget(s string) string {
	if !unitRE.MatchString(s) || !strings.HasSuffix(s, ".target") {
		return fmt.Sprintf("invalid target %q (want e.g. multi-user.target)", s)
	}
	return ""
}

var accountRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]*\$?$`)

func checkAccountName(s string) string {
	if !accountRE.MatchString(s) {
		return fmt.Sprintf("invalid user/group name %q", s)
	}
	return ""
}

func checkVersionSuffix(s string) string {
	if len(s) != 1 || s[0] < 0x20 || s[0] > 0x7e {
		return fmt.Sprintf("want exactly one printable ASCII character, got %q", s)
	}
	return ""
}

func hasKey[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

func checkBootLocation(s string) string {
	switch s {
	case "modules":
		return ""
	case "new", "kernel-install":
		return fmt.Sprintf("%q is not supported by apt-ostree yet: the kernel and initramfs go to /usr/lib/modules/$kver only; use modules", s)
	}
	return fmt.Sprintf("invalid value %q; want modules", s)
}

func checkOptUsrlocal(s string) string {
	switch s {
	case "var", "root":
		return ""
	case "stateoverlay":
		return "stateoverlay is not supported by apt-ostree yet; use var (symlinks into /var) or root (directories in the image)"
	}
	return fmt.Sprintf("invalid value %q; want var or root", s)
}

// langRE matches a locale name as install-langs takes it (rpm's
// _install_langs): language, optional territory, codeset and modifier.
var langRE = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2}|_[0-9]{3})?(\.[A-Za-z0-9-]+)?(@[A-Za-z0-9]+)?$`)

// decodeInstallLangs takes a non-empty list of locale names, or "all".
// An empty list is refused: unset keeps every translation, and an empty
// list would look like "keep none" while meaning the same as unset.
func decodeInstallLangs(d *decoder, key string, n *yaml.Node) {
	list, ok := d.strings(key, n)
	if !ok {
		return
	}
	if len(list) == 0 {
		d.errorf(n, key, "empty list; name the languages to keep (e.g. [en_US]), or remove the key to keep every translation")
		return
	}
	for i, v := range list {
		s := v.v.(string)
		if s != "all" && !langRE.MatchString(s) {
			d.errs.add(v.pos, fmt.Sprintf("%s[%d]", key, i), "invalid locale name %q (want e.g. en_US, pt_BR, sr@latin or all)", s)
			ok = false
		}
	}
	if ok {
		d.set(key, &field{rule: ruleAppend, list: list})
	}
}
