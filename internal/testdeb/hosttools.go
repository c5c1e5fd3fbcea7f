package testdeb

import (
	"archive/tar"
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	seen := map[string]bool{}
	libs := map[string]bool{}
	for _, tool := range tools {
		src, err := exec.LookPath(tool)
		if err != nil {
			return p, fmt.Errorf("host tool %s: %w (install it on the build host)", tool, err)
		}
		dir := "usr/bin"
		if strings.Contains(src, "/sbin/") {
			dir = "usr/sbin"
		}
		if err := addHostFile(&p, src, dir+"/"+tool, seen); err != nil {
			return p, err
		}
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
	for lib := range libs {
		rel := strings.TrimPrefix(lib, "/")
		if !strings.HasPrefix(rel, "usr/") {
			rel = "usr/" + rel
		}
		if err := addHostFile(&p, lib, rel, seen); err != nil {
			return p, err
		}
	}
	return p, nil
}

func addHostFile(p *Package, src, rel string, seen map[string]bool) error {
	if seen[rel] {
		return nil
	}
	seen[rel] = true
	real, err := filepath.EvalSymlinks(src)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(real)
	if err != nil {
		return err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return err
	}
	p.Files = append(p.Files, File{Path: rel, Mode: int64(fi.Mode().Perm()), Body: string(b)})
	return nil
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
