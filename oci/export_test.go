package oci

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		ref  string
		want Target
		err  string
	}{
		{ref: "oci:/a/b:t", want: Target{Transport: "oci", Path: "/a/b", Tag: "t"}},
		{ref: "oci-archive:x.tar", want: Target{Transport: "oci-archive", Path: "x.tar"}},
		{ref: "docker-archive:/x.tar:reg.example/a/b:1", want: Target{Transport: "docker-archive", Path: "/x.tar", Tag: "reg.example/a/b:1"}},
		{ref: "docker-archive:/x.tar", want: Target{Transport: "docker-archive", Path: "/x.tar"}},
		{ref: "docker://127.0.0.1:5000/a/b:1", want: Target{Transport: "docker", Ref: "127.0.0.1:5000/a/b:1"}},
		{ref: "docker:127.0.0.1/a", err: "docker://REGISTRY/NAME:TAG"},
		{ref: "docker://", err: "docker://REGISTRY/NAME:TAG"},
		{ref: "docker://UPPER/x", err: "image destination"},
		{ref: "docker-archive:/x.tar:BAD REF", err: "invalid image reference"},
		{ref: "containers-storage:x", err: "CGO_ENABLED=0"},
		{ref: "dir:/x", err: "not supported"},
		{ref: "x", err: "want oci:DIR"},
	} {
		got, err := ParseTarget(tc.ref)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrTarget) {
				t.Errorf("%s: %v, want an ErrTarget naming %q", tc.ref, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.ref, got, err, tc.want)
		}
		if err == nil && got.String() != tc.ref {
			t.Errorf("%s: String() %s", tc.ref, got.String())
		}
	}
}

// basicAuth answers 401 with a Basic challenge unless the request carries
// user:secret.
func basicAuth(h http.Handler) http.Handler {
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:secret"))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != want {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// TestExport copies an encapsulated layout to every transport: oci:
// keeps other tags, docker-archive: loads with go-containerregistry's
// tarball reader (and skopeo) with the same config, and docker:// pushes
// with the --authfile credentials (refused without them) and pulls back by
// digest with the same digest.
func TestExport(t *testing.T) {
	repo, _ := testCommit(t)
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	enc := encapsulate(t, repo, "oci:"+src, EncapsulateOptions{})
	want := enc.ManifestDigest

	export := func(dest string, opts ExportOptions) error {
		t.Helper()
		tg, err := ParseTarget(dest)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Export(ctx, src, tg, opts)
		if err == nil && got != want {
			t.Errorf("%s: digest %s, want %s", dest, got, want)
		}
		return err
	}
	// oci: a second tag in the same layout keeps the first.
	layout := filepath.Join(dir, "out", "layout")
	for _, tag := range []string{"a", "b"} {
		if err := export("oci:"+layout+":"+tag, ExportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ref := range []string{"oci:" + layout + ":a", "oci:" + layout + ":b"} {
		img, err := Open(ctx, ref)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if img.ManifestDigest != want {
			t.Errorf("%s: %s, want %s", ref, img.ManifestDigest, want)
		}
		img.Close()
	}
	if err := export("oci-archive:"+filepath.Join(dir, "out", "img.tar"), ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if img, err := Open(ctx, "oci-archive:"+filepath.Join(dir, "out", "img.tar")); err != nil || img.ManifestDigest != want {
		t.Errorf("oci-archive: %v", err)
	} else {
		img.Close()
	}

	// docker-archive:
	darchive := filepath.Join(dir, "out", "docker.tar")
	if err := export("docker-archive:"+darchive+":test/img:1", ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("test/img:1")
	dimg, err := tarball.ImageFromPath(darchive, &tag)
	if err != nil {
		t.Fatalf("read docker-archive: %v", err)
	}
	cfgName, err := dimg.ConfigName()
	if err != nil || cfgName != enc.Manifest.Config.Digest {
		t.Errorf("docker-archive config %s (%v), want %s", cfgName, err, enc.Manifest.Config.Digest)
	}
	if _, err := exec.LookPath("skopeo"); err == nil {
		if out, err := exec.Command("skopeo", "inspect", "docker-archive:"+darchive).CombinedOutput(); err != nil || !strings.Contains(string(out), "ostree.commit") {
			t.Errorf("skopeo inspect docker-archive: %v\n%s", err, out)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "out")); len(ents) != 3 {
		t.Errorf("in the output directory: %v, want layout, img.tar, docker.tar", ents)
	}

	// docker:// with credentials from --authfile.
	srv := httptest.NewServer(basicAuth(registry.New(registry.Logger(log.New(io.Discard, "", 0)))))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	dest := "docker://" + u.Host + "/test/img:1"
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	if err := export(dest, ExportOptions{Insecure: true}); err == nil {
		t.Error("push without credentials to a registry that wants them: no error")
	}
	authfile := filepath.Join(dir, "auth.json")
	auth := `{"auths": {"` + u.Host + `": {"auth": "` + base64.StdEncoding.EncodeToString([]byte("user:secret")) + `"}}}`
	if err := os.WriteFile(authfile, []byte(auth), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := export(dest, ExportOptions{Insecure: true, AuthFile: authfile}); err != nil {
		t.Fatalf("push with --authfile: %v", err)
	}
	dref, err := name.NewDigest(u.Host+"/test/img@"+want.String(), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Image(dref, remote.WithAuth(&authn.Basic{Username: "user", Password: "secret"}))
	if err != nil {
		t.Fatalf("pull by digest: %v", err)
	}
	if d, err := pulled.Digest(); err != nil || d != want {
		t.Errorf("pulled %s (%v), want %s", d, err, want)
	}
	// PreviousManifest finds what was written, and nil where nothing was.
	for _, tc := range []struct {
		dest  string
		found bool
	}{
		{dest, true},
		{"docker://" + u.Host + "/test/other:1", false},
		{"oci:" + layout + ":a", true},
		{"oci:" + filepath.Join(dir, "none"), false},
		{"oci-archive:" + filepath.Join(dir, "out", "img.tar"), true},
	} {
		tg, _ := ParseTarget(tc.dest)
		m, err := PreviousManifest(ctx, tg, ExportOptions{Insecure: true, AuthFile: authfile})
		if err != nil || (m != nil) != tc.found || (m != nil && m.Config.Digest != enc.Manifest.Config.Digest) {
			t.Errorf("PreviousManifest(%s): %v, %v; want found=%v", tc.dest, m, err, tc.found)
		}
	}
	if err := os.WriteFile(authfile, []byte(`{"auths": {"x": {"auth": "%%%"}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := export(dest, ExportOptions{Insecure: true, AuthFile: authfile}); err == nil || !strings.Contains(err.Error(), "base64") {
		t.Errorf("bad authfile: %v", err)
	}
}
