package bootc

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

const (
	tmpfilesDir = "usr/lib/tmpfiles.d"
	// IntegrationConf declares the state directories behind the top-level
	// symlinks, like rpm-ostree-0-integration.conf.
	IntegrationConf = tmpfilesDir + "/apt-ostree-0-integration.conf"
	// AutovarConf holds what /var held at compose time, like
	// rpm-ostree-1-autovar.conf.
	AutovarConf = tmpfilesDir + "/apt-ostree-autovar.conf"
	// factoryDir keeps files tmpfiles.d C lines copy into /var at boot.
	factoryDir = "usr/share/factory"
)

// integrationLines is IntegrationConf's content without the dpkg line.
var integrationLines = []string{
	"d /var/home 0755 root root - -",
	"d /var/roothome 0700 root root - -",
	"d /var/srv 0755 root root - -",
	"d /var/mnt 0755 root root - -",
	"d /var/opt 0755 root root - -",
	"d /var/usrlocal 0755 root root - -",
	"d /var/usrlocal/bin 0755 root root - -",
	"d /var/usrlocal/etc 0755 root root - -",
	"d /var/usrlocal/games 0755 root root - -",
	"d /var/usrlocal/include 0755 root root - -",
	"d /var/usrlocal/lib 0755 root root - -",
	"d /var/usrlocal/sbin 0755 root root - -",
	"d /var/usrlocal/share 0755 root root - -",
	"d /var/usrlocal/src 0755 root root - -",
	"d /run/media 0755 root root - -",
}

// writeIntegrationTmpfiles writes IntegrationConf: the directories /home,
// /root, /srv, /mnt, /opt, /usr/local and /media point to, and the
// /var/lib/dpkg link to the database moveDpkgDatabase moved.
func writeIntegrationTmpfiles(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	lines := append([]string{"# Written by apt-ostree: state directories behind the image's top-level symlinks."}, integrationLinesFor(opts)...)
	if ok, err := r.isDir(usrDpkg); err != nil {
		return err
	} else if ok {
		lines = append(lines, dpkgTmpfilesLine)
	}
	return r.writeFile(IntegrationConf, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// varStateFiles are deleted without notice: host state no image should
// carry (rpm-ostree's list).
var varStateFiles = []string{
	"var/lib/systemd/random-seed",
	"var/lib/systemd/catalog/database",
	"var/lib/plymouth/boot-duration",
	"var/log/wtmp",
	"var/log/btmp",
}

// factoryAreas are the /var directories behind /root, /home, /srv, /mnt,
// /usr/local and /opt: a regular file there (root's dotfiles, say) is kept
// under /usr/share/factory and copied in at boot by a C line, instead of
// being lost. This is our addition; rpm-ostree drops them.
var factoryAreas = []string{"var/roothome", "var/home", "var/srv", "var/mnt", "var/usrlocal", "var/opt"}

// convertVarToTmpfilesD turns /var into AutovarConf lines and empties it
// (convert_var_to_tmpfiles_d): a directory becomes "d <path> <mode> <user>
// <group> - -" with names from the root's own passwd and group, a symlink
// "L <path> - - - - <target>", a regular file under /var/lib/nfs an "f"
// line, one in a factoryAreas directory a "C" line; other regular files are
// deleted with a notice. /var/run becomes a link to ../run. Paths any other
// tmpfiles.d file already creates are left to it. Lines are sorted and
// unique, the file 0644, and /var ends up an empty 0755 directory.
func convertVarToTmpfilesD(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	fi, err := r.lstat("var")
	if err != nil {
		return err
	}
	if fi != nil && !fi.IsDir() {
		return fmt.Errorf("%s: /var is a %s, not a directory", root, fi.Mode().Type())
	}
	lines := map[string]bool{}
	if old, _, err := r.readFile(AutovarConf); err != nil {
		return err
	} else {
		for _, l := range strings.Split(string(old), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				lines[l] = true
			}
		}
	}
	if fi != nil {
		c, err := newVarConverter(r, opts)
		if err != nil {
			return err
		}
		if err := c.convert(ctx, lines); err != nil {
			return err
		}
		if c.removed > 0 {
			opts.log().Info("removed regular files from /var: the image's /var is created from tmpfiles.d at boot (-v lists them)", "files", c.removed)
		}
	}
	if len(lines) > 0 {
		sorted := make([]string, 0, len(lines))
		for l := range lines {
			sorted = append(sorted, l)
		}
		sort.Strings(sorted)
		data := "# Written by apt-ostree from the content of /var at compose time.\n" + strings.Join(sorted, "\n") + "\n"
		if err := r.writeFile(AutovarConf, []byte(data), 0o644); err != nil {
			return err
		}
	}
	return r.emptyDir("var", 0o755)
}

type varConverter struct {
	r        rootfs
	opts     Options
	users    map[uint32]string
	groups   map[uint32]string
	declared map[string]bool // physical keys of paths other tmpfiles.d files create
	removed  int             // regular files dropped from /var
}

func newVarConverter(r rootfs, opts Options) (*varConverter, error) {
	c := &varConverter{r: r, opts: opts}
	etc, err := etcDir(r)
	if err != nil {
		return nil, err
	}
	if c.users, err = idNames(r, path.Join(etc, "passwd"), "usr/lib/passwd"); err != nil {
		return nil, err
	}
	if c.groups, err = idNames(r, path.Join(etc, "group"), "usr/lib/group"); err != nil {
		return nil, err
	}
	if c.declared, err = declaredPaths(r, []string{tmpfilesDir, path.Join(etc, "tmpfiles.d")}, AutovarConf); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *varConverter) convert(ctx context.Context, lines map[string]bool) error {
	for _, f := range varStateFiles {
		if err := removeNonDir(c.r, f); err != nil {
			return err
		}
	}
	if fi, err := c.r.lstat("var/run"); err != nil {
		return err
	} else if fi != nil {
		// rpm-ostree deletes /var/run, relying on systemd's var.conf
		// to make it; declaring it keeps it on systems whose var.conf does not.
		if fi.IsDir() {
			c.opts.log().Info("replacing the /var/run directory by a link to /run")
		}
		c.add(lines, "var/run", "L /var/run - - - - ../run")
		if err := c.r.removeAll("var/run"); err != nil {
			return err
		}
	}
	varHost, err := c.r.path("var")
	if err != nil {
		return err
	}
	return filepath.WalkDir(varHost, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel := path.Join("var", relPath(varHost, p))
		if rel == "var" {
			return nil
		}
		if err := c.convertEntry(lines, p, rel, d); err != nil {
			return err
		}
		if d.IsDir() {
			return ctx.Err()
		}
		return nil
	})
}

