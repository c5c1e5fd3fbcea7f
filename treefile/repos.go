package treefile

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"go.yaml.in/yaml/v3"
)

const armorBegin = "-----BEGIN PGP PUBLIC KEY BLOCK-----"

var (
	repoNameRE  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	componentRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]*$`)
	suiteRE     = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/+-]*$`)
)

// repoVal is a decoded repos entry; URL and suites are checked after
// variable substitution.
type repoVal struct {
	Repo
	key string // "repos[i]", for messages
}

func decodeRepos(d *decoder, key string, n *yaml.Node) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, key, "want a list of repositories (mappings with suites, components, url, signed-by, ...), got %s", describe(n))
		return
	}
	var list []val
	ok := true
	for i, item := range n.Content {
		item = deref(item)
		sub := fmt.Sprintf("%s[%d]", key, i)
		if item == nil || item.Kind != yaml.MappingNode {
			hint := ""
			if item != nil && item.ShortTag() == "!!str" {
				hint = " (rpm-ostree's repo ids become mappings here: name, url, suites, components, signed-by)"
			}
			d.errorf(orKey(item, n), sub, "want a mapping, got %s%s", describe(item), hint)
			ok = false
			continue
		}
		r, good := d.repo(sub, item)
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

func (d *decoder) repo(key string, n *yaml.Node) (repoVal, bool) {
	r := repoVal{key: key}
	ok := true
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := deref(n.Content[i]), deref(n.Content[i+1])
		name, good := d.str(key, kn)
		if !good {
			ok = false
			continue
		}
		sub := key + "." + name
		if line, dup := seen[name]; dup {
			d.errorf(kn, sub, "duplicate key (first at line %d)", line)
			ok = false
			continue
		}
		seen[name] = kn.Line
		if vn == nil || vn.ShortTag() == "!!null" {
			continue
		}
		if !d.repoKey(&r, sub, name, kn, vn) {
			ok = false
		}
	}
	if len(r.Suites) == 0 && seen["suites"] == 0 {
		d.errorf(n, key, "suites is required (e.g. [trixie, trixie-updates])")
		ok = false
	}
	if len(r.Components) == 0 {
		r.Components = []string{"main"}
	}
	if r.Trusted && (r.SignedBy != "" || r.SignedByKey != "") {
		d.errorf(n, key, "trusted: true and signed-by both given; keep one")
		ok = false
	}
	return r, ok
}

func (d *decoder) repoKey(r *repoVal, sub, name string, kn, vn *yaml.Node) bool {
	switch name {
	case "name":
		s, ok := d.str(sub, vn)
		if ok && !repoNameRE.MatchString(s) {
			d.errorf(vn, sub, "invalid repository name %q (letters, digits, . _ -)", s)
			return false
		}
		r.Name = s
		return ok
	case "url":
		s, ok := d.str(sub, vn)
		r.URL = s
		return ok
	case "suites":
		list, ok := d.strings(sub, vn)
		if ok && len(list) == 0 {
			d.errorf(vn, sub, "empty list; name at least one suite")
			return false
		}
		for _, v := range list {
			r.Suites = append(r.Suites, v.v.(string))
		}
		return ok
	case "components":
		list, ok := d.strings(sub, vn)
		for _, v := range list {
			c := v.v.(string)
			if !componentRE.MatchString(c) {
				d.errs.add(v.pos, sub, "invalid component %q", c)
				ok = false
			}
			r.Components = append(r.Components, c)
		}
		return ok
	case "arch":
		s, ok := d.str(sub, vn)
		if ok && !dpkgArches[s] {
			d.errorf(vn, sub, "unknown dpkg architecture %q", s)
			return false
		}
		r.Arch = s
		return ok
	case "signed-by":
		s, ok := d.str(sub, vn)
		if !ok {
			return false
		}
		if strings.Contains(s, armorBegin) {
			if _, err := openpgp.ReadArmoredKeyRing(strings.NewReader(s)); err != nil {
				d.errs.wrap(d.at(vn), sub, err, "inline key block is not a valid ASCII-armored OpenPGP public key")
				return false
			}
			r.SignedByKey = s
			return true
		}
		abs, ok := d.checkFile(vn, sub, "keyring", s)
		r.SignedBy = abs
		return ok
	case "trusted":
		b, ok := d.boolean(sub, vn)
		r.Trusted = b
		return ok
	case "check-valid-until":
		b, ok := d.boolean(sub, vn)
		r.SkipValidUntil = ok && !b
		return ok
	}
	d.errorf(kn, sub, "unknown key; a repository has name, url, suites, components, arch, signed-by, trusted, check-valid-until")
	return false
}

// checkRepo validates the substituted URL and suites.
func checkRepo(r Repo) string {
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		if err != nil {
			return fmt.Sprintf("invalid url %q: %v", r.URL, err)
		}
		switch u.Scheme {
		case "http", "https", "file":
		default:
			return fmt.Sprintf("url %q: scheme must be http, https or file", r.URL)
		}
		if u.Scheme != "file" && u.Host == "" {
			return fmt.Sprintf("url %q has no host", r.URL)
		}
	}
	for _, s := range r.Suites {
		if !suiteRE.MatchString(s) {
			return fmt.Sprintf("invalid suite %q", s)
		}
	}
	return ""
}
