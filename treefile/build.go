package treefile

import (
	"maps"
	"slices"
	"strings"
)

// builder turns the merged layer into a Treefile, substituting variables
// and running the checks that need the whole merged tree.
type builder struct {
	ld   *loader
	l    *layer
	vars map[string]string
}

func (ld *loader) build(l *layer) *Treefile {
	if l == nil {
		return nil
	}
	b := &builder{ld: ld, l: l, vars: map[string]string{"basearch": ld.arch}}
	if f := l.fields["variables"]; f != nil {
		for k, v := range f.m {
			b.vars[k] = v.v.(string)
		}
	}
	t := &Treefile{Arch: ld.arch}
	if v, ok := b.one("arch"); ok && v.v.(string) != ld.arch {
		ld.errs.add(v.pos, "arch", "%q is not the build architecture %q; cross-composes are not supported", v.v, ld.arch)
	}
	if v, ok := b.one("releasever"); ok {
		t.Releasever = v.v.(string)
		b.vars["releasever"] = t.Releasever
	}
	t.Variables = b.vars

	t.Ref = b.string("ref", true)
	if t.Ref != "" && !ostreeRefRE.MatchString(t.Ref) {
		v, _ := b.one("ref")
		ld.errs.add(v.pos, "ref", "invalid OSTree ref %q (letters, digits, . _ - separated by /)", t.Ref)
	}
	t.Repos = b.repos()
	t.Packages, t.ExcludePackages = b.packages()
	t.Recommends = b.boolean("recommends")
	t.Documentation = b.boolPtr("documentation")
	t.InstallLangs = b.list("install-langs")

	t.Postprocess = b.list("postprocess")
	t.PostprocessScript = b.string("postprocess-script", false)
	for _, v := range b.vals("add-files") {
		t.AddFiles = append(t.AddFiles, v.v.(AddFile))
	}
	t.RemoveFiles = b.list("remove-files")
	for _, v := range b.vals("remove-from-packages") {
		t.RemoveFromPackages = append(t.RemoveFromPackages, v.v.(RemoveFromPackage))
	}

	t.Units = b.list("units")
	t.DefaultTarget = b.string("default-target", false)
	t.MachineIDCompat = b.boolPtr("machineid-compat")
	if t.MachineIDCompat != nil && !*t.MachineIDCompat && len(t.Units) > 0 {
		v, _ := b.one("machineid-compat")
		ld.errs.add(v.pos, "machineid-compat", "units cannot be enabled with machineid-compat: false (systemd presets apply on first boot instead); drop one of them")
	}
	t.InitramfsArgs = b.list("initramfs-args")
	t.NoInitramfs = b.boolean("no-initramfs")
	t.BootLocation = b.string("boot-location", false)
	t.TmpIsDir = b.boolPtr("tmp-is-dir")
	t.OptUsrlocal = b.string("opt-usrlocal", false)
	t.Composefs = b.string("composefs", false)
	t.IgnoreDevices = b.boolPtr("ignore-devices")
	t.ReadonlyExecutables = b.boolPtr("readonly-executables")
	t.EtcGroupMembers = b.list("etc-group-members")
	t.PreservePasswd = b.boolPtr("preserve-passwd")

	t.AutomaticVersionPrefix = b.string("automatic-version-prefix", true)
	t.AutomaticVersionSuffix = b.string("automatic-version-suffix", false)
	t.MutateOSRelease = b.string("mutate-os-release", true)
	t.Metadata = b.anyMap("metadata")
	t.AddCommitMetadata = b.anyMap("add-commit-metadata")
	if v, ok := b.one("container-cmd"); ok {
		t.ContainerCmd = v.v.([]string)
	}
	t.Container = b.boolean("container")
	return t
}

func (b *builder) one(key string) (val, bool) {
	if f := b.l.fields[key]; f != nil && f.one != nil {
		return *f.one, true
	}
	return val{}, false
}

func (b *builder) vals(key string) []val {
	if f := b.l.fields[key]; f != nil {
		return f.list
	}
	return nil
}

func (b *builder) string(key string, subst bool) string {
	v, ok := b.one(key)
	if !ok {
		return ""
	}
	if subst {
		return b.subst(v, key)
	}
	return v.v.(string)
}

func (b *builder) boolean(key string) bool {
	v, ok := b.one(key)
	return ok && v.v.(bool)
}

