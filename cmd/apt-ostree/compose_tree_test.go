package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
	"github.com/apt-ostree/apt-ostree/internal/testrepo"
)

// composeFixture publishes a signed repository on 127.0.0.1 with a base
// package (the host's dpkg and shell) and one package with a postinst,
// and writes a treefile that installs it.
func composeFixture(t *testing.T) (treefile string) {
	t.Helper()
	base, err := testdeb.HostBase()
	if err != nil {
		t.Fatal(err)
	}
	repo := testrepo.New(t)
	repo.Add("stable", "main", base, testdeb.Package{
		Name:    "hello",
		Version: "2.0-1",
		Fields:  map[string]string{"Depends": "base-files"},
		Files:   []testdeb.File{{Path: "usr/bin/hello", Mode: 0o755, Body: "#!/bin/sh\necho hello\n"}},
		Scripts: map[string]string{"postinst": "#!/bin/sh\necho configured > /etc/hello-configured\n"},
	})
	repo.Publish()
	treefile = filepath.Join(t.TempDir(), "hello.yaml")
	tf := "ref: test/hello\ncontainer: true\nrepos:\n  - url: " + repo.URL() + "\n    suites: [stable]\n    signed-by: " + repo.KeyringPath() + "\npackages: [hello]\n"
	if err := os.WriteFile(treefile, []byte(tf), 0o644); err != nil {
		t.Fatal(err)
	}
	return treefile
}

func TestComposeTreeDryRunPrintOnlyLockfile(t *testing.T) {
	tf := composeFixture(t)
	cache := t.TempDir()
	lock := filepath.Join(t.TempDir(), "lock.json")
	out, err := runCLI(t, "compose", "tree", "--dry-run", "--json", "--cachedir", cache, "--ex-write-lockfile-to", lock, tf)
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	var pkgs []struct{ Name, Version string }
	if err := json.Unmarshal([]byte(out), &pkgs); err != nil {
		t.Fatalf("dry run --json: %v\n%s", err, out)
	}
	if len(pkgs) != 2 || pkgs[1].Name != "hello" || pkgs[1].Version != "2.0-1" {
		t.Errorf("resolved %+v", pkgs)
	}
	data, err := os.ReadFile(lock)
	if err != nil || !strings.Contains(string(data), `"evra": "2.0-1.amd64"`) {
		t.Errorf("lockfile: %v\n%s", err, data)
	}
	// The lockfile is accepted back, and the table form names the repo.
	out, err = runCLI(t, "compose", "tree", "--dry-run", "--cachedir", cache, "--ex-lockfile", lock, tf)
	if err != nil || !strings.Contains(out, "hello") || !strings.Contains(out, "2 packages") {
		t.Errorf("dry run with lockfile: %v\n%s", err, out)
	}
	out, err = runCLI(t, "compose", "tree", "--print-only", tf)
	if err != nil || !strings.Contains(out, `"ref": "test/hello"`) {
		t.Errorf("--print-only: %v\n%s", err, out)
	}
	if _, err := runCLI(t, "compose", "tree", "--cachedir", cache, tf); err == nil || !strings.Contains(err.Error(), "--repo") {
		t.Errorf("compose tree without --repo: %v", err)
	}
}

func TestComposeTreeUnchangedExit77(t *testing.T) {
	for _, tool := range []string{"bwrap", "dpkg", "ostree"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not installed", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
	tf := composeFixture(t)
	dir := t.TempDir()
	args := []string{"compose", "tree", "--repo", filepath.Join(dir, "repo"), "--cachedir", filepath.Join(dir, "cache"), "--unchanged-exit-77", "--touch-if-changed", filepath.Join(dir, "changed"), tf}
	out, err := runCLI(t, args...)
	if err != nil || !strings.Contains(out, "Wrote commit: ") {
		t.Fatalf("first compose: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "changed")); err != nil {
		t.Errorf("--touch-if-changed: %v", err)
	}
	os.Remove(filepath.Join(dir, "changed"))
	out, err = runCLI(t, args...)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 77 || !strings.Contains(out, "No apparent changes since previous commit") {
		t.Errorf("unchanged compose: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "changed")); err == nil {
		t.Error("--touch-if-changed touched the file although nothing changed")
	}
	if out, err := exec.Command("ostree", "fsck", "--repo="+filepath.Join(dir, "repo")).CombinedOutput(); err != nil {
		t.Errorf("ostree fsck: %v\n%s", err, out)
	}
}

// Issue 10, defect 7: compose tree used to replace a malformed
// SOURCE_DATE_EPOCH with the current time and commit.
func TestComposeTreeRefusesBadSourceDateEpoch(t *testing.T) {
	tf := composeFixture(t)
	for _, v := range []string{"tomorrow", "1767225600000"} {
		t.Setenv("SOURCE_DATE_EPOCH", v)
		dir := t.TempDir()
		repo := filepath.Join(dir, "repo")
		out, err := runCLI(t, "compose", "tree", "--repo", repo, "--cachedir", filepath.Join(dir, "cache"), tf)
		if err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
			t.Errorf("SOURCE_DATE_EPOCH=%s: %v\n%s", v, err, out)
		}
		if _, err := os.Stat(repo); err == nil {
			t.Errorf("SOURCE_DATE_EPOCH=%s: a repository was created", v)
		}
	}
}
