package oci

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/apt-ostree/apt-ostree/ostree"
)

// testCommit builds a small bootable tree (owners, setuid, xattrs, a
// symlink, an empty file, hardlinks, /usr/etc, an empty /sysroot) and
// commits it into a new archive repo as ref "test".
func testCommit(t *testing.T) (*ostree.Repo, ostree.Checksum) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to set owners")
	}
	src := t.TempDir()
	mk := func(p, body string, mode uint32) {
		full := filepath.Join(src, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := unix.Chmod(full, mode); err != nil {
			t.Fatal(err)
		}
	}
	mk("usr/bin/hello", "#!/bin/sh\necho hello\n", 0o755)
	mk("usr/bin/su", "setuid binary", 0o4755)
	mk("usr/lib/modules/6.1.0-test/vmlinuz", "kernel", 0o644)
	mk("usr/lib/modules/6.1.0-test/initramfs.img", "initramfs", 0o644)
	mk("usr/share/doc/a/copyright", "same content", 0o644)
	mk("usr/share/doc/b/copyright", "same content", 0o644) // same object as a's
	mk("usr/share/empty", "", 0o644)
	mk("usr/etc/os-release", "ID=test\n", 0o644)
	mk("usr/etc/shadow", "root:*:1::::::\n", 0o640)
	mk("home/user/.profile", "# profile\n", 0o600)
	mk("usr/lib/xattr-file", "with xattrs", 0o644)
	mk("sysroot/not-checked-out", "only in the embedded repo", 0o644)
	for _, d := range []string{"sysroot/empty", "var/lib", "usr/lib/private"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "usr/lib/private"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{"home/user", ""}, {"home/user/.profile", ""}} {
		if err := os.Lchown(filepath.Join(src, c[0]), 1000, 1000); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(src, "usr/etc/shadow"), 0, 42); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/bin", filepath.Join(src, "bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("hello", filepath.Join(src, "usr/bin/hi")); err != nil {
		t.Fatal(err)
	}
	xf := filepath.Join(src, "usr/lib/xattr-file")
	if err := unix.Lsetxattr(xf, "user.b", []byte("2"), 0); err != nil {
		t.Skipf("file system without user xattrs: %v", err)
	}
	if err := unix.Lsetxattr(xf, "user.a", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	repo, err := ostree.Init(context.Background(), filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := repo.CommitDir(context.Background(), src, ostree.CommitOptions{
		Ref: "test", WriteRef: true, NoParent: true,
		Subject: "test tree", Timestamp: time.Unix(1704067200, 0),
		Metadata: map[string]any{
			"version":              "42.1",
			"ostree.bootable":      true,
			"ostree.linux":         "6.1.0-test",
			"ostree.container-cmd": []string{"/usr/bin/hello"},
		},
		OwnerUID: -1, OwnerGID: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return repo, c
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed", name)
	}
}

func encapsulate(t *testing.T, repo *ostree.Repo, dest string, opts EncapsulateOptions) *Encapsulated {
	t.Helper()
	res, err := Encapsulate(context.Background(), repo, "test", dest, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestEncapsulateSkopeo(t *testing.T) {
	needTool(t, "skopeo")
	repo, c := testCommit(t)
	dir := filepath.Join(t.TempDir(), "img")
	res := encapsulate(t, repo, "oci:"+dir+":v1", EncapsulateOptions{Labels: map[string]string{"org.example.x": "y"}})
	var insp struct {
		Digest       string
		Labels       map[string]string
		Architecture string
		Layers       []string
	}
	if err := json.Unmarshal([]byte(run(t, "skopeo", "inspect", "oci:"+dir+":v1")), &insp); err != nil {
		t.Fatal(err)
	}
	if insp.Digest != res.ManifestDigest.String() {
		t.Errorf("skopeo digest %s, Encapsulate returned %s", insp.Digest, res.ManifestDigest)
	}
	want := map[string]string{
		"containers.bootc":                 "1",
		"ostree.bootable":                  "true",
		"ostree.commit":                    c.String(),
		"ostree.linux":                     "6.1.0-test",
		"org.opencontainers.image.version": "42.1",
		"org.example.x":                    "y",
	}
	for k, v := range want {
		if insp.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, insp.Labels[k], v)
		}
	}
	diffIDs := res.Config.RootFS.DiffIDs
	if got := insp.Labels["ostree.final-diffid"]; got != diffIDs[len(diffIDs)-1].String() {
		t.Errorf("ostree.final-diffid = %s, want the last layer's diff_id %s", got, diffIDs[len(diffIDs)-1])
	}
	if len(insp.Layers) != 2 {
		t.Errorf("%d layers, want the ostree layer and one chunk", len(insp.Layers))
	}
	if got := strings.Join(res.Config.Config.Cmd, " "); got != "/usr/bin/hello" {
		t.Errorf("Cmd = %q, want the commit's ostree.container-cmd", got)
	}
	if res.Config.Created.Time.Unix() != 1704067200 {
		t.Errorf("created = %v, want the commit timestamp", res.Config.Created)
	}
	archive := filepath.Join(t.TempDir(), "img.tar")
	run(t, "skopeo", "copy", "oci:"+dir+":v1", "oci-archive:"+archive+":v1")
	run(t, "skopeo", "inspect", "oci-archive:"+archive+":v1")
}

// treeEntry is what the comparison of two unpacked trees looks at.
type treeEntry struct {
	Mode     fs.FileMode
	UID, GID uint32
	Data     string // content or link target
	Xattrs   string
}

func scanTree(t *testing.T, root string, skip func(string) bool) map[string]treeEntry {
	t.Helper()
	out := map[string]treeEntry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel != "." && skip(rel) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		fi, _ := d.Info()
		e := treeEntry{Mode: fi.Mode(), UID: st.Uid, GID: st.Gid}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Data, _ = os.Readlink(p)
		case fi.Mode().IsRegular():
			b, _ := os.ReadFile(p)
			e.Data = string(b)
		}
		buf := make([]byte, 4096)
		if n, err := unix.Llistxattr(p, buf); err == nil {
			var names []string
			for _, n := range strings.Split(string(buf[:n]), "\x00") {
				if strings.HasPrefix(n, "user.") {
					v := make([]byte, 256)
					m, _ := unix.Lgetxattr(p, n, v)
					names = append(names, n+"="+string(v[:m]))
				}
			}
			slices.Sort(names)
			e.Xattrs = strings.Join(names, ",")
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEncapsulateUnpack: umoci's unpacking of the image is the commit's
// ostree checkout, apart from the embedded repo, /usr/etc being /etc, and
// the /var/tmp the image adds.
func TestEncapsulateUnpack(t *testing.T) {
	needTool(t, "umoci")
	needTool(t, "ostree")
	repo, _ := testCommit(t)
	work := t.TempDir()
	encapsulate(t, repo, "oci:"+work+"/img:t", EncapsulateOptions{})
	run(t, "umoci", "unpack", "--image", work+"/img:t", work+"/bundle")
	run(t, "ostree", "checkout", "--repo="+repo.Path(), "test", work+"/co")
	if err := os.RemoveAll(work + "/co/sysroot"); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(work+"/co/usr/etc", work+"/co/etc"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(work+"/co/var/tmp", 0o1777); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(work+"/co/var/tmp", 0o1777); err != nil {
		t.Fatal(err)
	}
	img := scanTree(t, work+"/bundle/rootfs", func(p string) bool { return p == "sysroot" })
	co := scanTree(t, work+"/co", func(string) bool { return false })
	for p, e := range co {
		if p == "." {
			continue // the bundle's rootfs directory is umoci's
		}
		if got, ok := img[p]; !ok {
			t.Errorf("%s: missing in the image", p)
		} else if got != e {
			t.Errorf("%s: image %+v, checkout %+v", p, got, e)
		}
	}
	for p := range img {
		if _, ok := co[p]; !ok {
			t.Errorf("%s: in the image, not in the checkout", p)
		}
	}
	if _, err := os.Stat(work + "/bundle/rootfs/sysroot/not-checked-out"); err == nil {
		t.Error("the image checks out the commit's /sysroot")
	}
	if len(co) < 20 {
		t.Fatalf("checkout has only %d entries", len(co))
	}
}

// layerTars returns the uncompressed tar streams of the image's layers.
func layerTars(t *testing.T, ref string) (*Image, [][]byte) {
	t.Helper()
	img, err := Open(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { img.Close() })
	var out [][]byte
	for _, l := range img.Layers() {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return img, out
}

func tarNames(t *testing.T, data []byte) []*tar.Header {
	t.Helper()
	var hs []*tar.Header
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hs
		}
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, h)
	}
}

// TestEncapsulateEmbeddedRepo: the ostree-owned layers extracted with GNU
// tar hold a repo that the real ostree accepts, and the chunk layers hold
// each content object once and no metadata object.
func TestEncapsulateEmbeddedRepo(t *testing.T) {
	needTool(t, "ostree")
	for _, tc := range []struct {
		name   string
		chunks func([]ostree.Checksum) []Chunk
		layers int
	}{
		{"one chunk", func([]ostree.Checksum) []Chunk { return nil }, 2},
		{"unchunked", func([]ostree.Checksum) []Chunk { return []Chunk{} }, 1},
		{"three chunks and a remainder", func(all []ostree.Checksum) []Chunk {
			return []Chunk{
				{Name: "a", Components: []string{"pkg-b", "pkg-a"}, Objects: all[0:2]},
				{Name: "b", Components: []string{"pkg-c"}, Objects: all[2:4]},
				{Name: "c", Objects: all[4:5]},
			}
		}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo, c := testCommit(t)
			all := contentObjects(t, repo, c)
			work := t.TempDir()
			encapsulate(t, repo, "oci:"+work+"/img", EncapsulateOptions{Chunks: tc.chunks(all)})
			img, tars := layerTars(t, "oci:"+work+"/img")
			if len(tars) != tc.layers {
				t.Fatalf("%d layers, want %d", len(tars), tc.layers)
			}
			// The ostree layer: commit first, then metadata; no chunk has metadata.
			first := ""
			for _, h := range tarNames(t, tars[0]) {
				if strings.HasPrefix(h.Name, repoPrefix+"objects/") && h.Typeflag == tar.TypeReg {
					first = h.Name
					break
				}
			}
			if want := objectName(c, "commit"); first != want {
				t.Errorf("first object of the ostree layer is %s, want the commit %s", first, want)
			}
			seen := map[string]int{}
			for i, data := range tars[1:] {
				for _, h := range tarNames(t, data) {
					n, ok := strings.CutPrefix(h.Name, repoPrefix+"objects/")
					if !ok || h.Typeflag == tar.TypeDir {
						continue
					}
					switch filepath.Ext(n) {
					case ".file":
						seen[n]++
					case ".file-xattrs-link":
					default:
						t.Errorf("chunk layer %d holds %s", i+1, h.Name)
					}
				}
			}
			chunked := 0
			for _, c := range tc.chunks(all) {
				chunked += len(c.Objects)
			}
			if tc.chunks(all) == nil {
				chunked = len(all)
			}
			if len(seen) != chunked {
				t.Errorf("chunk layers hold %d objects, want %d", len(seen), chunked)
			}
			for n, k := range seen {
				if k != 1 {
					t.Errorf("%s appears %d times in the chunk layers", n, k)
				}
			}
			if tc.layers == 4 {
				if got := img.Manifest.Layers[1].Annotations["ostree.components"]; got != "pkg-a,pkg-b" {
					t.Errorf("ostree.components = %q", got)
				}
			}
			// GNU tar, layer by layer, then the real ostree.
			root := filepath.Join(work, "root")
			os.Mkdir(root, 0o755)
			for i, data := range tars {
				f := filepath.Join(work, fmt.Sprintf("layer%d.tar", i))
				if err := os.WriteFile(f, data, 0o644); err != nil {
					t.Fatal(err)
				}
				run(t, "tar", "-x", "--xattrs", "--xattrs-include=*", "-C", root, "-f", f)
			}
			r := filepath.Join(root, "sysroot/ostree/repo")
			run(t, "ostree", "refs", "--repo="+r, "--create=test", c.String())
			run(t, "ostree", "fsck", "--repo="+r)
			ls := run(t, "ostree", "ls", "-R", "-X", "--repo="+r, "test")
			for _, want := range []string{"/usr/bin/hello", "/usr/etc/shadow", "user.a", "/sysroot/not-checked-out", "/sysroot/empty"} {
				if !strings.Contains(ls, want) {
					t.Errorf("ostree ls of the embedded repo lacks %s:\n%s", want, ls)
				}
			}
			if log := run(t, "ostree", "log", "--repo="+r, "test"); !strings.Contains(log, c.String()) {
				t.Errorf("ostree log: %s", log)
			}
		})
	}
}

func contentObjects(t *testing.T, repo *ostree.Repo, c ostree.Checksum) []ostree.Checksum {
	t.Helper()
	e, err := newEncapsulation(repo, c)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.order) < 8 {
		t.Fatalf("only %d content objects", len(e.order))
	}
	return e.order
}

func fileSHA(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestEncapsulateReproducible: the same commit gives the same manifest and
// archive bytes in different directories.
func TestEncapsulateReproducible(t *testing.T) {
	repo, _ := testCommit(t)
	var digests, archives []string
	for range 2 {
		dir := t.TempDir()
		res := encapsulate(t, repo, "oci:"+dir+"/a/img:x", EncapsulateOptions{})
		ar := encapsulate(t, repo, "oci-archive:"+dir+"/img.tar:x", EncapsulateOptions{})
		if ar.ManifestDigest != res.ManifestDigest {
			t.Errorf("oci-archive manifest %s, oci %s", ar.ManifestDigest, res.ManifestDigest)
		}
		digests = append(digests, res.ManifestDigest.String())
		archives = append(archives, fileSHA(t, dir+"/img.tar"))
	}
	if digests[0] != digests[1] {
		t.Errorf("manifest digests differ: %v", digests)
	}
	if archives[0] != archives[1] {
		t.Errorf("archives differ: %v", archives)
	}
}

// TestEncapsulateTags: a second tag is added to an existing layout, the
// same tag replaced, and a directory that is not a layout refused.
func TestEncapsulateTags(t *testing.T) {
	repo, _ := testCommit(t)
	dir := filepath.Join(t.TempDir(), "img")
	a := encapsulate(t, repo, "oci:"+dir+":a", EncapsulateOptions{})
	b := encapsulate(t, repo, "oci:"+dir+":b", EncapsulateOptions{Labels: map[string]string{"k": "v"}})
	b2 := encapsulate(t, repo, "oci:"+dir+":b", EncapsulateOptions{Labels: map[string]string{"k": "w"}})
	for tag, want := range map[string]string{"a": a.ManifestDigest.String(), "b": b2.ManifestDigest.String()} {
		img, err := Open(context.Background(), "oci:"+dir+":"+tag)
		if err != nil {
			t.Fatal(err)
		}
		if img.ManifestDigest.String() != want {
			t.Errorf("tag %s: %s, want %s", tag, img.ManifestDigest, want)
		}
		img.Close()
	}
	if b.ManifestDigest == b2.ManifestDigest {
		t.Error("a different label gave the same manifest")
	}
	var idx struct{ Manifests []json.RawMessage }
	data, _ := os.ReadFile(dir + "/index.json")
	if err := json.Unmarshal(data, &idx); err != nil || len(idx.Manifests) != 2 {
		t.Errorf("index.json has %d manifests (%v), want 2:\n%s", len(idx.Manifests), err, data)
	}
	other := t.TempDir()
	os.WriteFile(other+"/file", nil, 0o644)
	if _, err := Encapsulate(context.Background(), repo, "test", "oci:"+other, EncapsulateOptions{}); err == nil || !strings.Contains(err.Error(), "not an OCI image layout") {
		t.Errorf("writing into a non-layout directory: %v", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(dir))
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary %s left behind", e.Name())
		}
	}
}

func TestParseDest(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Dest
		err  string
	}{
		{in: "oci:/x/y:tag", want: Dest{"oci", "/x/y", "tag"}},
		{in: "oci:rel", want: Dest{"oci", "rel", ""}},
		{in: "oci-archive:/a.tar:v1", want: Dest{"oci-archive", "/a.tar", "v1"}},
		{in: "docker://host/name:tag", err: "not supported"},
		{in: "containers-storage:x", err: "not supported"},
		{in: "oci:", err: "missing path"},
		{in: "/plain/path", err: "want oci:DIR"},
	} {
		got, err := ParseDest(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseDest(%q) error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseDest(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestEncapsulateChunkErrors: an object in two chunks or not in the commit is refused.
func TestEncapsulateChunkErrors(t *testing.T) {
	repo, c := testCommit(t)
	all := contentObjects(t, repo, c)
	for name, chunks := range map[string][]Chunk{
		"in chunks":            {{Name: "a", Objects: all[:2]}, {Name: "b", Objects: all[1:3]}},
		"not a content object": {{Name: "a", Objects: []ostree.Checksum{c}}},
		"holds no objects":     {{Name: "a"}},
	} {
		_, err := Encapsulate(context.Background(), repo, "test", "oci:"+t.TempDir()+"/img", EncapsulateOptions{Chunks: chunks})
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v", name, err)
		}
	}
}

// TestEncapsulateReadBack: our own reader sees the image's checkout,
// including hard links to symlink objects as symlinks.
func TestEncapsulateReadBack(t *testing.T) {
	repo, _ := testCommit(t)
	ref := "oci-archive:" + t.TempDir() + "/img.tar:v"
	encapsulate(t, repo, ref, EncapsulateOptions{})
	img, err := Open(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	fsys, err := NewFS(context.Background(), img, FSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	for name, want := range map[string]string{"bin": "usr/bin", "usr/bin/hi": "hello"} {
		fi, err := fsys.Lstat(name)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Errorf("%s: %v, %v; want a symlink", name, fi, err)
			continue
		}
		if got, err := fsys.ReadLink(name); got != want || err != nil {
			t.Errorf("ReadLink(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	if b, err := fs.ReadFile(fsys, "usr/bin/hello"); err != nil || string(b) != "#!/bin/sh\necho hello\n" {
		t.Errorf("usr/bin/hello: %q, %v", b, err)
	}
	fi, err := fsys.Lstat("etc/shadow")
	if err != nil {
		t.Fatal(err)
	}
	uid, gid := fi.Sys().(interface{ Owner() (uint32, uint32) }).Owner()
	if fi.Mode() != 0o640 || uid != 0 || gid != 42 {
		t.Errorf("etc/shadow: %v %d:%d, want -rw-r----- 0:42", fi.Mode(), uid, gid)
	}
	if fi, err := fsys.Lstat("usr/bin/su"); err != nil || fi.Mode()&fs.ModeSetuid == 0 {
		t.Errorf("usr/bin/su: %v, %v; want setuid", fi, err)
	}
}

func TestEncapsulateCopyMeta(t *testing.T) {
	repo, _ := testCommit(t)
	res := encapsulate(t, repo, "oci:"+t.TempDir()+"/img", EncapsulateOptions{CopyMeta: []string{"version"}, CopyMetaOpt: []string{"absent"}})
	if got := res.Config.Config.Labels["version"]; got != "42.1" {
		t.Errorf("copied label version = %q", got)
	}
	if _, ok := res.Manifest.Annotations["absent"]; ok {
		t.Error("an absent optional key became a label")
	}
	for _, key := range []string{"absent", "ostree.bootable"} {
		_, err := Encapsulate(context.Background(), repo, "test", "oci:"+t.TempDir()+"/img", EncapsulateOptions{CopyMeta: []string{key}})
		if err == nil || !strings.Contains(err.Error(), "missing or not a string") {
			t.Errorf("CopyMeta %s: error %v", key, err)
		}
	}
}

// BenchmarkEncapsulate measures writing a commit of 2000 files of 16 KiB.
func BenchmarkEncapsulate(b *testing.B) {
	src := b.TempDir()
	for i := range 2000 {
		p := filepath.Join(src, fmt.Sprintf("usr/share/d%02d/f%04d", i%50, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		data := bytes.Repeat([]byte(fmt.Sprintf("file %d ", i)), 4000)[:16384]
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	repo, err := ostree.Init(context.Background(), filepath.Join(b.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := repo.CommitDir(context.Background(), src, ostree.CommitOptions{Ref: "test", WriteRef: true, NoParent: true, Timestamp: time.Unix(1, 0), OwnerUID: 0, OwnerGID: 0}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(2000 * 16384)
	for i := 0; b.Loop(); i++ {
		if _, err := Encapsulate(context.Background(), repo, "test", fmt.Sprintf("oci:%s/img%d", b.TempDir(), i), EncapsulateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEncapsulateZstd: zstd layers are reproducible, decompress with the
// real zstd (through GNU tar) to a repo ostree accepts, and skopeo copies them.
func TestEncapsulateZstd(t *testing.T) {
	needTool(t, "zstd")
	needTool(t, "ostree")
	repo, c := testCommit(t)
	var digests []string
	var res *Encapsulated
	var dir string
	for range 2 {
		dir = filepath.Join(t.TempDir(), "img")
		res = encapsulate(t, repo, "oci:"+dir+":z", EncapsulateOptions{Compression: "zstd"})
		digests = append(digests, res.ManifestDigest.String())
	}
	if digests[0] != digests[1] {
		t.Errorf("zstd manifests differ: %v", digests)
	}
	root := t.TempDir()
	for _, l := range res.Manifest.Layers {
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" {
			t.Errorf("layer media type %s", l.MediaType)
		}
		run(t, "tar", "-x", "--zstd", "-C", root, "-f", filepath.Join(dir, "blobs/sha256", l.Digest.Hex))
	}
	r := filepath.Join(root, "sysroot/ostree/repo")
	run(t, "ostree", "refs", "--repo="+r, "--create=test", c.String())
	run(t, "ostree", "fsck", "--repo="+r)
	layerTars(t, "oci:"+dir+":z") // our reader verifies every diff_id
	if _, err := exec.LookPath("skopeo"); err == nil {
		run(t, "skopeo", "copy", "oci:"+dir+":z", "oci-archive:"+t.TempDir()+"/z.tar")
	}
	if _, err := Encapsulate(context.Background(), repo, "test", "oci:"+t.TempDir()+"/x", EncapsulateOptions{Compression: "lz4"}); err == nil || !strings.Contains(err.Error(), "gzip or zstd") {
		t.Errorf("lz4: %v", err)
	}
}