func (b *builder) boolPtr(key string) *bool {
	v, ok := b.one(key)
	if !ok {
		return nil
	}
	x := v.v.(bool)
	return &x
}

func (b *builder) list(key string) []string {
	var out []string
	for _, v := range b.vals(key) {
		out = append(out, v.v.(string))
	}
	return out
}

func (b *builder) anyMap(key string) map[string]any {
	f := b.l.fields[key]
	if f == nil {
		return nil
	}
	m := make(map[string]any, len(f.m))
	for k, v := range f.m {
		if s, ok := v.v.(string); ok {
			m[k] = b.subst(val{pos: v.pos, v: s}, key+"."+k)
		} else {
			m[k] = v.v
		}
	}
	return m
}

// subst replaces ${name} with the variable's value. Unlike rpm-ostree,
// which leaves unknown names verbatim, an undefined variable is an error.
func (b *builder) subst(v val, key string) string {
	s := v.v.(string)
	if !strings.Contains(s, "${") {
		return s
	}
	var out strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			out.WriteString(s)
			return out.String()
		}
		out.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			b.ld.errs.add(v.pos, key, "unterminated ${ in %q", v.v)
			return v.v.(string)
		}
		name := s[i+2 : i+end]
		value, ok := b.vars[name]
		if !ok {
			b.ld.errs.add(v.pos, key, "undefined variable ${%s}; defined: %s", name, strings.Join(slices.Sorted(maps.Keys(b.vars)), ", "))
			return v.v.(string)
		}
		out.WriteString(value)
		s = s[i+end+1:]
	}
}

func (b *builder) repos() []Repo {
	var out []Repo
	names := map[string]pos{}
	for _, v := range b.vals("repos") {
		rv := v.v.(repoVal)
		r := rv.Repo
		r.Suites = slices.Clone(r.Suites)
		r.URL = b.subst(val{pos: v.pos, v: r.URL}, rv.key+".url")
		for i, s := range r.Suites {
			r.Suites[i] = b.subst(val{pos: v.pos, v: s}, rv.key+".suites")
		}
		if msg := checkRepo(r); msg != "" {
			b.ld.errs.add(v.pos, rv.key, "%s", msg)
		}
		if r.Name != "" {
			if prev, dup := names[r.Name]; dup {
				b.ld.errs.add(v.pos, rv.key+".name", "repository name %q already used at %s", r.Name, prev)
			}
			names[r.Name] = v.pos
		}
		out = append(out, r)
	}
	return out
}

// packages substitutes and validates packages and exclude-packages; the
// result is sorted and de-duplicated.
func (b *builder) packages() (pkgs, excludes []string) {
	type seenPkg struct {
		spec PackageSpec
		pos  pos
	}
	byName := map[string]seenPkg{} // name[:arch] with a "=" pin
	firstPos := map[string]pos{}   // package name -> first place it was listed
	set := map[string]bool{}
	for _, v := range b.vals("packages") {
		s := b.subst(v, "packages")
		spec, err := ParsePackageSpec(s)
		if err != nil {
			b.ld.errs.wrap(v.pos, "packages", err, "")
			continue
		}
		if spec.Op == "=" {
			id := spec.Name + ":" + spec.Arch
			if prev, ok := byName[id]; ok && prev.spec.Version != spec.Version {
				b.ld.errs.add(v.pos, "packages", "%s pinned to %s here and to %s at %s", spec.Name, spec.Version, prev.spec.Version, prev.pos)
				continue
			}
			byName[id] = seenPkg{spec, v.pos}
		}
		if _, ok := firstPos[spec.Name]; !ok {
			firstPos[spec.Name] = v.pos
		}
		set[spec.String()] = true
	}
	pkgs = slices.Sorted(maps.Keys(set))

	exSet := map[string]bool{}
	for _, v := range b.vals("exclude-packages") {
		s := b.subst(v, "exclude-packages")
		if msg := checkExclude(s); msg != "" {
			b.ld.errs.add(v.pos, "exclude-packages", "%s", msg)
			continue
		}
		name, _, _ := strings.Cut(s, ":")
		if p, ok := firstPos[name]; ok {
			b.ld.errs.add(v.pos, "exclude-packages", "%s is also listed in packages at %s; remove it from one of them", name, p)
			continue
		}
		exSet[s] = true
	}
	excludes = slices.Sorted(maps.Keys(exSet))
	if len(excludes) == 0 {
		excludes = nil
	}
	return pkgs, excludes
}