// convertEntry adds the line for one /var entry at host path p, and moves
// or deletes it if it is a regular file.
func (c *varConverter) convertEntry(lines map[string]bool, p, rel string, d fs.DirEntry) error {
	fi, err := d.Info()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("stat /%s: no unix metadata", rel)
	}
	mode := fmt.Sprintf("%04o", st.Mode&0o7777)
	owner := c.name(c.users, st.Uid, "user", rel) + " " + c.name(c.groups, st.Gid, "group", rel)
	q := tmpfilesQuote("/" + rel)
	switch t := fi.Mode().Type(); {
	case t == fs.ModeDir:
		c.add(lines, rel, "d "+q+" "+mode+" "+owner+" - -")
	case t == fs.ModeSymlink:
		target, err := os.Readlink(p)
		if err != nil {
			return fmt.Errorf("read link /%s: %w", rel, err)
		}
		c.add(lines, rel, "L "+q+" - - - - "+tmpfilesArg(target))
	case t != 0:
		return fmt.Errorf("/%s is a %s: /var may hold only directories, symlinks and regular files", rel, t)
	case under(rel, "var/lib/nfs"):
		c.add(lines, rel, "f "+q+" "+mode+" "+owner+" - -")
	case underAny(rel, factoryAreas):
		dest := path.Join(factoryDir, rel)
		if err := c.r.rename(rel, dest); err != nil {
			return err
		}
		c.add(lines, rel, "C "+q+" "+mode+" "+owner+" - "+tmpfilesArg("/"+dest))
	default:
		c.opts.log().Debug("removing file from /var: the image's /var is created from tmpfiles.d at boot", "path", "/"+rel)
		c.removed++
		if err := os.Remove(p); err != nil {
			return fmt.Errorf("remove /%s: %w", rel, err)
		}
	}
	return nil
}

// add records line for the physical path rel unless another tmpfiles.d
// file already creates rel.
func (c *varConverter) add(lines map[string]bool, rel, line string) {
	if !c.declared[rel] {
		lines[line] = true
	}
}

func (c *varConverter) name(names map[uint32]string, id uint32, kind, rel string) string {
	if n, ok := names[id]; ok {
		return n
	}
	c.opts.log().Warn("owner id not in the root's "+kind+" database, written as a number", "path", "/"+rel, kind, id)
	return strconv.FormatUint(uint64(id), 10)
}

func under(rel, dir string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }

func underAny(rel string, dirs []string) bool {
	for _, d := range dirs {
		if under(rel, d) {
			return true
		}
	}
	return false
}

// idNames reads name:x:id lines of passwd- or group-format files; the
// first file naming an id wins.
func idNames(r rootfs, files ...string) (map[uint32]string, error) {
	out := map[uint32]string{}
	for _, f := range files {
		data, _, err := r.readFile(f)
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Split(line, ":")
			if len(fields) < 3 || fields[0] == "" || strings.HasPrefix(fields[0], "#") {
				continue
			}
			id, err := strconv.ParseUint(fields[2], 10, 32)
			if err != nil {
				continue
			}
			if _, ok := out[uint32(id)]; !ok {
				out[uint32(id)] = fields[0]
			}
		}
	}
	return out, nil
}

