package oci

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/apt-ostree/apt-ostree/ostree"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// encapOpts tune the test encapsulation.
type encapOpts struct {
	// regularLinks writes .file-xattrs-link as regular files (current
	// bootc) instead of hard links to .file-xattrs (ostree-ext 0.15).
	regularLinks bool
	// tamper, when set, is a content object whose data is changed (same
	// size, name kept) in the layer that holds it.
	tamper ostree.Checksum
	// labels override the image labels ("" deletes one).
	labels map[string]string
	// tamperMeta, when set, is a dirtree or dirmeta object whose bytes
	// are changed (name kept).
	tamperMeta ostree.Checksum
	// derived are layer tars appended after the ostree layers.
	derived [][]byte
}

// encapsulateByHand writes src's commit as an ostree-ext v1 image (an ostree
// layer and one chunk layer) following ostree-format.md §6.3/§6.4, and
// returns the layout directory.
func encapsulateByHand(t *testing.T, src *ostree.Repo, commit ostree.Checksum, o encapOpts) string {
	t.Helper()
	cm, err := src.ReadCommit(commit)
	if err != nil {
		t.Fatal(err)
	}
	// Content objects and their paths.
	paths := map[ostree.Checksum][]string{}
	var walk func(tree ostree.Checksum, p string)
	walk = func(tree ostree.Checksum, p string) {
		dt, err := src.ReadDirTree(tree)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range dt.Files {
			paths[f.Checksum] = append(paths[f.Checksum], p+f.Name)
		}
		for _, d := range dt.Dirs {
			walk(d.TreeChecksum, p+d.Name+"/")
		}
	}
	walk(cm.RootTree, "")
	var sums []ostree.Checksum
	for c := range paths {
		sums = append(sums, c)
	}
	sort.Slice(sums, func(i, j int) bool { return bytes.Compare(sums[i][:], sums[j][:]) < 0 })
	var chunk, remainder []ostree.Checksum
	for i, c := range sums {
		if i%2 == 0 {
			chunk = append(chunk, c)
		} else {
			remainder = append(remainder, c)
		}
	}

	objPath := func(c ostree.Checksum, ext string) string {
		h := c.String()
		return "sysroot/ostree/repo/objects/" + h[:2] + "/" + h[2:] + "." + ext
	}
	newTar := func() (*bytes.Buffer, *tar.Writer) {
		var b bytes.Buffer
		return &b, tar.NewWriter(&b)
	}
	put := func(w *tar.Writer, h *tar.Header, data []byte) {
		t.Helper()
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(data))
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if len(data) > 0 {
			if _, err := w.Write(data); err != nil {
				t.Fatal(err)
			}
		}
	}
	dir := func(w *tar.Writer, name string, uid, gid uint32, mode int64) {
		put(w, &tar.Header{Name: name, Typeflag: tar.TypeDir, Uid: int(uid), Gid: int(gid), Mode: mode}, nil)
	}
	skeleton := func(w *tar.Writer) {
		for _, d := range []string{"sysroot", "sysroot/ostree", "sysroot/ostree/repo", "sysroot/ostree/repo/objects"} {
			dir(w, d, 0, 0, 0o755)
		}
		for i := range 256 {
			dir(w, fmt.Sprintf("sysroot/ostree/repo/objects/%02x", i), 0, 0, 0o755)
		}
		for _, d := range []string{"extensions", "refs", "refs/heads", "refs/mirrors", "refs/remotes", "state", "tmp", "tmp/cache"} {
			dir(w, "sysroot/ostree/repo/"+d, 0, 0, 0o755)
		}
		put(w, &tar.Header{Name: "sysroot/ostree/repo/config", Typeflag: tar.TypeReg, Mode: 0o644}, []byte("[core]\nrepo_version=1\nmode=bare-split-xattrs\n"))
	}
	content := func(w *tar.Writer, cs []ostree.Checksum) {
		xattrsDone := map[ostree.Checksum]bool{} // once per layer
		for _, c := range cs {
			h, rc, err := src.OpenContent(c)
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			x, err := ostree.MarshalXattrs(h.Xattrs)
			if err != nil {
				t.Fatal(err)
			}
			if o.regularLinks {
				put(w, &tar.Header{Name: objPath(c, "file-xattrs-link"), Typeflag: tar.TypeReg, Mode: 0o644}, x)
			} else {
				xc := ostree.Checksum(sha256.Sum256(x))
				if !xattrsDone[xc] {
					put(w, &tar.Header{Name: objPath(xc, "file-xattrs"), Typeflag: tar.TypeReg, Mode: 0o644}, x)
					xattrsDone[xc] = true
				}
				put(w, &tar.Header{Name: objPath(c, "file-xattrs-link"), Typeflag: tar.TypeLink, Linkname: objPath(xc, "file-xattrs"), Mode: 0o644}, nil)
			}
			pax := map[string]string{}
			for _, a := range h.Xattrs {
				if a.Name != "security.selinux" {
					pax["SCHILY.xattr."+a.Name] = string(a.Value)
				}
			}
			perm := int64(h.Mode & 0o7777)
			if c == o.tamper && len(data) > 0 {
				data = bytes.Clone(data)
				data[0] ^= 0xff
			}
			if h.IsSymlink() {
				put(w, &tar.Header{Name: objPath(c, "file"), Typeflag: tar.TypeSymlink, Linkname: h.SymlinkTarget, Mode: 0o777, Uid: int(h.UID), Gid: int(h.GID), PAXRecords: pax}, nil)
			} else {
				put(w, &tar.Header{Name: objPath(c, "file"), Typeflag: tar.TypeReg, Mode: perm, Uid: int(h.UID), Gid: int(h.GID), PAXRecords: pax}, data)
			}
			for _, p := range paths[c] {
				if rest, ok := strings.CutPrefix(p, "usr/etc/"); ok {
					p = "etc/" + rest
				}
				if !h.IsSymlink() && h.Size == 0 {
					put(w, &tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: perm, Uid: int(h.UID), Gid: int(h.GID)}, nil)
				} else {
					put(w, &tar.Header{Name: p, Typeflag: tar.TypeLink, Linkname: objPath(c, "file"), Mode: perm, Uid: int(h.UID), Gid: int(h.GID)}, nil)
				}
			}
		}
	}
	meta := func(tp ostree.ObjectType, c ostree.Checksum) []byte {
		b, err := src.ReadObject(tp, c)
		if err != nil {
			t.Fatal(err)
		}
		if c == o.tamperMeta {
			b = bytes.Clone(b)
			b[len(b)-1] ^= 1
		}
		return b
	}

	// The ostree layer (§6.3).
	ob, ow := newTar()
	rootMeta, err := src.ReadDirMeta(cm.RootMeta)
	if err != nil {
		t.Fatal(err)
	}
	dir(ow, "./", rootMeta.UID, rootMeta.GID, int64(rootMeta.Mode&0o7777))
	skeleton(ow)
	put(ow, &tar.Header{Name: objPath(commit, "commit"), Typeflag: tar.TypeReg, Mode: 0o644}, meta(ostree.ObjectCommit, commit))
	put(ow, &tar.Header{Name: objPath(cm.RootMeta, "dirmeta"), Typeflag: tar.TypeReg, Mode: 0o644}, meta(ostree.ObjectDirMeta, cm.RootMeta))
	done := map[string]bool{objPath(cm.RootMeta, "dirmeta"): true}
	once := func(tp ostree.ObjectType, c ostree.Checksum, ext string) {
		if p := objPath(c, ext); !done[p] {
			done[p] = true
			put(ow, &tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: 0o644}, meta(tp, c))
		}
	}
	var walkTree func(tree ostree.Checksum, p string)
	walkTree = func(tree ostree.Checksum, p string) {
		once(ostree.ObjectDirTree, tree, "dirtree")
		dt, err := src.ReadDirTree(tree)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range dt.Dirs {
			once(ostree.ObjectDirMeta, d.MetaChecksum, "dirmeta")
			if p == "" && d.Name == "sysroot" {
				once(ostree.ObjectDirTree, d.TreeChecksum, "dirtree")
				continue
			}
			dm, err := src.ReadDirMeta(d.MetaChecksum)
			if err != nil {
				t.Fatal(err)
			}
			name := p + d.Name
			if rest, ok := strings.CutPrefix(name, "usr/etc"); ok {
				name = "etc" + rest
			}
			dir(ow, "./"+name, dm.UID, dm.GID, int64(dm.Mode&0o7777))
			walkTree(d.TreeChecksum, p+d.Name+"/")
		}
	}
	walkTree(cm.RootTree, "")
	content(ow, remainder)
	if err := ow.Close(); err != nil {
		t.Fatal(err)
	}
	// The chunk layer (§6.4 component layer).
	cb, cw := newTar()
	skeleton(cw)
	content(cw, chunk)
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}

	labels := map[string]string{
		"ostree.commit":       commit.String(),
		"ostree.final-diffid": sha(cb.Bytes()).String(),
		"containers.bootc":    "1",
	}
	for k, v := range o.labels {
		if v == "" {
			delete(labels, k)
		} else {
			labels[k] = v
		}
	}
	return writeImportLayout(t, labels, cm.Timestamp, append([][]byte{ob.Bytes(), cb.Bytes()}, o.derived...)...).dir
}

