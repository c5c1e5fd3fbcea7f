package compose

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
	"github.com/apt-ostree/apt-ostree/oci"
	"github.com/apt-ostree/apt-ostree/ostree"
)

// TestImage composes the hermetic fixture into an image and writes it to
// every transport: the commit is composed once and reused (unchanged input
// hash), every output has the same manifest digest, skopeo reads them, a
// push to a registry on 127.0.0.1 pulls back by digest with that digest,
// importing the image gives back the composed commit, and a compose in
// another directory gives the same manifest digest.
func TestImage(t *testing.T) {
	needTools(t, "dpkg", "bwrap", "ostree")
	t.Setenv("SOURCE_DATE_EPOCH", "1704067200")
	tf, _ := fixture(t, "")
	ctx := context.Background()
	dir := t.TempDir()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	pushRef := u.Host + "/apt-ostree/test:1"

	base := TreeOptions{Options: Options{Treefile: tf, CacheDir: filepath.Join(dir, "cache")}}
	dests := []string{
		"oci:" + filepath.Join(dir, "out", "layout") + ":latest",
		"oci-archive:" + filepath.Join(dir, "out", "img.tar") + ":latest",
		"docker-archive:" + filepath.Join(dir, "out", "docker.tar") + ":apt-ostree/test:1",
		"docker://" + pushRef,
	}
	var first *ImageResult
	for i, dest := range dests {
		res, err := Image(ctx, ImageOptions{TreeOptions: base, Dest: dest, Labels: []string{"x.y=z"}, Insecure: true})
		if err != nil {
			t.Fatalf("%s: %v", dest, err)
		}
		if i == 0 {
			first = res
			if !res.Tree.Changed {
				t.Errorf("first compose image: commit not composed: %+v", res.Tree)
			}
			// Without --repo the commit is kept in CACHEDIR/repo.
			if _, err := os.Stat(filepath.Join(base.CacheDir, "repo", "config")); err != nil {
				t.Errorf("no repo in the cachedir: %v", err)
			}
			continue
		}
		if res.Tree.Changed || res.Commit != first.Commit {
			t.Errorf("%s: commit %s changed=%v, want %s reused", dest, res.Commit, res.Tree.Changed, first.Commit)
		}
		if res.ManifestDigest != first.ManifestDigest {
			t.Errorf("%s: manifest digest %s, want %s", dest, res.ManifestDigest, first.ManifestDigest)
		}
	}
	// The content is chunked by package.
	if im, err := oci.Open(ctx, dests[0]); err != nil {
		t.Fatal(err)
	} else {
		var comps []string
		for _, l := range im.Manifest.Layers[1:] {
			comps = append(comps, l.Annotations[oci.ComponentsAnnotation])
		}
		im.Close()
		if !slices.Contains(comps, "world") || !slices.Contains(comps, "hello") {
			t.Errorf("chunk layers' components %q, want hello and world in layers of their own", comps)
		}
	}
	// Nothing is left in CACHEDIR/tmp.
	if ents, _ := os.ReadDir(filepath.Join(base.CacheDir, "tmp")); len(ents) != 0 {
		t.Errorf("left in cachedir/tmp: %v", ents)
	}

	if _, err := exec.LookPath("skopeo"); err == nil {
		for _, dest := range dests[:3] {
			out, err := exec.Command("skopeo", "inspect", dest).CombinedOutput()
			if err != nil {
				t.Errorf("skopeo inspect %s: %v\n%s", dest, err, out)
				continue
			}
			if !strings.Contains(string(out), `"x.y": "z"`) || !strings.Contains(string(out), first.Commit) || !strings.Contains(string(out), `"`+MetaInputHash+`": "`+first.Tree.InputHash+`"`) {
				t.Errorf("skopeo inspect %s: labels missing:\n%s", dest, out)
			}
		}
	}

	// Pull back by digest.
	dref, err := name.NewDigest(u.Host+"/apt-ostree/test@"+first.ManifestDigest, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(dref)
	if err != nil {
		t.Fatalf("pull %s: %v", dref, err)
	}
	if d, err := img.Digest(); err != nil || d.String() != first.ManifestDigest {
		t.Errorf("pulled digest %v (%v), want %s", d, err, first.ManifestDigest)
	}
	if tref, err := name.ParseReference(pushRef, name.Insecure); err != nil {
		t.Error(err)
	} else if _, err := remote.Image(tref); err != nil {
		t.Errorf("pull by tag: %v", err)
	}

	// Round trip: the image imports as the composed commit.
	for _, dest := range dests[:2] {
		im, err := oci.Open(ctx, dest)
		if err != nil {
			t.Fatal(err)
		}
		fresh, err := ostree.Init(ctx, t.TempDir(), ostree.ModeBareUser)
		if err != nil {
			t.Fatal(err)
		}
		got, err := oci.Import(ctx, im, fresh, oci.ImportOptions{})
		im.Close()
		if err != nil {
			t.Fatalf("import %s: %v", dest, err)
		}
		if got.String() != first.Commit {
			t.Errorf("import %s: commit %s, want %s", dest, got, first.Commit)
		}
	}

	// Another directory, another cache, an explicit --repo: the same image.
	dir2 := t.TempDir()
	res2, err := Image(ctx, ImageOptions{
		TreeOptions: TreeOptions{Options: Options{Treefile: tf, CacheDir: filepath.Join(dir2, "c")}, Repo: filepath.Join(dir2, "repo")},
		Dest:        "oci:" + filepath.Join(dir2, "img"),
		Labels:      []string{"x.y=z"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res2.Tree.Changed || res2.ManifestDigest != first.ManifestDigest {
		t.Errorf("compose in another directory: changed=%v digest %s, want a new compose with digest %s", res2.Tree.Changed, res2.ManifestDigest, first.ManifestDigest)
	}
}

// TestImageRefusesBadDestBeforeComposing: a destination compose image cannot
// write is refused before anything is composed.
func TestImageRefusesBadDestBeforeComposing(t *testing.T) {
	for _, tc := range []struct{ dest, want string }{
		{"containers-storage:x", "CGO_ENABLED=0"},
		{"dir:/tmp/x", "not supported"},
		{"docker:x", "docker://REGISTRY/NAME:TAG"},
		{"nocolon", "want oci:DIR"},
		{"docker-archive:", "missing path"},
	} {
		cache := t.TempDir()
		_, err := Image(context.Background(), ImageOptions{TreeOptions: TreeOptions{Options: Options{Treefile: "/nonexistent.yaml", CacheDir: cache}}, Dest: tc.dest})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.dest, err, tc.want)
		}
		if ents, _ := os.ReadDir(cache); len(ents) != 0 {
			t.Errorf("%s: wrote %v", tc.dest, ents)
		}
	}
	for _, tc := range []struct {
		opts ImageOptions
		want string
	}{
		{ImageOptions{Format: "plain"}, "only ostree"},
		{ImageOptions{Compression: "xz"}, "gzip or zstd"},
		{ImageOptions{MaxLayers: 128}, "--max-layers 128"},
		{ImageOptions{Labels: []string{"novalue"}}, "KEY=VALUE"},
		{ImageOptions{PreviousBuildManifest: "/nonexistent.json"}, "--previous-build-manifest"},
	} {
		cache := t.TempDir()
		tc.opts.TreeOptions = TreeOptions{Options: Options{Treefile: "/nonexistent.yaml", CacheDir: cache}}
		tc.opts.Dest = "oci:" + filepath.Join(cache, "img")
		_, err := Image(context.Background(), tc.opts)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error naming %q", tc.opts, err, tc.want)
		}
		if ents, _ := os.ReadDir(cache); len(ents) != 0 {
			t.Errorf("%+v: wrote %v", tc.opts, ents)
		}
	}
}

// TestImageLintFailureWritesNothing: a fatal lint finding in the image
// fails compose image and nothing is written to the destination. The
// commit was composed with that lint skipped, and compose image reuses it
// (same input hash), so only the image lint stands between it and DEST.
func TestImageLintFailureWritesNothing(t *testing.T) {
	needTools(t, "dpkg", "bwrap", "ostree")
	tf, _ := fixture(t, "")
	data, err := os.ReadFile(tf)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(data), "    echo post > /usr/share/postprocessed\n",
		"    echo post > /usr/share/postprocessed\n    mkdir -p /usr/lib/bootc/kargs.d\n    echo 'kargs = [' > /usr/lib/bootc/kargs.d/10-bad.toml\n", 1)
	if bad == string(data) {
		t.Fatal("fixture treefile changed shape")
	}
	if err := os.WriteFile(tf, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dir := t.TempDir()
	opts := TreeOptions{Options: Options{Treefile: tf, CacheDir: filepath.Join(dir, "cache")}, Repo: filepath.Join(dir, "repo")}
	skip := opts
	skip.SkipLint = []string{"bootc-kargs"}
	if _, err := Tree(ctx, skip); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "img")
	res, err := Image(ctx, ImageOptions{TreeOptions: opts, Dest: "oci:" + dest})
	if err == nil || !strings.Contains(err.Error(), "lints") {
		t.Fatalf("compose image of a tree with a bad kargs.d file: %+v, %v; want a lint failure", res, err)
	}
	if _, err := os.Stat(dest); err == nil {
		t.Errorf("%s was written", dest)
	}
	if ents, _ := os.ReadDir(filepath.Join(opts.CacheDir, "tmp")); len(ents) != 0 {
		t.Errorf("left in cachedir/tmp: %v", ents)
	}
	// Skipping the lint writes the image.
	if _, err := Image(ctx, ImageOptions{TreeOptions: skip, Dest: "oci:" + dest}); err != nil {
		t.Errorf("with --skip-lint bootc-kargs: %v", err)
	}
}

