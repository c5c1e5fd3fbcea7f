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
		t.Logf("encapsulation %d: %s in %v, %d MB", i+1, out.ManifestDigest, time.Since(start).Round(time.Millisecond), size>>20)
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
}
