package bootc

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/apt-ostree/apt-ostree/internal/rootpath"
)

// OstreeComposefs says whether the ostree a tree carries is built with
// composefs. A libostree built without it refuses to deploy a commit whose
// prepare-root.conf says "[composefs] enabled = yes" (or verity, signed):
// "composefs: enabled at runtime, but support is not compiled in"; with
// "maybe" it deploys without composefs. Debian trixie's ostree 2025.2 is
// such a build.
type OstreeComposefs struct {
	// Path is the file the answer was read from, "" if the tree carries no
	// ostree (neither libostree-1.so.1 nor /usr/bin/ostree).
	Path string
	// Supported is true when that ostree has the composefs feature.
	Supported bool
}

// Present reports whether the tree carries an ostree at all.
func (c OstreeComposefs) Present() bool { return c.Path != "" }

// libostreeName is the soname every libostree since 2013 has had.
const libostreeName = "libostree-1.so.1"

// ostreeCLIs are where the ostree command may be, merged /usr or not.
var ostreeCLIs = []string{"usr/bin/ostree", "bin/ostree"}

// DetectOstreeComposefs finds the tree's ostree and reads, without running
// anything, whether it was built with composefs. fsys is the tree's root;
// its symlinks (lib -> usr/lib, libostree-1.so.1 -> libostree-1.so.1.0.0)
// are followed inside it when it implements fs.ReadLinkFS.
//
// Two pieces of evidence are read, because neither covers every build:
//   - DT_NEEDED of libostree-1.so.1: since 2024.6 ostree can only use an
//     external libcomposefs, so a composefs build links libcomposefs.so.1.
//     This is the library that deploys, so it also answers for trees with
//     bootc but without the ostree command.
//   - the feature list `ostree --version` prints, compiled into the ostree
//     command (and into the library when it uses it) as one string that
//     starts with "inode64" since 2023.1; composefs support came in 2023.4.
//     It also covers 2023.4 to 2024.5, which could link a bundled
//     libcomposefs statically and so need no libcomposefs.so.
//
// The dpkg database (libostree-1-1 Depends: libcomposefs1) would only
// repeat the first, and not for an ostree installed outside dpkg. An
// unreadable or non-ELF file is an error naming it.
func DetectOstreeComposefs(fsys fs.FS) (OstreeComposefs, error) {
	var files []string
	lib, err := findLibostree(fsys)
	if err != nil {
		return OstreeComposefs{}, err
	}
	if lib != "" {
		files = append(files, lib)
	}
	for _, cli := range ostreeCLIs {
		p, ok, err := resolveRegular(fsys, cli)
		if err != nil {
			return OstreeComposefs{}, err
		}
		if ok && !slices.Contains(files, p) {
			files = append(files, p)
			break
		}
	}
	if len(files) == 0 {
		return OstreeComposefs{}, nil
	}
	for _, p := range files {
		f, err := readELF(fsys, p)
		if err != nil {
			return OstreeComposefs{}, err
		}
		libs, err := f.ImportedLibraries()
		if err != nil && !errors.Is(err, elf.ErrNoSymbols) {
			return OstreeComposefs{}, fmt.Errorf("read the libraries /%s needs: %w", p, err)
		}
		for _, l := range libs {
			if strings.HasPrefix(l, "libcomposefs.so") {
				return OstreeComposefs{Path: "/" + p, Supported: true}, nil
			}
		}
		features, err := ostreeFeatures(f)
		if err != nil {
			return OstreeComposefs{}, fmt.Errorf("read /%s: %w", p, err)
		}
		if slices.Contains(features, "composefs") {
			return OstreeComposefs{Path: "/" + p, Supported: true}, nil
		}
	}
	return OstreeComposefs{Path: "/" + files[0]}, nil
}

// findLibostree returns the symlink-free path of libostree-1.so.1 in the
// library directories (multiarch ones included), "" if there is none.
func findLibostree(fsys fs.FS) (string, error) {
	var dirs []string
	for _, base := range []string{"usr/lib", "lib"} {
		dirs = append(dirs, base)
		real, ok, err := resolveDir(fsys, base)
		if err != nil {
			return "", err
		}
		if !ok {
			continue
		}
		ents, err := fs.ReadDir(fsys, real)
		if err != nil {
			return "", fmt.Errorf("list /%s: %w", base, err)
		}
		for _, e := range ents {
			if strings.Contains(e.Name(), "-linux-") {
				dirs = append(dirs, path.Join(base, e.Name()))
			}
		}
	}
	dirs = append(dirs, "usr/lib64", "lib64")
	for _, d := range dirs {
		p, ok, err := resolveRegular(fsys, path.Join(d, libostreeName))
		if err != nil || ok {
			return p, err
		}
	}
	return "", nil
}

// readLinkFS gives rootpath what it needs from any fs.FS (fs.Lstat and
// fs.ReadLink use fs.ReadLinkFS when the file system has it).
type readLinkFS struct{ fsys fs.FS }

func (r readLinkFS) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(r.fsys, name) }
func (r readLinkFS) ReadLink(name string) (string, error)   { return fs.ReadLink(r.fsys, name) }

// missing is true for errors that mean nothing usable is at a path; a
// symlink loop counts, as for the kernel's stat.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.ELOOP)
}

func resolveDir(fsys fs.FS, name string) (string, bool, error) { return resolveType(fsys, name, true) }
func resolveRegular(fsys fs.FS, name string) (string, bool, error) {
	return resolveType(fsys, name, false)
}

// resolveType resolves name inside fsys, following symlinks, and reports
// whether it is a directory (dir) or a regular file (!dir).
func resolveType(fsys fs.FS, name string, dir bool) (string, bool, error) {
	p, err := rootpath.ResolveFollowFS(readLinkFS{fsys}, name)
	var fi fs.FileInfo
	if err == nil {
		fi, err = fs.Lstat(fsys, p)
	}
	if missing(err) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("look for /%s: %w", name, err)
	}
	if dir {
		return p, fi.IsDir(), nil
	}
	return p, fi.Mode().IsRegular(), nil
}

func readELF(fsys fs.FS, p string) (*elf.File, error) {
	data, err := fs.ReadFile(fsys, p)
	if err != nil {
		return nil, fmt.Errorf("read /%s: %w", p, err)
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("read /%s as an ELF file: %w", p, err)
	}
	return f, nil
}

var featureRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// ostreeFeatures returns the feature list compiled into an ostree binary:
// the read-only string whose first word is "inode64" (the feature every
// ostree since 2023.1 lists first; older ones predate composefs) and whose words all look like feature
// names. nil when there is none.
func ostreeFeatures(f *elf.File) ([]string, error) {
	ro := f.Section(".rodata")
	if ro == nil || ro.Type == elf.SHT_NOBITS {
		return nil, nil
	}
	data, err := ro.Data()
	if err != nil {
		return nil, err
	}
	for _, s := range bytes.Split(data, []byte{0}) {
		if !bytes.HasPrefix(s, []byte("inode64")) {
			continue
		}
		words := strings.Fields(string(s))
		ok := words[0] == "inode64"
		for _, w := range words {
			ok = ok && featureRE.MatchString(w)
		}
		if ok {
			return words, nil
		}
	}
	return nil, nil
}
