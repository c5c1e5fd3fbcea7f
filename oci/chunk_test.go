package oci

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/apt-ostree/apt-ostree/ostree"
)

const testKver = "6.1.0-9-amd64"

// chunkFile is a file of a test package: its .list path, its path in the
// post-processed tree and its content.
type chunkFile struct {
	list, tree string
	data       []byte
}

type chunkPkg struct {
	name, arch, version string
	multiArch           bool
	files               []chunkFile
}

func (p chunkPkg) infoName() string {
	if p.multiArch {
		return p.name + ":" + p.arch
	}
	return p.name
}

// randData is n bytes that gzip cannot shrink, the same for the same seed.
func randData(seed string, n int) []byte {
	s := sha256.Sum256([]byte(seed))
	r := rand.New(rand.NewChaCha8(s))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// chunkPackages is a post-processed Debian tree's packages: /etc in
// usr/etc, merged /usr, the kernel in usr/lib/modules, /opt in usr/lib/opt,
// a big package, a Multi-Arch: same pair sharing a file, and 20 packages of
// 64 KiB each. versions overrides a package's version (its content changes
// with it).
func chunkPackages(versions map[string]string, extra ...string) []chunkPkg {
	ver := func(name string) string {
		if v, ok := versions[name]; ok {
			return v
		}
		return "1.0"
	}
	f := func(list, tree string, data []byte) chunkFile { return chunkFile{list, tree, data} }
	pkgs := []chunkPkg{
		{name: "base-files", arch: "amd64", files: []chunkFile{
			f("/etc/os-release", "usr/etc/os-release", []byte("ID=debian\n")),
			f("/usr/lib/os-release", "usr/lib/os-release", []byte("ID=debian\nVERSION_ID=12\n")),
		}},
		{name: "coreutils", arch: "amd64", files: []chunkFile{
			f("/bin/ls", "usr/bin/ls", randData("ls", 4000)),
			f("/usr/bin/cat", "usr/bin/cat.distrib", randData("cat", 3000)), // diverted
		}},
		{name: "divpkg", arch: "all", files: []chunkFile{
			f("/usr/bin/cat", "usr/bin/cat", []byte("#!/bin/sh\nexec cat.distrib \"$@\"\n")),
		}},
		{name: "linux-image-" + testKver, arch: "amd64", files: []chunkFile{
			f("/boot/vmlinuz-"+testKver, "usr/lib/modules/"+testKver+"/vmlinuz", randData("vmlinuz", 300<<10)),
			f("/boot/config-"+testKver, "usr/lib/modules/"+testKver+"/config", []byte("CONFIG_X=y\n")),
			f("/lib/modules/"+testKver+"/kernel/x.ko", "usr/lib/modules/"+testKver+"/kernel/x.ko", randData("x.ko", 50<<10)),
		}},
		{name: "firmware-big", arch: "all", files: []chunkFile{
			f("/usr/lib/firmware/blob", "usr/lib/firmware/blob", randData("blob", 2<<20)),
		}},
		{name: "python3-foo", arch: "all", files: []chunkFile{
			f("/usr/lib/python3/dist-packages/foo.py", "usr/lib/python3/dist-packages/foo.py", []byte("print('foo')\n")),
		}},
		{name: "libfoo1", arch: "amd64", multiArch: true, files: []chunkFile{
			f("/usr/lib/x86_64-linux-gnu/libfoo.so.1", "usr/lib/x86_64-linux-gnu/libfoo.so.1", randData("foo64", 8000)),
			f("/usr/share/doc/libfoo1/changelog.gz", "usr/share/doc/libfoo1/changelog.gz", []byte("same in both")),
		}},
		{name: "libfoo1", arch: "i386", multiArch: true, files: []chunkFile{
			f("/usr/lib/i386-linux-gnu/libfoo.so.1", "usr/lib/i386-linux-gnu/libfoo.so.1", randData("foo32", 7000)),
			f("/usr/share/doc/libfoo1/changelog.gz", "usr/share/doc/libfoo1/changelog.gz", []byte("same in both")),
		}},
		{name: "opt-app", arch: "amd64", files: []chunkFile{
			f("/opt/app/run", "usr/lib/opt/app/run", randData("opt", 1000)),
		}},
	}
	for i := range 20 {
		name := fmt.Sprintf("pkg%02d", i)
		v := ver(name)
		pkgs = append(pkgs, chunkPkg{name: name, arch: "amd64", files: []chunkFile{
			f("/usr/share/"+name+"/data", "usr/share/"+name+"/data", randData(name+v, 64<<10)),
			f("/usr/share/doc/"+name+"/copyright", "usr/share/doc/"+name+"/copyright", []byte(name+" copyright\n")),
		}})
	}
	for _, name := range extra {
		pkgs = append(pkgs, chunkPkg{name: name, arch: "amd64", files: []chunkFile{
			f("/usr/share/"+name+"/data", "usr/share/"+name+"/data", randData(name, 32<<10)),
		}})
	}
	for i := range pkgs {
		pkgs[i].version = ver(pkgs[i].name)
	}
	return pkgs
}

// unownedFiles are tree files no package lists.
var unownedFiles = []string{
	"usr/etc/passwd",
	"usr/lib/modules/" + testKver + "/initramfs.img",
	"usr/lib/python3/dist-packages/__pycache__/foo.cpython-311.pyc",
	"usr/share/dpkg/database/status",
}

// commitPackages writes pkgs (files, .list, .md5sums, status) into a tree
// and commits it as ref "test" of repo.
func commitPackages(t *testing.T, repo *ostree.Repo, pkgs []chunkPkg, ts time.Time) ostree.Checksum {
	t.Helper()
	root := t.TempDir()
	write := func(p string, data []byte) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"bin", "lib"} {
		if err := os.Symlink("usr/"+l, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	db := "usr/share/dpkg/database/"
	var status strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nArchitecture: %s\nVersion: %s\n", p.name, p.arch, p.version)
		if p.multiArch {
			status.WriteString("Multi-Arch: same\n")
		}
		status.WriteString("\n")
		var list, sums strings.Builder
		dirs := map[string]bool{}
		for _, f := range p.files {
			write(f.tree, f.data)
			for d := filepath.Dir(f.list); d != "/" && !dirs[d]; d = filepath.Dir(d) {
				dirs[d] = true
			}
			fmt.Fprintf(&sums, "%x  %s\n", md5.Sum(f.data), f.list[1:])
		}
		list.WriteString("/.\n")
		for _, d := range slices.Sorted(func(yield func(string) bool) {
			for d := range dirs {
				if !yield(d) {
					return
				}
			}
		}) {
			list.WriteString(d + "\n")
		}
		for _, f := range p.files {
			list.WriteString(f.list + "\n")
		}
		write(db+"info/"+p.infoName()+".list", []byte(list.String()))
		write(db+"info/"+p.infoName()+".md5sums", []byte(sums.String()))
	}
	write(db+"status", []byte(status.String()))
	write(db+"arch", []byte("amd64\ni386\n"))
	write(db+"diversions", []byte("/usr/bin/cat\n/usr/bin/cat.distrib\ndivpkg\n"))
	for _, p := range unownedFiles[:3] {
		write(p, randData(p, 2000))
	}
	c, _, err := repo.CommitDir(context.Background(), root, ostree.CommitOptions{
		Ref: "test", WriteRef: true, NoParent: true, Timestamp: ts,
		Metadata: map[string]any{"ostree.bootable": true, "ostree.linux": testKver},
		OwnerUID: 0, OwnerGID: 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newChunkRepo(t *testing.T) *ostree.Repo {
	t.Helper()
	repo, err := ostree.Init(context.Background(), filepath.Join(t.TempDir(), "repo"), ostree.ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	return repo
}

// pathObjects maps the commit's content paths to their objects.
func pathObjects(t *testing.T, repo *ostree.Repo, c ostree.Checksum) map[string]ostree.Checksum {
	t.Helper()
	cm, err := repo.ReadCommit(c)
	if err != nil {
		t.Fatal(err)
	}
	var files []contentFile
	if err := walkContent(context.Background(), repo, cm.RootTree, "", &files); err != nil {
		t.Fatal(err)
	}
	out := map[string]ostree.Checksum{}
	for _, f := range files {
		out[f.path] = f.csum
	}
	return out
}

// checkComponents fails unless every package is a component of exactly one
// chunk and no object is in two chunks.
func checkComponents(t *testing.T, chunks []Chunk, pkgs []chunkPkg) {
	t.Helper()
	seen := map[string]int{}
	objs := map[ostree.Checksum]int{}
	for i, c := range chunks {
		if len(c.Objects) == 0 {
			t.Errorf("chunk %d (%s) is empty", i, c.Name)
		}
		if !slices.IsSorted(c.Components) {
			t.Errorf("chunk %d components %v not sorted", i, c.Components)
		}
		for _, n := range c.Components {
			if j, dup := seen[n]; dup {
				t.Errorf("component %s in chunks %d and %d", n, j, i)
			}
			seen[n] = i
		}
		for _, o := range c.Objects {
			if j, dup := objs[o]; dup {
				t.Errorf("object %s in chunks %d and %d", o, j, i)
			}
			objs[o] = i
		}
	}
	for _, p := range pkgs {
		name := p.name
		if p.arch == "i386" {
			name += ":i386"
		}
		if _, ok := seen[name]; !ok {
			t.Errorf("package %s is in no chunk", name)
		}
	}
	if len(seen) != len(pkgs) {
		t.Errorf("%d components, want %d (one per package): %v", len(seen), len(pkgs), seen)
	}
}

func TestChunkByPackage(t *testing.T) {
	repo := newChunkRepo(t)
	pkgs := chunkPackages(nil)
	c := commitPackages(t, repo, pkgs, time.Unix(1704067200, 0))
	chunks, err := ChunkByPackage(t.Context(), repo, "test", ChunkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkComponents(t, chunks, pkgs)
	if len(chunks) != len(pkgs) {
		t.Errorf("%d chunks for %d packages and 63 chunk layers, want one each", len(chunks), len(pkgs))
	}
	objs := pathObjects(t, repo, c)
	chunkOf := map[ostree.Checksum]string{}
	for _, ch := range chunks {
		for _, o := range ch.Objects {
			chunkOf[o] = strings.Join(ch.Components, ",")
		}
	}
	kernel := "linux-image-" + testKver
	for _, tc := range []struct{ path, want string }{
		{"usr/etc/os-release", "base-files"},
		{"usr/bin/ls", "coreutils"},
		{"usr/bin/cat.distrib", "coreutils"},
		{"usr/bin/cat", "divpkg"},
		{"usr/lib/modules/" + testKver + "/vmlinuz", kernel},
		{"usr/lib/modules/" + testKver + "/config", kernel},
		{"usr/lib/modules/" + testKver + "/kernel/x.ko", kernel},
		{"usr/lib/modules/" + testKver + "/initramfs.img", kernel},
		{"usr/lib/python3/dist-packages/__pycache__/foo.cpython-311.pyc", "python3-foo"},
		{"usr/lib/opt/app/run", "opt-app"},
		{"usr/lib/i386-linux-gnu/libfoo.so.1", "libfoo1:i386"},
		{"usr/share/doc/libfoo1/changelog.gz", "libfoo1"}, // shared: the first name
		{"usr/share/dpkg/database/info/pkg03.list", "pkg03"},
		{"usr/share/dpkg/database/info/libfoo1:i386.md5sums", "libfoo1:i386"},
		{"usr/etc/passwd", ""},
		{"usr/share/dpkg/database/status", ""},
		{"usr/share/dpkg/database/arch", ""},
	} {
		o, ok := objs[tc.path]
		if !ok {
			t.Fatalf("%s not in the commit", tc.path)
		}
		if got := chunkOf[o]; got != tc.want {
			t.Errorf("%s: in chunk %q, want %q", tc.path, got, tc.want)
		}
	}

	// The image: one layer per chunk, annotated with its package, and
	// each package's files checked out from exactly one layer.
	dir := t.TempDir() + "/img"
	res, err := Encapsulate(t.Context(), repo, "test", "oci:"+dir+":t", EncapsulateOptions{Chunks: chunks})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(res.Manifest.Layers); n != 1+len(chunks) || n > DefaultMaxLayers {
		t.Fatalf("%d layers for %d chunks", n, len(chunks))
	}
	_, tars := layerTars(t, "oci:"+dir+":t")
	where := map[string][]int{}
	for i, data := range tars {
		for _, h := range tarNames(t, data) {
			where[h.Name] = append(where[h.Name], i)
		}
	}
	for i, ch := range chunks {
		if got := res.Manifest.Layers[i+1].Annotations[ComponentsAnnotation]; got != strings.Join(ch.Components, ",") {
			t.Errorf("layer %d annotation %q, want %q", i+1, got, strings.Join(ch.Components, ","))
		}
	}
	for _, p := range pkgs {
		for _, f := range p.files {
			name := checkoutPath(f.tree)
			ls := where[name]
			if len(ls) != 1 || ls[0] == 0 {
				t.Errorf("%s of %s: in layers %v, want one chunk layer", name, p.name, ls)
				continue
			}
			comp := p.name
			if p.arch == "i386" {
				comp += ":i386"
			}
			if ann := res.Manifest.Layers[ls[0]].Annotations[ComponentsAnnotation]; !slices.Contains(strings.Split(ann, ","), comp) && !strings.Contains(f.tree, "doc/libfoo1") {
				t.Errorf("%s of %s: in the layer of %q", name, p.name, ann)
			}
		}
	}
	if ls := where["etc/passwd"]; !slices.Equal(ls, []int{0}) {
		t.Errorf("unowned etc/passwd in layers %v, want the ostree layer", ls)
	}
}

func TestChunkByPackageMaxLayers(t *testing.T) {
	repo := newChunkRepo(t)
	pkgs := chunkPackages(nil)
	commitPackages(t, repo, pkgs, time.Unix(1704067200, 0))
	kernel := "linux-image-" + testKver
	for _, tc := range []struct {
		max       int
		wantErr   string
		maxChunks int
		alone     []string
	}{
		{max: 128, wantErr: "at most 127"},
		{max: -1, wantErr: "at least 1"},
		{max: 1, maxChunks: 0},
		{max: 2, maxChunks: 1},
		{max: 3, maxChunks: 2, alone: []string{kernel}},
		{max: 6, maxChunks: 5, alone: []string{kernel, "firmware-big"}},
		{max: 16, maxChunks: 15, alone: []string{kernel, "firmware-big"}},
		{max: 127, maxChunks: len(pkgs), alone: []string{kernel, "firmware-big", "pkg00"}},
	} {
		t.Run(fmt.Sprint(tc.max), func(t *testing.T) {
			chunks, err := ChunkByPackage(t.Context(), repo, "test", ChunkOptions{MaxLayers: tc.max})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if chunks == nil || len(chunks) > tc.maxChunks {
				t.Fatalf("%d chunks (nil %v), want at most %d", len(chunks), chunks == nil, tc.maxChunks)
			}
			if tc.max > 1 {
				checkComponents(t, chunks, pkgs)
			}
			for _, a := range tc.alone {
				if !slices.ContainsFunc(chunks, func(c Chunk) bool { return slices.Equal(c.Components, []string{a}) }) {
					t.Errorf("%s is not alone in a chunk", a)
				}
			}
			again, err := ChunkByPackage(t.Context(), repo, "test", ChunkOptions{MaxLayers: tc.max})
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(again) != fmt.Sprint(chunks) {
				t.Error("second run gives other chunks")
			}
			if tc.max == 6 {
				for _, c := range chunks {
					t.Logf("%s: %v", c.Name, c.Components)
				}
			}
		})
	}
}

// TestChunkByPackageUpdate rebuilds the image after one package changed (or
// one was added), with the first image's manifest as previous build: only
// the layers holding that package (and the ostree layer, which holds the
// commit) change digest, and a changed chunk layer is at most twice the
// package's unpacked size when the package is alone in it.
func TestChunkByPackageUpdate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		maxLayers int
		versions  map[string]string
		added     []string
		changed   string
		wantAlone bool
	}{
		{name: "alone", maxLayers: 64, versions: map[string]string{"pkg07": "2.0"}, changed: "pkg07", wantAlone: true},
		{name: "grouped", maxLayers: 8, versions: map[string]string{"pkg07": "2.0"}, changed: "pkg07"},
		{name: "added", maxLayers: 64, added: []string{"newpkg"}, changed: "newpkg", wantAlone: true},
		{name: "added-full", maxLayers: 8, added: []string{"newpkg"}, changed: "newpkg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := newChunkRepo(t)
			work := t.TempDir()
			build := func(pkgs []chunkPkg, ts time.Time, prev *v1.Manifest, dest string) *Encapsulated {
				commitPackages(t, repo, pkgs, ts)
				chunks, err := ChunkByPackage(t.Context(), repo, "test", ChunkOptions{MaxLayers: tc.maxLayers, Previous: prev})
				if err != nil {
					t.Fatal(err)
				}
				checkComponents(t, chunks, pkgs)
				res, err := Encapsulate(t.Context(), repo, "test", "oci:"+work+"/"+dest+":t", EncapsulateOptions{Chunks: chunks})
				if err != nil {
					t.Fatal(err)
				}
				return res
			}
			first := build(chunkPackages(nil), time.Unix(1704067200, 0), nil, "a")
			pkgs := chunkPackages(tc.versions, tc.added...)
			second := build(pkgs, time.Unix(1704067200+86400, 0), first.Manifest, "b")
			var unpacked int64
			for _, p := range pkgs {
				if p.name == tc.changed {
					for _, f := range p.files {
						unpacked += int64(len(f.data))
					}
				}
			}
			old := map[string]string{}
			for _, l := range first.Manifest.Layers[1:] {
				old[l.Annotations[ComponentsAnnotation]] = l.Digest.String()
			}
			var changed int
			for i, l := range second.Manifest.Layers[1:] {
				comps := strings.Split(l.Annotations[ComponentsAnnotation], ",")
				holds := slices.Contains(comps, tc.changed)
				same := old[l.Annotations[ComponentsAnnotation]] == l.Digest.String()
				switch {
				case holds && same:
					t.Errorf("layer %d (%v) holds %s but kept its digest", i+1, comps, tc.changed)
				case !holds && !same:
					t.Errorf("layer %d (%v) does not hold %s but changed digest", i+1, comps, tc.changed)
				case holds:
					changed++
					ratio := float64(l.Size) / float64(unpacked)
					t.Logf("changed layer %d (%d packages): %d bytes, %s unpacked %d bytes: %.2fx", i+1, len(comps), l.Size, tc.changed, unpacked, ratio)
					if tc.wantAlone {
						if len(comps) != 1 {
							t.Errorf("%s shares layer %d with %v", tc.changed, i+1, comps)
						}
						if l.Size > 2*unpacked {
							t.Errorf("changed layer is %d bytes, more than twice %s's %d unpacked bytes", l.Size, tc.changed, unpacked)
						}
					}
				}
			}
			if changed != 1 {
				t.Errorf("%d layers changed, want 1", changed)
			}
			if len(second.Manifest.Layers) > tc.maxLayers {
				t.Errorf("%d layers, max %d", len(second.Manifest.Layers), tc.maxLayers)
			}
		})
	}
}
