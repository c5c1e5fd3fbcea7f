package compose

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apt-ostree/apt-ostree/deb"
	"github.com/apt-ostree/apt-ostree/oci"
	"github.com/apt-ostree/apt-ostree/ostree"
)

// TestE2EChunkExample splits the composed example by package into the
// default 64 layers and reports the layers; for each package it reports
// how many bytes an update of that package alone would rewrite (its layer)
// against its Installed-Size.
func TestE2EChunkExample(t *testing.T) {
	repoPath, res := composedExample(t)
	ctx := context.Background()
	repo, err := ostree.Open(repoPath)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	chunks, err := oci.ChunkByPackage(ctx, repo, res.Ref, oci.ChunkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	chunkTime := time.Since(start)
	dir := filepath.Join(t.TempDir(), "img")
	start = time.Now()
	out, err := oci.Encapsulate(ctx, repo, res.Ref, "oci:"+dir+":latest", oci.EncapsulateOptions{Chunks: chunks})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ChunkByPackage %v, Encapsulate %v (one run, shared machine)", chunkTime.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	layers := out.Manifest.Layers
	if len(layers) > oci.DefaultMaxLayers {
		t.Errorf("%d layers, more than %d", len(layers), oci.DefaultMaxLayers)
	}
	fsys, err := repo.FS(ctx, res.Ref)
	if err != nil {
		t.Fatal(err)
	}
	db, err := deb.OpenDatabaseFS(fsys)
	if err != nil {
		t.Fatal(err)
	}
	installed := map[string]int64{}
	for _, p := range db.Packages() {
		kib, _ := strconv.ParseInt(p.Control.Get("Installed-Size"), 10, 64)
		name := p.Name
		if p.Arch != db.Arch() && p.Arch != "all" {
			name = p.ID()
		}
		installed[name] = kib << 10
	}
	seen := map[string]bool{}
	var total int64
	var within, pkgs int
	var lines []string
	for i, l := range layers {
		total += l.Size
		if i == 0 {
			lines = append(lines, fmt.Sprintf("layer 0 (ostree: commit, metadata, unowned content): %d KiB", l.Size>>10))
			continue
		}
		comps := strings.Split(l.Annotations[oci.ComponentsAnnotation], ",")
		for _, c := range comps {
			if seen[c] {
				t.Errorf("package %s in two layers", c)
			}
			seen[c] = true
			if _, ok := installed[c]; !ok {
				t.Errorf("layer %d names %s, not an installed package", i, c)
			}
			pkgs++
			if sz := installed[c]; sz > 0 && l.Size <= 2*sz {
				within++
			}
		}
		name := comps[0]
		if len(comps) > 1 {
			name = fmt.Sprintf("%d packages (%s ... %s)", len(comps), comps[0], comps[len(comps)-1])
		}
		lines = append(lines, fmt.Sprintf("layer %d: %s: %d KiB", i, name, l.Size>>10))
	}
	t.Logf("%d layers, %d MiB compressed, %d of %d installed packages in chunks; an update of %d of them rewrites at most 2x its Installed-Size\n%s",
		len(layers), total>>20, pkgs, len(installed), within, strings.Join(lines, "\n"))
	var noChunk []string
	for n := range installed {
		if !seen[n] {
			noChunk = append(noChunk, n)
		}
	}
	slices.Sort(noChunk)
	t.Logf("packages with no content object of their own (metapackages, or all files shared with a first-sorting package): %v", noChunk)

	// Same commit, previous manifest: every layer keeps its digest.
	again, err := oci.ChunkByPackage(ctx, repo, res.Ref, oci.ChunkOptions{Previous: out.Manifest})
	if err != nil {
		t.Fatal(err)
	}
	out2, err := oci.Encapsulate(ctx, repo, res.Ref, "oci:"+filepath.Join(t.TempDir(), "img")+":latest", oci.EncapsulateOptions{Chunks: again})
	if err != nil {
		t.Fatal(err)
	}
	if out2.ManifestDigest != out.ManifestDigest {
		t.Errorf("re-chunking with the previous manifest gave manifest %s, want %s", out2.ManifestDigest, out.ManifestDigest)
	}

	// An update of bash (alone in its layer) and sed (sharing one),
	// simulated by changing one file of each in a copy of the tree and
	// committing it a day later: only their layers and the ostree layer
	// change digest.
	co := filepath.Join(t.TempDir(), "co")
	run(t, "ostree", "checkout", "--force-copy", "--repo="+repoPath, res.Ref, co)
	for _, f := range []string{"usr/bin/bash", "usr/bin/sed"} {
		fh, err := os.OpenFile(filepath.Join(co, f), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.Write([]byte("\n# updated\n"))
		fh.Close()
	}
	cm, err := repo.ReadCommit(mustResolve(t, repo, res.Ref))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := repo.CommitDir(ctx, co, ostree.CommitOptions{Ref: "chunk-update", WriteRef: true, NoParent: true, Timestamp: cm.Timestamp.Add(24 * time.Hour), Metadata: cm.Metadata, OwnerUID: -1, OwnerGID: -1}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	upd, err := oci.ChunkByPackage(ctx, repo, "chunk-update", oci.ChunkOptions{Previous: out.Manifest})
	if err != nil {
		t.Fatal(err)
	}
	out3, err := oci.Encapsulate(ctx, repo, "chunk-update", "oci:"+filepath.Join(t.TempDir(), "img")+":latest", oci.EncapsulateOptions{Chunks: upd})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("update: ChunkByPackage + Encapsulate into a new directory %v", time.Since(start).Round(time.Millisecond))
	if len(out3.Manifest.Layers) != len(layers) {
		t.Fatalf("update has %d layers, first build %d", len(out3.Manifest.Layers), len(layers))
	}
	var rewritten int64
	for i, l := range out3.Manifest.Layers {
		comps := strings.Split(l.Annotations[oci.ComponentsAnnotation], ",")
		holds := i == 0 || slices.Contains(comps, "bash") || slices.Contains(comps, "sed")
		same := l.Digest == layers[i].Digest && l.Annotations[oci.ComponentsAnnotation] == layers[i].Annotations[oci.ComponentsAnnotation]
		if holds == same {
			t.Errorf("layer %d (%v): digest kept %v", i, comps, same)
		}
		if !same {
			rewritten += l.Size
			var inst int64
			for _, c := range comps {
				inst += installed[c]
			}
			t.Logf("update: layer %d (%v) changed: %d KiB; Installed-Size of its packages %d KiB", i, comps, l.Size>>10, inst>>10)
		}
	}
	t.Logf("update of bash and sed: %d KiB of layers rewritten (ostree layer included) of %d KiB; bash Installed-Size %d KiB, sed %d KiB",
		rewritten>>10, total>>10, installed["bash"]>>10, installed["sed"]>>10)
}

func mustResolve(t *testing.T, repo *ostree.Repo, rev string) ostree.Checksum {
	t.Helper()
	c, err := repo.ResolveRev(rev)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
