package assemble

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"

	"github.com/apt-ostree/apt-ostree/deb"
	"github.com/apt-ostree/apt-ostree/internal/rootpath"
)

// ScriptError is a maintainer script that failed.
type ScriptError struct {
	Package string   // as dpkg names it ("libfoo:amd64" for Multi-Arch: same)
	Script  string   // "preinst", "postinst", "prerm" or "postrm"
	Status  string   // e.g. "exit status 1"
	Output  []string // the script's last output lines
	// Failed lists every package dpkg could not configure in that run,
	// the one above included (the others usually depend on it).
	Failed []string
	Err    error // the command's error
}

func (e *ScriptError) Error() string {
	var also string
	if others := without(e.Failed, e.Package); len(others) > 0 {
		also = "; also left unconfigured: " + strings.Join(others, ", ")
	}
	return fmt.Sprintf("package %s: %s script failed (%s)%s%s", e.Package, e.Script, e.Status, also, formatTail(e.Output))
}

func (e *ScriptError) Unwrap() error { return e.Err }

func without(list []string, s string) []string {
	var out []string
	for _, x := range list {
		if x != s {
			out = append(out, x)
		}
	}
	return out
}

// Configure makes every unpacked package of root installed, as dpkg -i
// would have after unpacking (spec §6 steps 4-6): it runs each
// "preinst install" in pre-dependency order with dpkg's DPKG_* environment,
// then "dpkg --configure -a" with the root's own dpkg and INITRD=No (so no
// initramfs is built yet; see Initramfs), then requires "dpkg --audit" to
// print nothing. Packages already installed are left alone, so it also
// serves for packages added to an existing root.
func Configure(ctx context.Context, root string, opts Options) (err error) {
	sb, err := OpenSandbox(ctx, root, opts)
	if err != nil {
		return err
	}
	defer closeSandbox(sb, &err)
	return configure(ctx, sb, opts)
}

func closeSandbox(sb *Sandbox, err *error) {
	if cerr := sb.Close(); cerr != nil && *err == nil {
		*err = cerr
	}
}