// TestImageUpdateChangesOnlyThatPackagesLayer: after a new version of one
// package, compose image into the same destination (whose image gives the
// previous chunks) changes the ostree layer and the layer holding that
// package, and no other.
func TestImageUpdateChangesOnlyThatPackagesLayer(t *testing.T) {
	needTools(t, "dpkg", "bwrap", "ostree")
	t.Setenv("SOURCE_DATE_EPOCH", "1704067200")
	tf, repo := fixture(t, "")
	ctx := context.Background()
	dir := t.TempDir()
	dest := "oci:" + filepath.Join(dir, "img") + ":latest"
	opts := ImageOptions{TreeOptions: TreeOptions{Options: Options{Treefile: tf, CacheDir: filepath.Join(dir, "cache")}}, Dest: dest}
	layers := func() map[string]string {
		t.Helper()
		im, err := oci.Open(ctx, dest)
		if err != nil {
			t.Fatal(err)
		}
		defer im.Close()
		out := map[string]string{}
		for i, l := range im.Manifest.Layers {
			k := "ostree layer"
			if i > 0 {
				k = l.Annotations[oci.ComponentsAnnotation]
			}
			out[k] = l.Digest.String()
		}
		return out
	}
	if _, err := Image(ctx, opts); err != nil {
		t.Fatal(err)
	}
	before := layers()
	if _, ok := before["world"]; !ok || len(before) < 3 {
		t.Fatalf("layers %v: want world in a chunk layer of its own", before)
	}
	repo.Add("stable", "main", testdeb.Package{
		Name:    "world",
		Version: "2.0",
		Fields:  map[string]string{"Pre-Depends": "hello", "Depends": "base-files"},
		Files: []testdeb.File{
			{Path: "usr/share/world/data", Body: "world, version 2\n"},
			{Path: "var/lib/world", Type: '5', Mode: 0o750},
		},
	})
	repo.Publish()
	res, err := Image(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Tree.Changed {
		t.Fatal("the new package version did not give a new commit")
	}
	after := layers()
	if len(after) != len(before) {
		t.Fatalf("layers %v, then %v", before, after)
	}
	for k, d := range after {
		changed := before[k] != d
		want := k == "ostree layer" || strings.Contains(","+k+",", ",world,")
		if changed != want {
			t.Errorf("layer %q: changed=%v, want %v (before %v, after %v)", k, changed, want, before, after)
		}
	}
}
