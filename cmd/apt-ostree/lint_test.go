package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// bootcTree writes a minimal bootc-shaped Debian root that passes every lint.
func bootcTree(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "var", "boot", "sysroot"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"usr/lib/ostree/prepare-root.conf":            "[composefs]\nenabled = yes\n",
		"usr/lib/modules/6.1.0-1-amd64/vmlinuz":       "k",
		"usr/lib/modules/6.1.0-1-amd64/initramfs.img": "i",
		"etc/passwd":                     "root:x:0:0:root:/root:/bin/bash\n",
		"usr/lib/tmpfiles.d/var.conf":    "L /var/run - - - - ../run\n",
		"etc/group":                      "root:x:0:\n",
		"usr/lib/sysusers.d/basic.conf":  "u root 0 \"Super User\" /root\n",
		"usr/share/dpkg/database/status": "Package: base-files\nStatus: install ok installed\n",
	}
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("sysroot/ostree", filepath.Join(root, "ostree")); err != nil {
		t.Fatal(err)
	}
	return root
}

// runCLI runs apt-ostree with args and returns stdout and the error.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	global = globalFlags{}
	t.Cleanup(func() { global = globalFlags{} })
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestLintCommand(t *testing.T) {
	good := bootcTree(t)
	bad := bootcTree(t)
	// A fatal failure (var-run) and a warning (nonempty-boot).
	if err := os.MkdirAll(filepath.Join(bad, "var/run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "boot/vmlinuz"), []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args    []string
		wantOut string
		wantErr string
	}{
		{[]string{"lint", "--rootfs", good}, "Checks passed: 23\n", ""},
		{[]string{"container", "lint", "--rootfs", good}, "Checks passed: 23\n", ""},
		{[]string{"lint", "--rootfs", bad}, "Lint warning: nonempty-boot: Found non-empty /boot:\n  vmlinuz\n\nFailed lint: var-run: Not a symlink: var/run\nChecks passed: 21\nWarnings: 1\n", "Linting: Checks failed: 1"},
		{[]string{"lint", "--rootfs", bad, "--fatal-warnings"}, "", "Linting: Checks failed: 2"},
		{[]string{"lint", "--rootfs", bad, "--skip", "var-run"}, "Lint warning: nonempty-boot: Found non-empty /boot:\n  vmlinuz\n\nChecks passed: 21\nChecks skipped: 1\nWarnings: 1\n", ""},
		{[]string{"lint", "--rootfs", bad, "--skip", "var-run", "--skip", "nonempty-boot", "--fatal-warnings"}, "Checks passed: 21\nChecks skipped: 2\n", ""},
		{[]string{"lint", "--rootfs", bad, "--skip", "no-such-lint"}, "", `unknown lint "no-such-lint"; valid lints are: api-base-directories,`},
		{[]string{"lint", "--rootfs", good, "oci:/x"}, "", "give only one of"},
		{[]string{"lint", good}, "", "is not an image reference"},
	}
	for _, tc := range cases {
		out, err := runCLI(t, tc.args...)
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.wantErr)
		}
		if tc.wantOut != "" && out != tc.wantOut {
			t.Errorf("%v: output\n%s\nwant\n%s", tc.args, out, tc.wantOut)
		}
	}
}

func TestLintJSONAndList(t *testing.T) {
	out, err := runCLI(t, "--json", "lint", "--rootfs", bootcTree(t))
	if err != nil {
		t.Fatal(err)
	}
	var results []struct {
		Name    string   `json:"name"`
		Type    string   `json:"type"`
		Passed  bool     `json:"passed"`
		Skipped bool     `json:"skipped"`
		Message []string `json:"message"`
	}
	if err := json.Unmarshal([]byte(out), &results); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(results) != 23 || results[len(results)-1].Name != "utf8" || !results[0].Passed || results[0].Type != "fatal" {
		t.Errorf("json results = %+v", results)
	}
	out, err = runCLI(t, "lint", "--list")
	if err != nil || !strings.Contains(out, "- name: var-tmpfiles\n  type: warning\n") {
		t.Errorf("--list: %v\n%s", err, out)
	}
}

func TestLintOSTreeCommit(t *testing.T) {
	if _, err := exec.LookPath("ostree"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ostree is required in CI")
		}
		t.Skip("ostree not installed")
	}
	tree := bootcTree(t)
	if err := os.WriteFile(filepath.Join(tree, "boot/vmlinuz"), []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(t.TempDir(), "repo")
	for _, args := range [][]string{
		{"init", "--repo", repo, "--mode", "bare-user"},
		{"commit", "--repo", repo, "-b", "test/ref", "--tree=dir=" + tree},
	} {
		if out, err := exec.Command("ostree", args...).CombinedOutput(); err != nil {
			t.Fatalf("ostree %v: %v\n%s", args, err, out)
		}
	}
	out, err := runCLI(t, "lint", "--repo", repo, "test/ref")
	if err != nil {
		t.Fatal(err)
	}
	want := "Lint warning: nonempty-boot: Found non-empty /boot:\n  vmlinuz\n\nChecks passed: 22\nWarnings: 1\n"
	if out != want {
		t.Errorf("output\n%s\nwant\n%s", out, want)
	}
}
