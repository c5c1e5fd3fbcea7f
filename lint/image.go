package lint

import (
	"archive/tar"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/apt-ostree/apt-ostree/deb"
	"github.com/apt-ostree/apt-ostree/internal/rootpath"
	"github.com/apt-ostree/apt-ostree/oci"
)

// imageNeeds are the paths the lints read, so that an image is indexed
// with only these (plus every directory and symlink) in memory instead of
// every file: each component is a path.Match pattern, a final "**" a
// directory and everything below it. A lint that reads another path must add it here;
// TestEachLintFailsAlone compares every lint on an image with the same
// tree as a directory.
var imageNeeds = append([]string{
	// bootc's lints
	"var/**", "run/**", "tmp/**", "boot/**", "dev/**", "proc/**", "sys/**", "sysroot", "sysroot/ostree", "ostree",
	"etc", "etc/hostname", "etc/resolv.conf", "etc/ostree/prepare-root.conf", "etc/passwd", "etc/group",
	"etc/tmpfiles.d/*", "usr/etc", "usr/etc/ostree/prepare-root.conf", "usr/lib/ostree/prepare-root.conf", "usr/lib/bootc/**",
	"usr/lib/modules/*", "usr/lib/modules/*/vmlinuz", "usr/lib/modules/*/initramfs.img",
	"usr/lib/sysusers.d/*", "usr/lib/tmpfiles.d/*", "usr/lib/passwd", "usr/lib/group",
	baseimageRef + "/**",
	// Debian lints
	"usr/bin/dpkg", "bin/dpkg", "etc/machine-id", "usr/etc/machine-id", "var/lib/dbus/machine-id",
	"usr/sbin/policy-rc.d", "sbin/policy-rc.d", "usr/sbin/start-stop-daemon.REAL", "sbin/start-stop-daemon.REAL",
	"usr/sbin/initctl.REAL", "sbin/initctl.REAL",
	// The image's ostree and whether it has composefs (bootc.DetectOstreeComposefs).
	"usr/bin/ostree", "bin/ostree", "usr/lib/libostree-1.so.1*", "usr/lib/*/libostree-1.so.1*", "lib/libostree-1.so.1*",
	"lib/*/libostree-1.so.1*", "usr/lib64/libostree-1.so.1*", "lib64/libostree-1.so.1*",
}, dpkgNeeds()...)

// dpkgNeeds are the files of the dpkg database lints read, wherever package
// deb may find it: status, arch, diversions, the updates/ journal.
func dpkgNeeds() []string {
	var out []string
	for _, d := range deb.AdminDirs {
		out = append(out, d+"/*", d+"/updates/*")
	}
	return out
}

// Content the lints read is kept in memory when it is small: files under
// these paths up to maxCachedFile bytes, dpkg status files up to
// maxCachedStatus. Other files are read on demand.
const (
	maxCachedFile   = 1 << 20
	maxCachedStatus = 64 << 20
)

var cachedPrefixes = []string{
	"etc/", "usr/etc/", "usr/lib/sysusers.d/", "usr/lib/tmpfiles.d/", "usr/lib/bootc/",
	"usr/lib/ostree/", "usr/share/doc/bootc/", "usr/lib/passwd", "usr/lib/group", "var/lib/dbus/machine-id",
}

func cacheLimit(name string) int64 {
	if slices.Contains(dpkgStatusFiles, name) {
		return maxCachedStatus
	}
	for _, p := range cachedPrefixes {
		if strings.HasPrefix(name, p) {
			return maxCachedFile
		}
	}
	return -1
}

// matchComponent matches one path component against one pattern
// component (path.Match syntax).
func matchComponent(pattern, name string) bool {
	if pattern == name {
		return true
	}
	ok, _ := path.Match(pattern, name)
	return ok
}

// matchNeed reports whether name matches pattern (see imageNeeds).
func matchNeed(pattern, name string) bool {
	for {
		p, prest, pmore := strings.Cut(pattern, "/")
		if p == "**" {
			return true
		}
		n, nrest, nmore := strings.Cut(name, "/")
		if !matchComponent(p, n) {
			return false
		}
		if !pmore || !nmore {
			return pmore == nmore || pmore && prest == "**"
		}
		pattern, name = prest, nrest
	}
}

func needed(name string) bool {
	return slices.ContainsFunc(imageNeeds, func(p string) bool { return matchNeed(p, name) })
}

// selectAll keeps every entry, caching what the lints read.
func selectAll(name string, hdr *tar.Header) oci.Selection {
	if lim := cacheLimit(name); lim >= 0 && hdr.Size <= lim {
		return oci.Cache
	}
	return oci.Index
}

// selectNeeded keeps what the lints read: imageNeeds, every entry that is
// not a file (device nodes, fifos), and every name the utf8 lint would
// report (its walk finds the same first one when only those are there).
func selectNeeded(name string, hdr *tar.Header) oci.Selection {
	switch {
	case needed(name):
		return selectAll(name, hdr)
	case hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA && hdr.Typeflag != tar.TypeLink:
		return oci.Index
	case !utf8.ValidString(name):
		return oci.Index
	}
	return oci.Skip
}