// writeImportLayout writes an OCI layout of gzip layers with labels (also
// as manifest annotations) and a created time.
func writeImportLayout(t testing.TB, labels map[string]string, created time.Time, tars ...[]byte) testImage {
	t.Helper()
	ti := testImage{dir: t.TempDir()}
	cfg := v1.ConfigFile{OS: "linux", Architecture: runtime.GOARCH, Created: v1.Time{Time: created}, RootFS: v1.RootFS{Type: "layers"}}
	cfg.Config.Labels = labels
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Annotations: labels}
	for _, tr := range tars {
		d := writeBlob(t, ti.dir, compress(t, tr, "gzip"))
		d.MediaType = types.OCILayer
		m.Layers = append(m.Layers, d)
		ti.layers = append(ti.layers, d.Digest)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, sha(tr))
	}
	m.Config = writeBlob(t, ti.dir, mustJSON(t, cfg))
	m.Config.MediaType = types.OCIConfigJSON
	md := writeBlob(t, ti.dir, mustJSON(t, m))
	md.MediaType = types.OCIManifestSchema1
	ti.manifest = md.Digest
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{md}}
	if err := os.WriteFile(filepath.Join(ti.dir, "index.json"), mustJSON(t, idx), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ti.dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return ti
}

// roundTripTree writes a tree with what ostree stores: xattrs, symlinks,
// hard links, executable and setuid bits, empty files, owners, usr/etc.
func roundTripTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"usr/bin", "usr/etc/app", "usr/share/doc", "var/lib", "sysroot", "empty"} {
		must(os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	write := func(p, data string, mode os.FileMode) {
		t.Helper()
		f := filepath.Join(root, p)
		must(os.WriteFile(f, []byte(data), mode))
		must(os.Chmod(f, mode))
	}
	write("usr/bin/tool", "#!/bin/sh\necho hi\n", 0o755)
	write("usr/bin/suid", "suid", 0o4755)
	write("usr/etc/app/conf", "key=value\n", 0o644)
	write("usr/etc/app/empty", "", 0o600)
	write("usr/share/doc/empty", "", 0o644)
	write("usr/share/doc/big", strings.Repeat("0123456789abcdef", 1<<17), 0o644) // 2 MiB: spooled
	write("usr/share/doc/xattr", "with xattrs", 0o644)
	must(unix.Setxattr(filepath.Join(root, "usr/share/doc/xattr"), "user.a", []byte("1"), 0))
	must(unix.Setxattr(filepath.Join(root, "usr/share/doc/xattr"), "user.b", []byte("two"), 0))
	must(unix.Setxattr(filepath.Join(root, "usr/share/doc"), "user.dir", []byte("d"), 0))
	must(os.Link(filepath.Join(root, "usr/bin/tool"), filepath.Join(root, "usr/bin/tool-link")))
	must(os.Symlink("tool", filepath.Join(root, "usr/bin/sym")))
	must(os.Symlink("/usr/share/doc//x", filepath.Join(root, "usr/bin/dslash")))
	write("var/lib/owned", "owned", 0o640)
	must(os.Lchown(filepath.Join(root, "var/lib/owned"), 1000, 1001))
	must(os.Chown(filepath.Join(root, "var/lib"), 1000, 1001))
	return root
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to write file owners")
	}
}

