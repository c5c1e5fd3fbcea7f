package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// TestMain lets the test binary run as apt-ostree itself, so tests can
// check exit statuses.
func TestMain(m *testing.M) {
	if os.Getenv("APT_OSTREE_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runMain runs apt-ostree in a child process and returns its stderr and
// exit status.
func runMain(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "APT_OSTREE_TEST_RUN_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return stderr.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return stderr.String(), 0
}

// Issue 10, defect 12: unknown subcommands (and other usage errors) exit 2.
func TestUsageErrorsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"compose", "bogus"}, {"container", "bogus"}, {"bogus"}, {"completion", "bogus"},
		{"lint", "--no-such-flag"}, {"compose", "tree"}, {"compose", "commit", "dir"},
		{"lint", "--rootfs", "/", "oci:/x"}, {"lint", "--skip", "no-such-lint"},
	} {
		stderr, code := runMain(t, args...)
		if code != 2 || !strings.Contains(stderr, "error:") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and an error", args, code, stderr)
		}
	}
	for _, args := range [][]string{{"compose"}, {"--help"}, {"compose", "--help"}} {
		if stderr, code := runMain(t, args...); code != 0 {
			t.Errorf("%v: exit %d, stderr %q; want help and exit 0", args, code, stderr)
		}
	}
}

// Issue 10, defect 12: --list --json prints JSON.
func TestLintListJSON(t *testing.T) {
	out, err := runCLI(t, "lint", "--list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var lints []struct {
		Name, Type, Description string
		RootType                string `json:"root-type"`
	}
	if err := json.Unmarshal([]byte(out), &lints); err != nil {
		t.Fatalf("--list --json is not JSON: %v\n%s", err, out)
	}
	if len(lints) < 14 || lints[0].Name != "var-run" || lints[0].Type != "fatal" || lints[1].RootType != "Alternative" {
		t.Errorf("--list --json = %+v", lints)
	}
}

// writeImage writes an OCI layout of img and returns its directory.
func writeImage(t *testing.T, img v1.Image) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Issue 10, defects 8 and 12: a replaced layer blob, a layer that is not
// what its media type says and an archive that is not a tar are refused
// with errors naming them and what was expected.
func TestLintRefusesBadImages(t *testing.T) {
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	dir := writeImage(t, img)
	layers, _ := img.Layers()
	victim, _ := layers[1].Digest()
	other, _ := random.Layer(2048, types.OCILayer)
	rc, _ := other.Compressed()
	var replacement bytes.Buffer
	replacement.ReadFrom(rc)
	if err := os.WriteFile(filepath.Join(dir, "blobs", victim.Algorithm, victim.Hex), replacement.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	var plain bytes.Buffer
	tw := tar.NewWriter(&plain)
	tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.Close()
	notGzip, err := mutate.AppendLayers(empty.Image, static.NewLayer(plain.Bytes(), types.OCILayer))
	if err != nil {
		t.Fatal(err)
	}
	notGzipDir := writeImage(t, notGzip)
	notGzipLayers, _ := notGzip.Layers()
	notGzipDigest, _ := notGzipLayers[0].Digest()

	junk := filepath.Join(t.TempDir(), "image.tar")
	if err := os.WriteFile(junk, bytes.Repeat([]byte("junk"), 300), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref  string
		want []string
	}{
		{"oci:" + dir, []string{"digest mismatch", "blob " + victim.String(), "want " + victim.String()}},
		{"oci:" + notGzipDir, []string{notGzipDigest.String(), "wants gzip data"}},
		{"oci-archive:" + junk, []string{junk, "not a tar archive"}},
	} {
		out, err := runCLI(t, "lint", tc.ref)
		if err == nil {
			t.Errorf("%s: linted:\n%s", tc.ref, out)
			continue
		}
		t.Logf("%s: %v", tc.ref, err)
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.ref, err, w)
			}
		}
	}
}
