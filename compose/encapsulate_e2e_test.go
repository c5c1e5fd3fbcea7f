package compose

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apt-ostree/apt-ostree/lint"
)

// TestE2EEncapsulateExample writes the composed example as a bootc image,
// twice in different directories, and lets skopeo and our lint (with
// fatal warnings) judge it.
func TestE2EEncapsulateExample(t *testing.T) {
	repo, res := composedExample(t)
	needTools(t, "skopeo")
	ctx := context.Background()
	var digests []string
	var ref string
	for i := range 2 {
		dir := filepath.Join(t.TempDir(), "img")
		ref = "oci:" + dir + ":latest"
		start := time.Now()
		out, err := Encapsulate(ctx, EncapsulateOptions{Repo: repo, Rev: res.Ref, Dest: ref})
		if err != nil {
			t.Fatal(err)
		}
		var size int64
		filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
			if err == nil && fi.Mode().IsRegular() {
				size += fi.Size()
			}
			return nil
		})
		t.Logf("encapsulation %d of %s: %s in %v, %d MB", i+1, res.Commit, out.ManifestDigest, time.Since(start).Round(time.Millisecond), size>>20)
		digests = append(digests, out.ManifestDigest)
	}
	if digests[0] != digests[1] {
		t.Errorf("two encapsulations of %s: manifest digests %s and %s", res.Commit, digests[0], digests[1])
	}
	var insp struct {
		Digest string
		Labels map[string]string
	}
	if err := json.Unmarshal([]byte(run(t, "skopeo", "inspect", ref)), &insp); err != nil {
		t.Fatal(err)
	}
	if insp.Digest != digests[0] || insp.Labels["ostree.commit"] != res.Commit || insp.Labels["containers.bootc"] != "1" || !strings.Contains(insp.Labels["ostree.linux"], "deb13") {
		t.Errorf("skopeo inspect: digest %s, labels %v", insp.Digest, insp.Labels)
	}
	report, err := lint.RunTarget(ctx, lint.Target{Image: ref}, lint.Options{FatalWarnings: true, NoTruncate: true})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	report.WriteText(&b)
	if report.Failures() > 0 {
		t.Errorf("lint of the image:\n%s", b.String())
	} else {
		t.Logf("lint of the image:\n%s", b.String())
	}
	dir := strings.TrimSuffix(strings.TrimPrefix(ref, "oci:"), ":latest")
	judgeEmbeddedRepo(t, dir, res.Commit)
	judgeUnpack(t, repo, res.Ref, ref)
}

// judgeEmbeddedRepo extracts the image's layers with GNU tar, in order,
// and runs the real ostree on the repo they hold.
func judgeEmbeddedRepo(t *testing.T, dir, commit string) {
	needTools(t, "tar", "ostree")
	var m struct{ Layers []struct{ Digest string } }
	var idx struct{ Manifests []struct{ Digest string } }
	readJSON := func(p string, v any) {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatal(err)
		}
	}
	blob := func(d string) string { return filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")) }
	readJSON(filepath.Join(dir, "index.json"), &idx)
	readJSON(blob(idx.Manifests[0].Digest), &m)
	root := t.TempDir()
	for _, l := range m.Layers {
		run(t, "tar", "-x", "-z", "-C", root, "-f", blob(l.Digest))
	}
	r := filepath.Join(root, "sysroot/ostree/repo")
	run(t, "ostree", "refs", "--repo="+r, "--create=example", commit)
	run(t, "ostree", "fsck", "--repo="+r)
	if ls := run(t, "ostree", "ls", "--repo="+r, "example", "/usr/bin/dpkg"); !strings.Contains(ls, "/usr/bin/dpkg") {
		t.Errorf("ostree ls of the embedded repo: %s", ls)
	}
}

// judgeUnpack compares umoci's unpacking of the image with ostree's
// checkout of the commit: types, modes, owners, link targets and contents,
// apart from /sysroot, /usr/etc being /etc and the /var/tmp the image adds.
func judgeUnpack(t *testing.T, repo, ref, image string) {
	needTools(t, "umoci", "diff", "find")
	work := t.TempDir()
	run(t, "umoci", "unpack", "--image", strings.TrimPrefix(image, "oci:"), filepath.Join(work, "bundle"))
	co := filepath.Join(work, "co")
	run(t, "ostree", "checkout", "--repo="+repo, ref, co)
	if err := os.Rename(filepath.Join(co, "usr/etc"), filepath.Join(co, "etc")); err != nil {
		t.Fatal(err)
	}
	img := filepath.Join(work, "bundle/rootfs")
	for _, d := range []string{filepath.Join(co, "sysroot"), filepath.Join(img, "sysroot")} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Lstat(filepath.Join(co, "var/tmp")); err != nil {
		run(t, "install", "-d", "-m", "1777", filepath.Join(co, "var/tmp"))
	}
	list := func(dir string) string {
		return run(t, "sh", "-c", `cd "$1" && find . -mindepth 1 -printf '%y %m %U:%G %p -> %l\n' | LC_ALL=C sort`, "sh", dir)
	}
	if a, b := list(co), list(img); a != b {
		al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
		t.Errorf("the image's tree differs from the checkout (%d vs %d entries); first differences:", len(al), len(bl))
		in := map[string]bool{}
		for _, l := range bl {
			in[l] = true
		}
		n := 0
		for _, l := range al {
			if !in[l] && n < 10 {
				t.Errorf("checkout only: %s", l)
				n++
			}
		}
	}
	run(t, "diff", "-r", "--no-dereference", co, img)
}
