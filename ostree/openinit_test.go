package ostree

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenOrInit(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	nonEmpty := filepath.Join(base, "full")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(nonEmpty, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, wantErr string
	}{
		{filepath.Join(base, "new", "repo"), ""},
		{t.TempDir(), ""},
		{file, "not a directory"},
		{filepath.Join(file, "repo"), "not a directory"},
		{nonEmpty, "not empty and is not an OSTree repository"},
	} {
		r, err := OpenOrInit(t.Context(), tc.path, ModeBareUser)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: %v, want %q", tc.path, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		// Opening it again finds the repository, in the mode it was made with.
		if r2, err := OpenOrInit(t.Context(), tc.path, ModeArchive); err != nil || r2.Mode() != ModeBareUser || r.Mode() != ModeBareUser {
			t.Errorf("%s reopened: %v", tc.path, err)
		}
	}
	if ents, _ := os.ReadDir(nonEmpty); len(ents) != 1 {
		t.Errorf("%s was written to", nonEmpty)
	}
}