// OpenImage reads the image "oci:DIR[:TAG]" or "oci-archive:FILE[:TAG]"
// for linting, verifying its digests, straight from its layers: only the
// paths the lints read are kept, so memory does not grow with the number
// of files. When a symlink sends one of those paths elsewhere, the image
// is indexed whole instead. The caller must Close the result.
func OpenImage(ctx context.Context, ref string) (*Image, error) {
	return openImageWith(ctx, ref, false)
}

// Image is an OCI image's root as lint reads it.
type Image struct {
	*oci.FS
	// partial is set when only imageNeeds (and directories, symlinks,
	// special files and non-UTF-8 names) are indexed.
	partial bool
}

func openImageWith(ctx context.Context, ref string, whole bool) (*Image, error) {
	img, err := oci.Open(ctx, ref)
	if err != nil {
		return nil, err
	}
	sel := selectNeeded
	if whole {
		sel = selectAll
	}
	fsys, err := oci.NewFS(ctx, img, oci.FSOptions{Select: sel, MaxCachedFile: maxCachedStatus})
	if err != nil {
		img.Close()
		return nil, err
	}
	if whole {
		return &Image{FS: fsys}, nil
	}
	if link := redirectedNeed(fsys); link != "" {
		slog.Debug("lint: a symlink leads a linted path elsewhere; indexing the whole image", "image", ref, "symlink", "/"+link)
		if fsys, err = oci.NewFS(ctx, img, oci.FSOptions{Select: selectAll, MaxCachedFile: maxCachedStatus}); err != nil {
			img.Close()
			return nil, err
		}
		return &Image{FS: fsys}, nil
	}
	return &Image{FS: fsys, partial: true}, nil
}

// coveredByNeeds reports whether a lookup of name in a partial index is
// exact: name is in imageNeeds, or is a directory on the way to one (the
// index holds every directory).
func coveredByNeeds(name string) bool {
	return needed(name) || slices.ContainsFunc(imageNeeds, func(p string) bool { return isPatternAncestor(name, p) })
}

// isPatternAncestor reports whether name's components lead into pattern.
func isPatternAncestor(name, pattern string) bool {
	nc, pc := strings.Split(name, "/"), strings.Split(pattern, "/")
	if len(nc) >= len(pc) {
		return false
	}
	for i, c := range nc {
		if pc[i] == "**" {
			return true
		}
		if !matchComponent(pc[i], c) {
			return false
		}
	}
	return true
}

// redirectedNeed returns a symlink through which a needed path resolves
// to one imageNeeds does not cover ("" when there is none).
func redirectedNeed(fsys fs.FS) string {
	var found string
	var visit func(dir string)
	visit = func(dir string) {
		ents, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			if found != "" {
				return
			}
			p := e.Name()
			if dir != "." {
				p = dir + "/" + e.Name()
			}
			rest, relevant := needsBelow(p)
			if !relevant {
				continue
			}
			if e.Type()&fs.ModeSymlink != 0 {
				target, ok := linkTarget(fsys.(rootpath.FS), p)
				if !ok {
					found = p
					return
				}
				for _, r := range rest {
					if !covered(path.Join(target, r)) {
						found = p
						return
					}
				}
				continue
			}
			if e.IsDir() {
				visit(p)
			}
		}
	}
	visit(".")
	return found
}

// linkTarget returns where the symlink p leads: resolved when its target
// exists, else the target's lexical path (a missing file is missing in
// the directory too).
func linkTarget(fsys rootpath.FS, p string) (string, bool) {
	if target, err := rootpath.ResolveFollowFS(fsys, p); err == nil {
		return target, true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false
	}
	link, err := fsys.ReadLink(p)
	if err != nil {
		return "", false
	}
	if !path.IsAbs(link) {
		link = path.Join(path.Dir(p), link)
	}
	return oci.CleanName(link), true
}

// needsBelow returns, for each pattern that names p or a path below it
// through literal or "*" components (not through "**"), the rest of the
// pattern after p ("" for p itself).
func needsBelow(p string) (rest []string, relevant bool) {
	nc := strings.Split(p, "/")
	for _, pat := range imageNeeds {
		pc := strings.Split(pat, "/")
		if len(pc) < len(nc) {
			continue
		}
		ok := true
		for i, c := range nc {
			if pc[i] == "**" || !matchComponent(pc[i], c) {
				ok = false
				break
			}
		}
		if ok {
			rest = append(rest, strings.Join(pc[len(nc):], "/"))
		}
	}
	return rest, len(rest) > 0
}

// covered reports whether every path pattern p stands for is in imageNeeds.
func covered(p string) bool {
	pc := strings.Split(p, "/")
	return slices.ContainsFunc(imageNeeds, func(pat string) bool {
		qc := strings.Split(pat, "/")
		for i, q := range qc {
			if q == "**" {
				return true
			}
			if i >= len(pc) || !matchComponent(q, pc[i]) {
				return false
			}
		}
		return len(qc) == len(pc)
	})
}
