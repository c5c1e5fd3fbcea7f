// Package testdeb builds small Debian binary packages in memory for tests.
// It writes the ar/control.tar/data.tar layout that dpkg-deb produces; it
// must not be used outside tests.
package testdeb

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// File is one entry of a package's data.tar. Parent directories are added
// automatically (mode 0755, root:root) unless listed explicitly.
type File struct {
	Path string // relative to the root, e.g. "usr/bin/hello"
	// Type is a tar type flag; the zero value means a regular file.
	Type         byte
	Mode         int64 // permission and setuid/setgid/sticky bits; default 0644 (0755 for dirs)
	UID, GID     int
	Uname, Gname string
	Body         string
	Link         string // symlink target, or hardlink target path (relative, like Path)
	Xattrs       map[string]string
	Devmajor     int64
	Devminor     int64
	// RawName, if set, is written verbatim as the tar member name (no "./"
	// prefix, no parent directories added): for tests of hostile archives.
	RawName string
	// RawLink, if set, is written verbatim as the link name of a hardlink
	// or symlink.
	RawLink string
}

// Package describes a .deb to build.
type Package struct {
	Name    string
	Version string // default "1.0"
	Arch    string // default "amd64"
	// Fields are extra control fields such as "Depends", "Pre-Depends",
	// "Provides", "Essential", "Multi-Arch", "Priority", "Replaces".
	Fields  map[string]string
	Files   []File
	Scripts map[string]string // "preinst", "postinst", "prerm", "postrm", "config"
	// Conffiles lists absolute paths ("/etc/foo.conf").
	Conffiles []string
	Triggers  string
	// Compression of data.tar: "gz" (default), "xz", "zst" or "none".
	Compression string
	// NoMD5sums leaves the md5sums member out, as some packages do.
	NoMD5sums bool
	// ControlFiles are extra control.tar members ("shlibs", "templates",
	// ...), written with mode 0644 after the standard ones.
	ControlFiles map[string]string
}

func (p *Package) defaults() {
	if p.Version == "" {
		p.Version = "1.0"
	}
	if p.Arch == "" {
		p.Arch = "amd64"
	}
	if p.Compression == "" {
		p.Compression = "gz"
	}
}

// Filename is the conventional name_version_arch.deb file name.
func (p Package) Filename() string {
	p.defaults()
	v := p.Version
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[i+1:]
	}
	return fmt.Sprintf("%s_%s_%s.deb", p.Name, v, p.Arch)
}

// Control returns the control file text of the package.
func (p Package) Control() string {
	p.defaults()
	var b strings.Builder
	fmt.Fprintf(&b, "Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: Test <test@example.invalid>\n", p.Name, p.Version, p.Arch)
	keys := make([]string, 0, len(p.Fields))
	for k := range p.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, p.Fields[k])
	}
	if _, ok := p.Fields["Description"]; !ok {
		fmt.Fprintf(&b, "Description: test package %s\n", p.Name)
	}
	return b.String()
}

// modTime is fixed so that the same Package always gives the same bytes.
var modTime = time.Unix(1700000000, 0)

// Build returns the .deb bytes.
func Build(p Package) ([]byte, error) {
	p.defaults()
	data, md5sums, err := dataTar(p)
	if err != nil {
		return nil, err
	}
	ctrl, err := controlTar(p, md5sums)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	out.WriteString("!<arch>\n")
	arMember(&out, "debian-binary", []byte("2.0\n"))
	arMember(&out, "control.tar.gz", ctrl)
	name := "data.tar"
	if p.Compression != "none" {
		name += "." + p.Compression
	}
	arMember(&out, name, data)
	return out.Bytes(), nil
}

// Write builds the package into dir under its conventional file name and
// returns the path.
func Write(dir string, p Package) (string, error) {
	b, err := Build(p)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(dir, p.Filename())
	return dst, os.WriteFile(dst, b, 0o644)
}