func ostreeCLI(t *testing.T, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("ostree"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ostree CLI not installed (apt-get install ostree)")
		}
		t.Skip("ostree CLI not installed")
	}
	cmd := exec.Command("ostree", args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("ostree %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func sourceCommit(t *testing.T) (*ostree.Repo, ostree.Checksum, string) {
	t.Helper()
	needRoot(t)
	tree := roundTripTree(t)
	src, err := ostree.Init(t.Context(), t.TempDir(), ostree.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := src.CommitDir(t.Context(), tree, ostree.CommitOptions{
		Ref: "src", WriteRef: true, Subject: "round trip", OwnerUID: -1, OwnerGID: -1,
		Timestamp: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		Metadata:  map[string]any{"version": "1.0"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return src, c, tree
}

func importRef(t *testing.T, dir string, repo *ostree.Repo, ref string) (ostree.Checksum, error) {
	t.Helper()
	img, err := Open(t.Context(), "oci:"+dir)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	return Import(t.Context(), img, repo, ImportOptions{Ref: ref})
}

func TestImportRoundTrip(t *testing.T) {
	src, commit, tree := sourceCommit(t)
	srcLs := ostreeCLI(t, "ls", "-R", "-X", "--repo="+src.Path(), "src")
	for _, tc := range []struct {
		name string
		mode ostree.RepoMode
		o    encapOpts
	}{
		{"archive, hardlinked xattrs", ostree.ModeArchive, encapOpts{}},
		{"bare-user, regular xattrs links", ostree.ModeBareUser, encapOpts{regularLinks: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := encapsulateByHand(t, src, commit, tc.o)
			dst, err := ostree.Init(t.Context(), t.TempDir(), tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			const ref = "ostree/container/image/test"
			got, err := importRef(t, dir, dst, ref)
			if err != nil {
				t.Fatal(err)
			}
			if got != commit {
				t.Fatalf("imported commit %s, want %s", got, commit)
			}
			if r, err := dst.ReadRef(ref); err != nil || r != commit {
				t.Fatalf("ref %s = %s, %v; want %s", ref, r, err, commit)
			}
			ostreeCLI(t, "fsck", "--repo="+dst.Path())
			if ls := ostreeCLI(t, "ls", "-R", "-X", "--repo="+dst.Path(), ref); ls != srcLs {
				t.Fatalf("ostree ls of the import differs:\n%s\nwant:\n%s", ls, srcLs)
			}
			co := filepath.Join(t.TempDir(), "co")
			ostreeCLI(t, "checkout", "--repo="+dst.Path(), ref, co)
			compareTrees(t, tree, co)
			// Importing again into the same repo changes nothing.
			if again, err := importRef(t, dir, dst, ref); err != nil || again != commit {
				t.Fatalf("second import: %s, %v", again, err)
			}
		})
	}
}

// compareTrees compares two directory trees: types, modes, owners,
// content, link targets and user xattrs.
func compareTrees(t *testing.T, want, got string) {
	t.Helper()
	describe := func(root string) map[string]string {
		out := map[string]string{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			var st unix.Stat_t
			if err := unix.Lstat(p, &st); err != nil {
				return err
			}
			desc := fmt.Sprintf("%o %d:%d", st.Mode, st.Uid, st.Gid)
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				l, _ := os.Readlink(p)
				desc += " -> " + l
			case d.Type().IsRegular():
				b, _ := os.ReadFile(p)
				desc += fmt.Sprintf(" %d %x", len(b), sha(b).Hex[:16])
			}
			if d.Type()&fs.ModeSymlink == 0 {
				for _, n := range []string{"user.a", "user.b", "user.dir"} {
					buf := make([]byte, 64)
					if n2, err := unix.Lgetxattr(p, n, buf); err == nil {
						desc += fmt.Sprintf(" %s=%q", n, buf[:n2])
					}
				}
			}
			if rel != "." {
				out[rel] = desc
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	w, g := describe(want), describe(got)
	for k, v := range w {
		if g[k] != v {
			t.Errorf("%s: got %q, want %q", k, g[k], v)
		}
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			t.Errorf("%s: not in the source tree", k)
		}
	}
}

func TestImportRefusesTamperedObject(t *testing.T) {
	src, commit, _ := sourceCommit(t)
	// The object of usr/bin/tool (non-empty, so its data can change).
	cm, _ := src.ReadCommit(commit)
	tool := findFile(t, src, cm.RootTree, "usr/bin/tool")
	dir := encapsulateByHand(t, src, commit, encapOpts{tamper: tool})
	dst, err := ostree.Init(t.Context(), t.TempDir(), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	_, err = importRef(t, dir, dst, "img")
	if err == nil || !strings.Contains(err.Error(), tool.String()) || !strings.Contains(err.Error(), "changed") || !strings.Contains(err.Error(), "layer ") {
		t.Fatalf("import of a tampered object: %v; want an error naming object %s and its layer", err, tool)
	}
	if _, err := dst.ReadRef("img"); err == nil {
		t.Fatal("a failed import left a ref")
	}
	if ok, _ := dst.HasObject(ostree.ObjectCommit, commit); ok {
		t.Fatal("a failed import left the commit object")
	}
	if ok, _ := dst.HasObject(ostree.ObjectFile, tool); ok {
		t.Fatal("the tampered object was stored")
	}
	noObjects(t, dst)
}

// noObjects fails when a failed import left anything in objects/ or in tmp/.
func noObjects(t *testing.T, r *ostree.Repo) {
	t.Helper()
	for _, d := range []string{"objects", "tmp"} {
		filepath.WalkDir(filepath.Join(r.Path(), d), func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				t.Errorf("a failed import left %s", p)
			}
			return nil
		})
	}
}

func findFile(t *testing.T, r *ostree.Repo, tree ostree.Checksum, p string) ostree.Checksum {
	t.Helper()
	dt, err := r.ReadDirTree(tree)
	if err != nil {
		t.Fatal(err)
	}
	first, rest, more := strings.Cut(p, "/")
	if !more {
		for _, f := range dt.Files {
			if f.Name == first {
				return f.Checksum
			}
		}
	}
	for _, d := range dt.Dirs {
		if d.Name == first {
			return findFile(t, r, d.TreeChecksum, rest)
		}
	}
	t.Fatalf("%s not in the commit", p)
	return ostree.Checksum{}
}

func TestImportRefusesTamperedBlob(t *testing.T) {
	src, commit, _ := sourceCommit(t)
	dir := encapsulateByHand(t, src, commit, encapOpts{})
	img, err := Open(t.Context(), "oci:"+dir)
	if err != nil {
		t.Fatal(err)
	}
	// Same tar (so the diff_id holds), other gzip bytes at the chunk
	// layer's digest.
	chunk := img.Layers()[1]
	digest, _ := chunk.Digest()
	img.Close()
	p := filepath.Join(dir, "blobs", digest.Algorithm, digest.Hex)
	blob, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
	zw.Write(raw)
	zw.Close()
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	dst, err := ostree.Init(t.Context(), t.TempDir(), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	_, err = importRef(t, dir, dst, "img")
	if err == nil || !strings.Contains(err.Error(), digest.String()) {
		t.Fatalf("import of a tampered blob: %v; want an error naming %s", err, digest)
	}
	if _, err := dst.ReadRef("img"); err == nil {
		t.Fatal("a failed import left a ref")
	}
	noObjects(t, dst)
}

func TestImportRefusesBadLayouts(t *testing.T) {
	src, commit, _ := sourceCommit(t)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   string
	}{
		{"commit label mismatch", map[string]string{"ostree.commit": strings.Repeat("ab", 32)}, "but the ostree layer holds commit"},
		{"unknown final diffid", map[string]string{"ostree.final-diffid": "sha256:" + strings.Repeat("0", 64)}, "names no diff_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := encapsulateByHand(t, src, commit, encapOpts{labels: tc.labels})
			dst, err := ostree.Init(t.Context(), t.TempDir(), ostree.ModeArchive)
			if err != nil {
				t.Fatal(err)
			}
			_, err = importRef(t, dir, dst, "img")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			noObjects(t, dst)
		})
	}
}

func tarOf(t *testing.T, entries ...*tar.Header) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, h := range entries {
		body := ""
		if h.Typeflag == tar.TypeReg {
			body = h.Linkname
			h.Linkname = ""
			h.Size = int64(len(body))
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, body)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// regFile is a regular file entry; for tarOf, Linkname carries the content.
func regFile(name, body string, mode int64) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Linkname: body, Mode: mode}
}

func TestImportPlainImage(t *testing.T) {
	lower := tarOf(t,
		&tar.Header{Name: "usr/", Typeflag: tar.TypeDir, Mode: 0o755},
		&tar.Header{Name: "usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		regFile("usr/bin/a", "a", 0o755),
		regFile("usr/bin/gone", "gone", 0o644),
		&tar.Header{Name: "usr/bin/a-link", Typeflag: tar.TypeLink, Linkname: "usr/bin/a", Mode: 0o755},
		&tar.Header{Name: "usr/lib/", Typeflag: tar.TypeDir, Mode: 0o755},
		regFile("usr/lib/old", "old", 0o644),
		&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		regFile("etc/x", "x", 0o600),
	)
	upper := tarOf(t,
		&tar.Header{Name: "usr/bin/.wh.gone", Typeflag: tar.TypeReg},
		&tar.Header{Name: "usr/lib/.wh..wh..opq", Typeflag: tar.TypeReg},
		regFile("usr/lib/new", "new", 0o644),
		&tar.Header{Name: "usr/bin/sym", Typeflag: tar.TypeSymlink, Linkname: "a"},
		&tar.Header{Name: "var/lib/x", Typeflag: tar.TypeReg, Mode: 0o640, Uid: 5, Gid: 6, PAXRecords: map[string]string{"SCHILY.xattr.user.k": "v"}},
		regFile("etc/x", "x2", 0o600),
	)
	created := time.Date(2025, 5, 6, 7, 8, 9, 0, time.UTC)
	ti := writeImportLayout(t, map[string]string{"containers.bootc": "1"}, created, lower, upper)

	dst, err := ostree.Init(t.Context(), t.TempDir(), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := importRef(t, ti.dir, dst, "plain")
	if err != nil {
		t.Fatal(err)
	}
	ostreeCLI(t, "fsck", "--repo="+dst.Path())
	ls := ostreeCLI(t, "ls", "-R", "-X", "--repo="+dst.Path(), "plain")
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(ls), "\n") {
		f := strings.Fields(line)
		// mode uid gid size { xattrs } path [-> target]
		got = append(got, strings.Join(f[:3], " ")+" "+strings.Join(f[4:], " "))
	}
	want := []string{
		"d00755 0 0 { @a(ayay) [] } /",
		"d00755 0 0 { @a(ayay) [] } /etc",
		"-00600 0 0 { @a(ayay) [] } /etc/x",
		"d00755 0 0 { @a(ayay) [] } /usr",
		"d00755 0 0 { @a(ayay) [] } /usr/bin",
		"-00755 0 0 { @a(ayay) [] } /usr/bin/a",
		"-00755 0 0 { @a(ayay) [] } /usr/bin/a-link",
		"l00777 0 0 { @a(ayay) [] } /usr/bin/sym -> a",
		"d00755 0 0 { @a(ayay) [] } /usr/lib",
		"-00644 0 0 { @a(ayay) [] } /usr/lib/new",
		"d00755 0 0 { @a(ayay) [] } /var",
		"d00755 0 0 { @a(ayay) [] } /var/lib",
		"-00640 5 6 { [(b'user.k', [byte 0x76])] } /var/lib/x",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("ostree ls of the plain import:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	co := filepath.Join(t.TempDir(), "co")
	ostreeCLI(t, "checkout", "--repo="+dst.Path(), "plain", co)
	if b, _ := os.ReadFile(filepath.Join(co, "etc/x")); string(b) != "x2" {
		t.Fatalf("etc/x = %q, want the upper layer's x2", b)
	}
	cm, err := dst.ReadCommit(c1)
	if err != nil {
		t.Fatal(err)
	}
	if !cm.Timestamp.Equal(created) {
		t.Fatalf("commit timestamp %v, want the config's created %v", cm.Timestamp, created)
	}
	// The same image gives the same commit, in this and in a fresh repo.
	if c2, err := importRef(t, ti.dir, dst, "plain"); err != nil || c2 != c1 {
		t.Fatalf("second import: %s, %v; want %s", c2, err, c1)
	}
	fresh, err := ostree.Init(t.Context(), t.TempDir(), ostree.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	if c3, err := importRef(t, ti.dir, fresh, "plain"); err != nil || c3 != c1 {
		t.Fatalf("import into a fresh repo: %s, %v; want %s", c3, err, c1)
	}
}

func TestImportPlainNeedsTimestamp(t *testing.T) {
	ti := writeImportLayout(t, nil, time.Time{}, tarOf(t, regFile("a", "a", 0o644)))
	dst, err := ostree.Init(t.Context(), t.TempDir(), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := importRef(t, ti.dir, dst, ""); !errors.Is(err, errNoTimestamp) {
		t.Fatalf("got %v, want errNoTimestamp", err)
	}
	img, err := Open(context.Background(), "oci:"+ti.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	ts := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	c, err := Import(t.Context(), img, dst, ImportOptions{Timestamp: ts})
	if err != nil {
		t.Fatal(err)
	}
	if cm, _ := dst.ReadCommit(c); !cm.Timestamp.Equal(ts) {
		t.Fatalf("timestamp %v, want %v", cm.Timestamp, ts)
	}
}

// TestImportEncapsulated is the round trip through this package's own
// writer: commit → Encapsulate → Import into a fresh repo.
func TestImportEncapsulated(t *testing.T) {
	src, commit, tree := sourceCommit(t)
	srcLs := ostreeCLI(t, "ls", "-R", "-X", "--repo="+src.Path(), "src")
	cm, err := src.ReadCommit(commit)
	if err != nil {
		t.Fatal(err)
	}
	tool := findFile(t, src, cm.RootTree, "usr/bin/tool")
	big := findFile(t, src, cm.RootTree, "usr/share/doc/big")
	for _, tc := range []struct {
		name   string
		dest   string
		chunks []Chunk
		mode   ostree.RepoMode
	}{
		{"one chunk layer", "oci:%s/layout", nil, ostree.ModeBareUser},
		{"all in the ostree layer", "oci:%s/layout", []Chunk{}, ostree.ModeArchive},
		{"two chunks, archive file", "oci-archive:%s/img.tar", []Chunk{
			{Name: "tool", Components: []string{"tool"}, Objects: []ostree.Checksum{tool}},
			{Name: "big", Components: []string{"doc"}, Objects: []ostree.Checksum{big}},
		}, ostree.ModeArchive},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := fmt.Sprintf(tc.dest, t.TempDir())
			if _, err := Encapsulate(t.Context(), src, "src", ref, EncapsulateOptions{Chunks: tc.chunks}); err != nil {
				t.Fatal(err)
			}
			dst, err := ostree.Init(t.Context(), t.TempDir(), tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			img, err := Open(t.Context(), ref)
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			const dref = "ostree/container/image/rt"
			got, err := Import(t.Context(), img, dst, ImportOptions{Ref: dref})
			if err != nil {
				t.Fatal(err)
			}
			if got != commit {
				t.Fatalf("imported commit %s, want %s", got, commit)
			}
			ostreeCLI(t, "fsck", "--repo="+dst.Path())
			if ls := ostreeCLI(t, "ls", "-R", "-X", "--repo="+dst.Path(), dref); ls != srcLs {
				t.Fatalf("ostree ls of the import differs:\n%s\nwant:\n%s", ls, srcLs)
			}
			co := filepath.Join(t.TempDir(), "co")
			ostreeCLI(t, "checkout", "--repo="+dst.Path(), dref, co)
			compareTrees(t, tree, co)
		})
	}
}

func TestImportRefusesMalformedLayers(t *testing.T) {
	obj := func(hexsum, ext string) string {
		return "sysroot/ostree/repo/objects/" + hexsum[:2] + "/" + hexsum[2:] + "." + ext
	}
	a, b := strings.Repeat("ab", 32), strings.Repeat("cd", 32)
	empty := tarOf(t, &tar.Header{Name: "sysroot/", Typeflag: tar.TypeDir, Mode: 0o755})
	emptyX := "" // the empty a(ayay)
	for _, tc := range []struct {
		name  string
		tars  [][]byte
		final int // the layer ostree.final-diffid names
		want  string
	}{
		{"metadata in a chunk layer", [][]byte{empty, tarOf(t, regFile(obj(a, "dirmeta"), "x", 0o644))}, 1, "metadata object " + a + ".dirmeta in a chunk layer"},
		{"content without xattrs link", [][]byte{empty, tarOf(t, regFile(obj(a, "file"), "x", 0o644))}, 1, "content object " + a + " has no .file-xattrs-link"},
		{"dangling xattrs", [][]byte{empty, tarOf(t, regFile(obj(a, "file-xattrs-link"), emptyX, 0o644), regFile(obj(b, "file-xattrs-link"), emptyX, 0o644))}, 1, "dangling xattrs: " + a},
		{"xattrs link to nothing", [][]byte{empty, tarOf(t, &tar.Header{Name: obj(a, "file-xattrs-link"), Typeflag: tar.TypeLink, Linkname: obj(b, "file-xattrs")})}, 1, "which is no .file-xattrs object read before"},
		{"first object not the commit", [][]byte{tarOf(t, regFile(obj(a, "dirmeta"), "x", 0o644))}, 0, "the first object is " + a + ".dirmeta, not the commit"},
		{"no commit", [][]byte{empty}, 0, "holds no commit object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			labels := map[string]string{"ostree.final-diffid": sha(tc.tars[tc.final]).String()}
			ti := writeImportLayout(t, labels, time.Unix(0, 0), tc.tars...)
			dst, err := ostree.Init(t.Context(), t.TempDir(), ostree.ModeArchive)
			if err != nil {
				t.Fatal(err)
			}
			_, err = importRef(t, ti.dir, dst, "img")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if _, err := dst.ReadRef("img"); err == nil {
				t.Fatal("a failed import left a ref")
			}
			noObjects(t, dst)
		})
	}
}

func TestContainerImageRef(t *testing.T) {
	for in, want := range map[string]string{
		"docker://quay.io/example/os:latest": "ostree/container/image/docker_3A__2F__2F_quay_2E_io/example/os_3A_latest",
		"oci:/srv/img_1":                     "ostree/container/image/oci_3A__2F_srv/img__1",
		"oci:a//b":                           "ostree/container/image/oci_3A_a_2F__2F_b",
	} {
		got := ContainerImageRef(in)
		if got != want {
			t.Errorf("ContainerImageRef(%q) = %q, want %q", in, got, want)
		}
		if err := ostree.ValidateRef(got); err != nil {
			t.Errorf("ContainerImageRef(%q): %v", in, err)
		}
	}
}

func TestImportPlainDeployLayout(t *testing.T) {
	layer := tarOf(t,
		&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		regFile("etc/os-release", "ID=debian\n", 0o644),
		&tar.Header{Name: "usr/bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		regFile("usr/bin/a", "a", 0o755),
		&tar.Header{Name: "usr/bin/a-etc", Typeflag: tar.TypeLink, Linkname: "etc/os-release"},
		&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777},
		regFile("tmp/junk", "junk", 0o644),
		&tar.Header{Name: "run/lock/", Typeflag: tar.TypeDir, Mode: 0o755},
	)
	ti := writeImportLayout(t, nil, time.Unix(1, 0), layer)
	img, err := Open(t.Context(), "oci:"+ti.dir)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	dst, err := ostree.Init(t.Context(), t.TempDir(), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Import(t.Context(), img, dst, ImportOptions{Ref: "d", DeployLayout: true}); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(ostreeCLI(t, "ls", "-R", "--repo="+dst.Path(), "d")), "\n") {
		f := strings.Fields(line)
		got = append(got, f[0]+" "+strings.Join(f[4:], " "))
	}
	want := "d00755 /\nd00755 /run\nd01777 /tmp\nd00755 /usr\nd00755 /usr/bin\n-00755 /usr/bin/a\n-00644 /usr/bin/a-etc\nd00755 /usr/etc\n-00644 /usr/etc/os-release"
	if strings.Join(got, "\n") != want {
		t.Fatalf("deploy layout:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}

func TestImportDerivedLayers(t *testing.T) {
	src, base, _ := sourceCommit(t)
	derived := tarOf(t,
		&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755},
		regFile("etc/new", "new\n", 0o644),
		&tar.Header{Name: "etc/app/.wh.conf", Typeflag: tar.TypeReg},
		&tar.Header{Name: "usr/bin/.wh.sym", Typeflag: tar.TypeReg},
		regFile("usr/bin/tool", "#!/bin/sh\necho changed\n", 0o755),
		&tar.Header{Name: "usr/bin/tool-2", Typeflag: tar.TypeLink, Linkname: "usr/bin/suid"},
		&tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777},
		regFile("tmp/junk", "junk", 0o644),
	)
	dir := encapsulateByHand(t, src, base, encapOpts{derived: [][]byte{derived}})
	dst, err := ostree.Init(t.Context(), t.TempDir(), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	merge, err := importRef(t, dir, dst, "img")
	if err != nil {
		t.Fatal(err)
	}
	if merge == base {
		t.Fatal("derived layers did not make a merge commit")
	}
	mc, err := dst.ReadCommit(merge)
	if err != nil {
		t.Fatal(err)
	}
	if mc.Parent == nil || *mc.Parent != base {
		t.Fatalf("merge commit parent %v, want the base commit %s", mc.Parent, base)
	}
	ostreeCLI(t, "fsck", "--repo="+dst.Path())
	co := filepath.Join(t.TempDir(), "co")
	ostreeCLI(t, "checkout", "--repo="+dst.Path(), "img", co)
	for p, want := range map[string]string{
		"usr/etc/new":       "new\n",
		"usr/bin/tool":      "#!/bin/sh\necho changed\n",
		"usr/bin/tool-link": "#!/bin/sh\necho hi\n",
		"usr/bin/tool-2":    "suid",
		"usr/etc/app/empty": "",
	} {
		if b, err := os.ReadFile(filepath.Join(co, p)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	for _, p := range []string{"etc", "usr/etc/app/conf", "usr/bin/sym", "tmp/junk"} {
		if _, err := os.Lstat(filepath.Join(co, p)); err == nil {
			t.Errorf("%s exists in the merge commit", p)
		}
	}
	// Deterministic: the same image gives the same merge commit.
	fresh, err := ostree.Init(t.Context(), t.TempDir(), ostree.ModeBareUser)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := importRef(t, dir, fresh, "img"); err != nil || again != merge {
		t.Fatalf("second import: %s, %v; want %s", again, err, merge)
	}
}

func TestImportRefusesTamperedMetadata(t *testing.T) {
	src, commit, _ := sourceCommit(t)
	cm, err := src.ReadCommit(commit)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []ostree.Checksum{cm.RootTree, cm.RootMeta} {
		dir := encapsulateByHand(t, src, commit, encapOpts{tamperMeta: c})
		dst, err := ostree.Init(t.Context(), t.TempDir(), ostree.ModeArchive)
		if err != nil {
			t.Fatal(err)
		}
		_, err = importRef(t, dir, dst, "img")
		if err == nil || !strings.Contains(err.Error(), c.String()) || !strings.Contains(err.Error(), "the object was changed") || !strings.Contains(err.Error(), "layer 0") {
			t.Fatalf("import with metadata object %s changed: %v; want an error naming it and layer 0", c, err)
		}
		noObjects(t, dst)
	}
}
