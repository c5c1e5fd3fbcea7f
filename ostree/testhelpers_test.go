package ostree

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
)

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// archiveRepoWith makes an archive repo holding one raw .filez object.
func archiveRepoWith(t *testing.T, c Checksum, filez []byte) *Repo {
	t.Helper()
	r, err := Init(t.Context(), t.TempDir(), ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	p := r.objectPath(ObjectFile, c)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, filez, 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}
