package testdeb

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// HostTools are the host programs a root needs so that dpkg can configure
// packages in it: a shell, dpkg itself and the programs dpkg checks for.
var HostTools = []string{"sh", "dpkg", "dpkg-query", "dpkg-trigger", "dpkg-divert", "dpkg-deb", "rm", "cat", "touch", "ls", "mkdir", "mv", "tar", "diff", "env", "grep", "sed", "ldconfig", "start-stop-daemon"}

// HostToolsPackage packages the host's copies of tools (and the shared
// libraries ldd says they use) as an Essential package named
// "base-files", laid out merged-/usr with the bin, sbin, lib and lib64
// links. Hermetic tests use it as the one package that makes a root able
// to run maintainer scripts; the host only needs dpkg, as every Debian
// machine has.
func HostToolsPackage(tools []string) (Package, error) {
	p := Package{
		Name:   "base-files",
		Fields: map[string]string{"Essential": "yes", "Priority": "required"},
		Files: []File{
			{Path: "bin", Type: tar.TypeSymlink, Link: "usr/bin"},
			{Path: "sbin", Type: tar.TypeSymlink, Link: "usr/sbin"},
			{Path: "lib", Type: tar.TypeSymlink, Link: "usr/lib"},
			{Path: "lib64", Type: tar.TypeSymlink, Link: "usr/lib64"},
			{Path: "etc", Type: tar.TypeDir},
			{Path: "tmp", Type: tar.TypeDir, Mode: 0o1777},
		},
	}
	files, err := HostToolFiles(tools)
	if err != nil {
		return p, err
	}
	for _, f := range files {
		b, mode, err := f.Read()
		if err != nil {
			return p, err
		}
		p.Files = append(p.Files, File{Path: f.Path, Mode: int64(mode), Body: string(b)})
	}
	return p, nil
}

// HostFile is a host file a test root needs.
type HostFile struct {
	Src  string // on the host, as found (may be a symlink)
	Path string // relative to the root, merged-/usr: "usr/bin/sh"
}

// HostToolFiles lists the host's copies of tools and of the shared
// libraries ldd says they use, each once, placed merged-/usr: programs in
// usr/sbin if the host has them in an sbin directory, else in usr/bin, and
// libraries under usr/ at their host path.
func HostToolFiles(tools []string) ([]HostFile, error) {
	var files []HostFile
	seen := map[string]bool{}
	add := func(src, rel string) {
		if !seen[rel] {
			seen[rel] = true
			files = append(files, HostFile{Src: src, Path: rel})
		}
	}
	libs := map[string]bool{}
	for _, tool := range tools {
		src, err := exec.LookPath(tool)
		if err != nil {
			return nil, fmt.Errorf("host tool %s: %w (install it on the build host)", tool, err)
		}
		dir := "usr/bin"
		if strings.Contains(src, "/sbin/") {
			dir = "usr/sbin"
		}
		add(src, dir+"/"+tool)
		out, err := exec.Command("ldd", src).Output()
		if err != nil {
			continue // a static binary or a script
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			for _, f := range strings.Fields(sc.Text()) {
				if strings.HasPrefix(f, "/") {
					libs[f] = true
				}
			}
		}
	}
	sorted := make([]string, 0, len(libs))
	for lib := range libs {
		sorted = append(sorted, lib)
	}
	sort.Strings(sorted)
	for _, lib := range sorted {
		rel := strings.TrimPrefix(lib, "/")
		if !strings.HasPrefix(rel, "usr/") {
			rel = "usr/" + rel
		}
		add(lib, rel)
	}
	return files, nil
}

// Read returns the content and permission bits of the file Src leads to.
func (f HostFile) Read() ([]byte, fs.FileMode, error) {
	real, err := filepath.EvalSymlinks(f.Src)
	if err != nil {
		return nil, 0, fmt.Errorf("host file %s: %w", f.Src, err)
	}
	b, err := os.ReadFile(real)
	if err != nil {
		return nil, 0, fmt.Errorf("host file %s: %w", f.Src, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, 0, fmt.Errorf("host file %s: %w", f.Src, err)
	}
	return b, fi.Mode().Perm(), nil
}

// HostBase is HostToolsPackage(HostTools) with a minimal /etc/passwd and
// /etc/group, so owners resolve by name: the one package a hermetic test
// root needs before packages with maintainer scripts.
func HostBase() (Package, error) {
	p, err := HostToolsPackage(HostTools)
	p.Files = append(p.Files,
		File{Path: "etc/passwd", Body: "root:x:0:0:root:/root:/bin/sh\n"},
		File{Path: "etc/group", Body: "root:x:0:\n"})
	return p, err
}
