package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Regression tests for issue 10 defects 7 and 10 through the command line.
func TestComposeCommitRefuses(t *testing.T) {
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "precious"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, epoch, repo, want string
	}{
		{"milliseconds", "1767225600000", filepath.Join(t.TempDir(), "repo"), "SOURCE_DATE_EPOCH"},
		{"malformed epoch", "soon", filepath.Join(t.TempDir(), "repo"), "SOURCE_DATE_EPOCH"},
		{"non-empty directory", "", nonEmpty, "is not an OSTree repository"},
		{"file", "", file, "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tc.epoch)
			out, err := runCLI(t, "compose", "commit", "--repo", tc.repo, "--branch", "x", src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v (output %q), want an error containing %q", err, out, tc.want)
			}
		})
	}
	if ents, _ := os.ReadDir(nonEmpty); len(ents) != 1 {
		t.Errorf("the non-empty directory was written to: %d entries", len(ents))
	}
}