// creatingTypes are the tmpfiles.d line types that create their path; a
// /var entry declared only by another type (z, x, r, ...) still gets ours.
const creatingTypes = "fFwdDvqQpLcbC"

// declaredPaths returns the physical keys (parent resolved inside the
// root, plus leaf; as bootc's var-tmpfiles lint matches) of the paths the
// *.conf files in dirs create, skipping the file skip.
func declaredPaths(r rootfs, dirs []string, skip string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, dir := range dirs {
		names, err := r.readDirNames(dir)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			rel := path.Join(dir, n)
			if !strings.HasSuffix(n, ".conf") || rel == skip {
				continue
			}
			data, _, err := r.readFile(rel)
			if err != nil {
				return nil, err
			}
			for _, line := range strings.Split(string(data), "\n") {
				typ, p, ok := parseTmpfilesLine(line)
				if !ok || !strings.ContainsRune(creatingTypes, rune(typ[0])) || strings.ContainsAny(p, "*?[") {
					continue
				}
				key, err := physicalKey(r, p)
				if err != nil {
					return nil, err
				}
				out[key] = true
			}
		}
	}
	return out, nil
}

// physicalKey resolves p's parent inside the root: "/root/.ssh" and
// "/var/roothome/.ssh" name the same file once /root links to var/roothome.
func physicalKey(r rootfs, p string) (string, error) {
	parent, leaf := path.Split(path.Clean("/" + p))
	host, err := r.resolve(parent)
	if err != nil {
		return "", err
	}
	return path.Join(relPath(string(r), host), leaf), nil
}

// systemSpecifiers are the tmpfiles.d path specifiers with a fixed value
// for system units.
var systemSpecifiers = map[byte]string{'S': "/var/lib", 'C': "/var/cache", 'L': "/var/log", 't': "/run", 'T': "/tmp", 'V': "/var/tmp", '%': "%"}

// parseTmpfilesLine returns a tmpfiles.d line's type and path (unquoted,
// unescaped, fixed specifiers expanded); ok is false for blank and comment
// lines and lines it cannot read.
func parseTmpfilesLine(line string) (typ, p string, ok bool) {
	line = strings.TrimLeft(line, " \t")
	if line == "" || line[0] == '#' {
		return "", "", false
	}
	i := strings.IndexAny(line, " \t")
	if i <= 0 {
		return "", "", false
	}
	typ, rest := line[:i], strings.TrimLeft(line[i:], " \t")
	var b strings.Builder
	var quote byte
	for j := 0; j < len(rest); j++ {
		ch := rest[j]
		switch {
		case quote == 0 && (ch == '"' || ch == '\''):
			quote = ch
		case quote != 0 && ch == quote:
			quote = 0
		case quote == 0 && (ch == ' ' || ch == '\t'):
			j = len(rest)
		case ch == '\\' && j+1 < len(rest):
			j++
			switch rest[j] {
			case 'x':
				if j+2 >= len(rest) {
					return "", "", false
				}
				v, err := strconv.ParseUint(rest[j+1:j+3], 16, 8)
				if err != nil {
					return "", "", false
				}
				b.WriteByte(byte(v))
				j += 2
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(rest[j])
			}
		default:
			b.WriteByte(ch)
		}
	}
	raw := b.String()
	var out strings.Builder
	for j := 0; j < len(raw); j++ {
		if raw[j] == '%' && j+1 < len(raw) {
			if v, ok := systemSpecifiers[raw[j+1]]; ok {
				out.WriteString(v)
				j++
				continue
			}
		}
		out.WriteByte(raw[j])
	}
	if out.Len() == 0 {
		return "", "", false
	}
	return typ, out.String(), true
}

// tmpfilesQuote writes a path for a tmpfiles.d line: as is when it is
// made of plainly safe characters, else in double quotes with C escapes
// (a quote as \x22, which systemd and bootc's parser both read). A "%"
// is doubled in either form, since systemd expands specifiers in paths.
func tmpfilesQuote(p string) string {
	safe := true
	for i := 0; i < len(p); i++ {
		if !tmpfilesSafe(p[i]) {
			safe = false
			break
		}
	}
	if safe {
		return p
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == '"':
			b.WriteString(`\x22`)
		case c == '%':
			b.WriteString("%%")
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func tmpfilesSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("/._+:@,=-", c) >= 0
}

// tmpfilesArg escapes the last field of a line (a symlink target or copy
// source), which systemd C-unescapes and specifier-expands.
func tmpfilesArg(s string) string {
	return strings.NewReplacer(`\`, `\\`, "%", "%%", "\n", `\n`, "\t", `\t`).Replace(s)
}
