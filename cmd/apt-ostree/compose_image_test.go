package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestComposeImage: compose image writes an image skopeo reads, a second
// run reuses the commit and writes the same digest, and a destination it
// cannot write exits 2 (usage) before anything is composed.
func TestComposeImage(t *testing.T) {
	for _, tool := range []string{"bwrap", "dpkg", "ostree"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1704067200")
	tf := composeFixture(t)
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	changed := filepath.Join(dir, "changed")
	dest := "oci-archive:" + filepath.Join(dir, "img.tar") + ":latest"
	args := []string{"compose", "image", "--cachedir", cache, "--label", "a=b", "--touch-if-changed", changed, "--json", tf, dest}
	out, err := runCLI(t, args...)
	if err != nil {
		t.Fatalf("compose image: %v\n%s", err, out)
	}
	var res struct {
		Commit         string `json:"commit"`
		ManifestDigest string `json:"manifest_digest"`
		Tree           struct{ Changed bool }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, out)
	}
	if !res.Tree.Changed || !strings.HasPrefix(res.ManifestDigest, "sha256:") || len(res.Commit) != 64 {
		t.Errorf("result %+v", res)
	}
	if _, err := os.Stat(changed); err != nil {
		t.Errorf("--touch-if-changed: %v", err)
	}
	if _, err := exec.LookPath("skopeo"); err == nil {
		raw, err := exec.Command("skopeo", "inspect", dest).Output()
		if err != nil {
			t.Fatalf("skopeo inspect %s: %v", dest, err)
		}
		var insp struct {
			Digest string
			Labels map[string]string
		}
		if err := json.Unmarshal(raw, &insp); err != nil {
			t.Fatal(err)
		}
		if insp.Digest != res.ManifestDigest || insp.Labels["a"] != "b" || insp.Labels["ostree.commit"] != res.Commit {
			t.Errorf("skopeo inspect: %+v, want digest %s and labels a=b, ostree.commit=%s", insp, res.ManifestDigest, res.Commit)
		}
	}
	os.Remove(changed)
	out, err = runCLI(t, "compose", "image", "--cachedir", cache, "--touch-if-changed", changed, "--label", "a=b", tf, "oci:"+filepath.Join(dir, "layout"))
	if err != nil || !strings.Contains(out, "No apparent changes since previous commit "+res.Commit) || !strings.Contains(out, "Pushed digest: "+res.ManifestDigest) {
		t.Errorf("second compose image: %v\n%s", err, out)
	}
	if _, err := os.Stat(changed); err == nil {
		t.Error("--touch-if-changed touched the file although the commit was reused")
	}

	for _, bad := range []string{"containers-storage:x", "docker:x", "dir:" + dir + "/d", "nodest"} {
		c := filepath.Join(dir, "c-bad")
		stderr, code := runMain(t, "compose", "image", "--cachedir", c, tf, bad)
		if code != 2 || !strings.Contains(stderr, "image destination") {
			t.Errorf("%s: exit %d, stderr %q; want exit 2 naming the destination", bad, code, stderr)
		}
		if _, err := os.Stat(c); err == nil {
			t.Errorf("%s: the cache directory was created", bad)
		}
	}
	if stderr, code := runMain(t, "compose", "image", "--cachedir", filepath.Join(dir, "c3"), "--max-layers", "128", tf, "oci:"+dir+"/p"); code != 1 || !strings.Contains(stderr, "--max-layers 128") {
		t.Errorf("--max-layers 128: exit %d, stderr %q", code, stderr)
	}
	if stderr, code := runMain(t, "compose", "image", "--cachedir", filepath.Join(dir, "c2"), "--format", "plain", tf, "oci:"+dir+"/p"); code != 1 || !strings.Contains(stderr, "only ostree") {
		t.Errorf("--format plain: exit %d, stderr %q", code, stderr)
	}
}