func configure(ctx context.Context, sb *Sandbox, opts Options) error {
	log := opts.logger()
	db, pkgs, err := readStatus(sb.root)
	if err != nil {
		return err
	}
	var pending []pkgState
	unfinished := 0
	for _, p := range pkgs {
		if p.State == "unpacked" && (p.Want == "install" || p.Want == "hold") {
			pending = append(pending, p)
		}
		if p.State != "installed" && p.State != "not-installed" && p.State != "config-files" {
			unfinished++
		}
	}
	if unfinished == 0 {
		log.Debug("assemble: nothing to configure", "root", sb.root)
		return nil
	}
	order, err := orderPreinsts(pending, opts.PreinstOrder)
	if err != nil {
		return err
	}
	dpkgVersion, err := runningDpkgVersion(ctx, sb, pkgs)
	if err != nil {
		return err
	}
	log.Info("assemble: running preinsts", "packages", len(order))
	if err := opts.phase("preinst", func() error {
		for _, p := range order {
			if err := runPreinst(ctx, sb, db, p, dpkgVersion); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if opts.DebconfSelections != "" {
		if _, err := sb.Run(ctx, Cmd{Args: []string{"debconf-set-selections"}, Stdin: strings.NewReader(opts.DebconfSelections)}); err != nil {
			return fmt.Errorf("seed debconf answers: %w", err)
		}
	}
	log.Info("assemble: dpkg --configure -a", "packages", unfinished)
	if err := opts.phase("configure", func() error { return dpkgConfigure(ctx, sb) }); err != nil {
		return err
	}
	if err := audit(ctx, sb); err != nil {
		return err
	}
	// ldconfig's auxiliary cache holds inode numbers and times: not reproducible (spec §4).
	if p, err := rootpath.Resolve(sb.root, "var/cache/ldconfig/aux-cache"); err == nil {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// orderPreinsts puts the packages named in given first, in that order, then
// the rest in pre-dependency order.
func orderPreinsts(pending []pkgState, given []string) ([]pkgState, error) {
	if given == nil {
		return preinstOrder(pending), nil
	}
	used := make([]bool, len(pending))
	var out []pkgState
	for _, g := range given {
		name, arch, _ := strings.Cut(g, ":")
		for i, p := range pending {
			if !used[i] && p.Name == name && (arch == "" || arch == p.Arch) {
				used[i] = true
				out = append(out, p)
			}
		}
	}
	var rest []pkgState
	for i, p := range pending {
		if !used[i] {
			rest = append(rest, p)
		}
	}
	return append(out, preinstOrder(rest)...), nil
}

var dpkgVersionRE = regexp.MustCompile(`version (\S+)`)

// runningDpkgVersion is DPKG_RUNNING_VERSION: the root's dpkg.
func runningDpkgVersion(ctx context.Context, sb *Sandbox, pkgs []pkgState) (string, error) {
	for _, p := range pkgs {
		if p.Name == "dpkg" && p.Version != "" {
			return p.Version, nil
		}
	}
	out, err := sb.Run(ctx, Cmd{Args: []string{"dpkg", "--version"}})
	if err != nil {
		return "", fmt.Errorf("the root has no working dpkg (is the dpkg package in the set?): %w", err)
	}
	m := dpkgVersionRE.FindSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("dpkg --version in %s: no version in %q", sb.root, lastLines(out, 1))
	}
	return strings.TrimSuffix(string(m[1]), "."), nil
}

// runPreinst runs one preinst the way dpkg does before unpacking (spec
// §2.1, pitfall 10: dpkg-maintscript-helper needs the DPKG_* variables).
func runPreinst(ctx context.Context, sb *Sandbox, db *deb.Database, p pkgState, dpkgVersion string) error {
	script := "/" + db.InfoPath(p.inst, "preinst")
	host, err := rootpath.ResolveFollow(sb.root, script)
	if err != nil {
		return err
	}
	if _, err := os.Stat(host); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	args := []string{script, "install"}
	if p.ConfigVersion != "" {
		args = []string{script, "upgrade", p.ConfigVersion}
	}
	_, err = sb.Run(ctx, Cmd{Args: args, Env: []string{
		"DPKG_MAINTSCRIPT_NAME=preinst",
		"DPKG_MAINTSCRIPT_PACKAGE=" + p.Name,
		"DPKG_MAINTSCRIPT_ARCH=" + p.Arch,
		"DPKG_MAINTSCRIPT_PACKAGE_REFCOUNT=1",
		"DPKG_RUNNING_VERSION=" + dpkgVersion,
		"DPKG_ADMINDIR=/" + db.Dir(),
		"DPKG_ROOT=",
		"DPKG_FORCE=downgrade,security-mac,unsafe-io,confdef,confold",
	}})
	if err != nil {
		se := &ScriptError{Package: p.ID(), Script: "preinst", Failed: []string{p.ID()}, Err: err}
		var ce *CommandError
		if errors.As(err, &ce) {
			se.Status = ce.Err.Error()
			se.Output = lastLines(ce.Output, tailLines)
		} else {
			se.Status = err.Error()
		}
		return se
	}
	return nil
}

// dpkgConfigure runs dpkg --configure -a, which also processes the
// triggers. INITRD=No makes the kernel hooks of initramfs-tools and dracut
// skip their build, so the image is built once, by Initramfs (spec §3.4).
func dpkgConfigure(ctx context.Context, sb *Sandbox) error {
	out, err := sb.Run(ctx, Cmd{Args: []string{"dpkg", "--configure", "-a"}, Env: []string{"INITRD=No"}})
	if err == nil {
		return nil
	}
	if se := parseDpkgFailure(out); se != nil {
		se.Err = err
		return se
	}
	return fmt.Errorf("configure packages: %w", err)
}

var (
	dpkgSectionRE = regexp.MustCompile(`^(?:Setting up|Processing triggers for) (\S+) `)
	dpkgErrorRE   = regexp.MustCompile(`^dpkg: error processing package (\S+) \(`)
	dpkgScriptRE  = regexp.MustCompile(`^\s*(?:installed|new|old) (\S+) package (pre-installation|post-installation|pre-removal|post-removal) script subprocess (?:returned error )?(.*)$`)
)

var scriptNames = map[string]string{
	"pre-installation":  "preinst",
	"post-installation": "postinst",
	"pre-removal":       "prerm",
	"post-removal":      "postrm",
}

// parseDpkgFailure finds, in dpkg's output, the first maintainer script
// that failed and what it printed since dpkg announced the package
// ("Setting up X ..." or "Processing triggers for X ...").
func parseDpkgFailure(out []byte) *ScriptError {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	sectionStart := map[string]int{}
	var first *ScriptError
	var failed []string
	inSummary := false
	for i, line := range lines {
		if m := dpkgSectionRE.FindStringSubmatch(line); m != nil {
			sectionStart[m[1]] = i + 1
			sectionStart[strings.SplitN(m[1], ":", 2)[0]] = i + 1
			continue
		}
		if line == "Errors were encountered while processing:" {
			inSummary = true
			continue
		}
		if inSummary && strings.HasPrefix(line, " ") {
			failed = append(failed, strings.TrimSpace(line))
			continue
		}
		m := dpkgErrorRE.FindStringSubmatch(line)
		if m == nil || first != nil || i+1 >= len(lines) {
			continue
		}
		sm := dpkgScriptRE.FindStringSubmatch(lines[i+1])
		if sm == nil {
			continue
		}
		pkg := strings.TrimSuffix(m[1], ":")
		start, ok := sectionStart[pkg]
		if !ok {
			start = sectionStart[strings.SplitN(pkg, ":", 2)[0]]
		}
		body := lines[start:i]
		if len(body) > tailLines {
			body = body[len(body)-tailLines:]
		}
		first = &ScriptError{Package: pkg, Script: scriptNames[sm[2]], Status: sm[3], Output: body}
	}
	if first != nil {
		first.Failed = failed
		if len(failed) == 0 {
			first.Failed = []string{first.Package}
		}
	}
	return first
}

// ErrAudit is wrapped when dpkg --audit reports a problem after configure.
var ErrAudit = errors.New("dpkg --audit is not clean")

// audit requires empty output from dpkg --audit, whose exit status is
// always 0 (spec pitfall 15).
func audit(ctx context.Context, sb *Sandbox) error {
	out, err := sb.Run(ctx, Cmd{Args: []string{"dpkg", "--audit"}})
	if err != nil {
		return err
	}
	if s := strings.TrimSpace(string(out)); s != "" {
		return fmt.Errorf("%s after dpkg --configure -a in %s: %w:\n%s", "dpkg --audit", sb.root, ErrAudit, s)
	}
	_, pkgs, err := readStatus(sb.root)
	if err != nil {
		return err
	}
	var bad []string
	for _, p := range pkgs {
		if p.Want == "install" && p.State != "installed" {
			bad = append(bad, fmt.Sprintf("%s (%s %s %s)", p.ID(), p.Want, p.Flag, p.State))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("after dpkg --configure -a in %s: %w: not installed: %s", sb.root, ErrAudit, strings.Join(bad, ", "))
	}
	return nil
}
