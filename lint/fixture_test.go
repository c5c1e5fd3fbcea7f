package lint

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/apt-ostree/apt-ostree/ostree"
	"golang.org/x/sys/unix"
)

// node is one file of a test tree: kind 'f' (file), 'd' (directory), 'l'
// (symlink to data), 'c' and 'b' (character and block device 1:1),
// 'w' (whiteout, images only), 'o' (opaque whiteout of a directory, images
// only).
type node struct {
	path string
	kind byte
	data string
	mode fs.FileMode
	// owner for image layers; the test process's own ids unless owned is set.
	uid, gid int
	owned    bool
}

func file(p, data string) node { return node{path: p, kind: 'f', data: data, mode: 0o644} }
func dir(p string) node        { return node{path: p, kind: 'd', mode: 0o755} }
func link(p, target string) node {
	return node{path: p, kind: 'l', data: target, mode: 0o777}
}
func chardev(p string) node  { return node{path: p, kind: 'c', mode: 0o666} }
func blockdev(p string) node { return node{path: p, kind: 'b', mode: 0o660} }

// hasDevices reports whether s has device nodes, which only root can make
// in a directory and OSTree cannot store at all.
func (s spec) hasDevices() bool {
	return slices.ContainsFunc(s, func(n node) bool { return n.kind == 'c' || n.kind == 'b' })
}

// spec is a test tree: nodes, later ones replacing earlier ones of the same path.
type spec []node

// with returns s plus more nodes.
func (s spec) with(more ...node) spec { return append(slices.Clone(s), more...) }

// without returns s without the nodes at (or under) the given paths.
func (s spec) without(paths ...string) spec {
	var out spec
	for _, n := range s {
		if !slices.ContainsFunc(paths, func(p string) bool { return n.path == p || strings.HasPrefix(n.path, p+"/") }) {
			out = append(out, n)
		}
	}
	return out
}

// resolved returns the final nodes, parents created, sorted by path.
func (s spec) resolved() []node {
	m := map[string]node{}
	for _, n := range s {
		for d := filepath.Dir(n.path); d != "."; d = filepath.Dir(d) {
			if _, ok := m[d]; !ok {
				m[d] = dir(d)
			}
		}
		m[n.path] = n
	}
	var out []node
	for _, n := range m {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// baseSpec is a minimal bootc-shaped Debian tree that passes every lint.
func baseSpec() spec {
	return spec{
		dir("dev"), dir("proc"), dir("sys"), dir("run"), dir("tmp"), dir("var"), dir("boot"),
		dir("sysroot"), link("ostree", "sysroot/ostree"),
		link("var/run", "../run"),
		file("usr/lib/tmpfiles.d/var.conf", "# compat\nL /var/run - - - - ../run\n"),
		file("usr/lib/ostree/prepare-root.conf", "[composefs]\nenabled = yes\n"),
		file("usr/lib/modules/6.1.0-1-amd64/vmlinuz", "kernel"),
		file("usr/lib/modules/6.1.0-1-amd64/initramfs.img", "initramfs"),
		file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
		file("etc/group", "root:x:0:\n"),
		file("etc/machine-id", ""),
		file("usr/lib/sysusers.d/basic.conf", "u root 0 \"Super User\" /root\n"),
		file("usr/share/dpkg/database/status", "Package: base-files\nStatus: install ok installed\nArchitecture: amd64\n\n"),
		file("usr/bin/dpkg", "#!/bin/true\n"),
	}
}

// buildDir writes the spec to a new directory.
func buildDir(t testing.TB, s spec) string {
	t.Helper()
	root := t.TempDir()
	for _, n := range s.resolved() {
		p := filepath.Join(root, n.path)
		var err error
		switch n.kind {
		case 'd':
			err = os.Mkdir(p, n.mode)
			if err == nil {
				err = os.Chmod(p, n.mode)
			}
		case 'f':
			err = os.WriteFile(p, []byte(n.data), n.mode)
		case 'h': // a hard link to the path in data, which must come first
			err = os.Link(filepath.Join(root, n.data), p)
		case 'l':
			err = os.Symlink(n.data, p)
		case 'c', 'b':
			typ := uint32(unix.S_IFCHR)
			if n.kind == 'b' {
				typ = unix.S_IFBLK
			}
			err = unix.Mknod(p, typ|uint32(n.mode.Perm()), int(unix.Mkdev(1, 1)))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// layerTar makes an uncompressed layer tar of the nodes (in the given order).
func layerTar(t testing.TB, nodes []node) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	mtime := time.Unix(1700000000, 0)
	for _, n := range nodes {
		h := &tar.Header{Name: n.path, Mode: int64(n.mode.Perm()), ModTime: mtime, Uid: os.Getuid(), Gid: os.Getgid()}
		if n.owned {
			h.Uid, h.Gid = n.uid, n.gid
		}
		if n.mode&fs.ModeSetuid != 0 {
			h.Mode |= 0o4000
		}
		if n.mode&fs.ModeSetgid != 0 {
			h.Mode |= 0o2000
		}
		if n.mode&fs.ModeSticky != 0 {
			h.Mode |= 0o1000
		}
		switch n.kind {
		case 'd':
			h.Typeflag, h.Name = tar.TypeDir, n.path+"/"
		case 'f':
			h.Typeflag, h.Size = tar.TypeReg, int64(len(n.data))
		case 'h':
			h.Typeflag, h.Linkname = tar.TypeLink, n.data
		case 'l':
			h.Typeflag, h.Linkname = tar.TypeSymlink, n.data
		case 'c':
			h.Typeflag, h.Devmajor, h.Devminor = tar.TypeChar, 1, 1
		case 'b':
			h.Typeflag, h.Devmajor, h.Devminor = tar.TypeBlock, 1, 1
		case 'w':
			h.Typeflag, h.Name = tar.TypeReg, filepath.Join(filepath.Dir(n.path), ".wh."+filepath.Base(n.path))
		case 'o':
			h.Typeflag, h.Name = tar.TypeReg, n.path+"/.wh..wh..opq"
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if n.kind == 'f' {
			if _, err := io.WriteString(w, n.data); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// buildImage writes an OCI layout with one image (tag "latest") whose
// layers are the given node lists, and returns the layout directory.
func buildImage(t testing.TB, layers ...[]node) string {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: runtime.GOARCH, RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, nodes := range layers {
		data := layerTar(t, nodes)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.Append(img, mutate.Addendum{Layer: l}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "latest"})); err != nil {
		t.Fatal(err)
	}
	return dir
}

// openImage indexes an oci: reference and closes it with the test.
func openImage(t testing.TB, ref string) *Image {
	t.Helper()
	f, err := OpenImage(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// archiveLayout tars an OCI layout directory into an oci-archive file.
func archiveLayout(t testing.TB, dir string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	w := tar.NewWriter(f)
	if err := w.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

// commitFS commits dir with the OSTree writer and returns the commit as
// a file system, the way `apt-ostree lint --repo` reads it.
func commitFS(t testing.TB, dir string) fs.FS {
	t.Helper()
	ctx := context.Background()
	r, err := ostree.Init(ctx, filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := r.CommitDir(ctx, dir, ostree.CommitOptions{OwnerUID: -1, OwnerGID: -1})
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := r.FS(ctx, c.String())
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}