func arMember(w *bytes.Buffer, name string, body []byte) {
	fmt.Fprintf(w, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", name, modTime.Unix(), 0, 0, 0o100644, len(body))
	w.Write(body)
	if len(body)%2 == 1 {
		w.WriteByte('\n')
	}
}

func dataTar(p Package) (compressed []byte, md5sums string, err error) {
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	seen := map[string]bool{}
	explicitDirs := map[string]bool{}
	for _, f := range p.Files {
		if f.Type == tar.TypeDir {
			explicitDirs[strings.Trim(f.Path, "/")] = true
		}
	}
	var addParents func(dir string) error
	addParents = func(dir string) error {
		if dir == "." || dir == "" || seen[dir] || explicitDirs[dir] {
			return nil
		}
		if err := addParents(path.Dir(dir)); err != nil {
			return err
		}
		seen[dir] = true
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./" + dir + "/", Mode: 0o755, Uname: "root", Gname: "root", ModTime: modTime, Format: tar.FormatGNU})
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755, Uname: "root", Gname: "root", ModTime: modTime, Format: tar.FormatGNU}); err != nil {
		return nil, "", err
	}
	var sums strings.Builder
	for _, f := range p.Files {
		rel := strings.Trim(f.Path, "/")
		if f.RawName == "" {
			if err := addParents(path.Dir(rel)); err != nil {
				return nil, "", err
			}
		}
		h := &tar.Header{Typeflag: f.Type, Name: "./" + rel, Mode: f.Mode, Uid: f.UID, Gid: f.GID, Uname: f.Uname, Gname: f.Gname, ModTime: modTime, Devmajor: f.Devmajor, Devminor: f.Devminor}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Uname == "" && f.UID == 0 {
			h.Uname = "root"
		}
		if h.Gname == "" && f.GID == 0 {
			h.Gname = "root"
		}
		if f.RawName != "" {
			h.Name = f.RawName
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if f.RawName == "" {
				h.Name += "/"
			}
			if h.Mode == 0 {
				h.Mode = 0o755
			}
			seen[rel] = true
		case tar.TypeReg:
			if h.Mode == 0 {
				h.Mode = 0o644
			}
			h.Size = int64(len(f.Body))
			fmt.Fprintf(&sums, "%x  %s\n", md5.Sum([]byte(f.Body)), rel)
		case tar.TypeSymlink:
			h.Linkname = f.Link
			h.Mode = 0o777
			if f.RawLink != "" {
				h.Linkname = f.RawLink
			}
		case tar.TypeLink:
			h.Linkname = "./" + strings.Trim(f.Link, "/")
			if h.Mode == 0 {
				h.Mode = 0o644
			}
			if f.RawLink != "" {
				h.Linkname = f.RawLink
			}
		default:
			if h.Mode == 0 {
				h.Mode = 0o644
			}
		}
		if len(f.Xattrs) > 0 {
			h.Format = tar.FormatPAX
			h.PAXRecords = map[string]string{}
			for k, v := range f.Xattrs {
				h.PAXRecords["SCHILY.xattr."+k] = v
			}
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, "", fmt.Errorf("testdeb %s: %s: %w", p.Name, rel, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := io.WriteString(tw, f.Body); err != nil {
				return nil, "", err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	out, err := compress(p.Compression, raw.Bytes())
	return out, sums.String(), err
}

func controlTar(p Package, md5sums string) ([]byte, error) {
	type member struct {
		name string
		mode int64
		body string
	}
	members := []member{{"control", 0o644, p.Control()}}
	if md5sums != "" && !p.NoMD5sums {
		members = append(members, member{"md5sums", 0o644, md5sums})
	}
	if len(p.Conffiles) > 0 {
		members = append(members, member{"conffiles", 0o644, strings.Join(p.Conffiles, "\n") + "\n"})
	}
	if p.Triggers != "" {
		members = append(members, member{"triggers", 0o644, p.Triggers})
	}
	for _, s := range []string{"preinst", "postinst", "prerm", "postrm", "config"} {
		if body, ok := p.Scripts[s]; ok {
			members = append(members, member{s, 0o755, body})
		}
	}
	extra := make([]string, 0, len(p.ControlFiles))
	for name := range p.ControlFiles {
		extra = append(extra, name)
	}
	sort.Strings(extra)
	for _, name := range extra {
		members = append(members, member{name, 0o644, p.ControlFiles[name]})
	}
	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755, ModTime: modTime, Format: tar.FormatGNU}); err != nil {
		return nil, err
	}
	for _, m := range members {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "./" + m.name, Mode: m.mode, Size: int64(len(m.body)), ModTime: modTime, Format: tar.FormatGNU}); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(tw, m.body); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return compress("gz", raw.Bytes())
}

func compress(kind string, b []byte) ([]byte, error) {
	var out bytes.Buffer
	var w io.WriteCloser
	var err error
	switch kind {
	case "none":
		return b, nil
	case "gz":
		w = gzip.NewWriter(&out)
	case "xz":
		w, err = xz.NewWriter(&out)
	case "zst":
		w, err = zstd.NewWriter(&out)
	default:
		return nil, fmt.Errorf("testdeb: unknown compression %q", kind)
	}
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
