package compose

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apt-ostree/apt-ostree/ostree"
)

func commitSource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hello"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestCommit(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600")
	src := commitSource(t)
	repoDir := filepath.Join(t.TempDir(), "repo")
	meta := filepath.Join(t.TempDir(), "meta.json")
	if err := os.WriteFile(meta, []byte(`{"a": "from-json", "b": ["x", "y"], "n": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(t.TempDir(), "commitid")
	res, err := Commit(t.Context(), CommitOptions{Dir: src, Repo: repoDir, Branch: "test/x", OwnerUID: -1, OwnerGID: -1,
		AddMetadata: []string{"a=from-string", "c=d=e"}, AddMetadataJSON: meta, WriteCommitIDTo: idFile})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(idFile); string(got) != res.Commit+"\n" {
		t.Errorf("--write-commitid-to wrote %q, want %q", got, res.Commit+"\n")
	}
	repo, err := ostree.Open(repoDir)
	if err != nil {
		t.Fatal(err)
	}
	c, err := repo.ResolveRev("test/x")
	if err != nil || c.String() != res.Commit {
		t.Fatalf("ref test/x: %v %v, want %s", c, err, res.Commit)
	}
	commit, err := repo.ReadCommit(c)
	if err != nil {
		t.Fatal(err)
	}
	if !commit.Timestamp.Equal(time.Unix(1767225600, 0)) {
		t.Errorf("timestamp %v, want SOURCE_DATE_EPOCH", commit.Timestamp)
	}
	if commit.Metadata["a"] != "from-string" || commit.Metadata["c"] != "d=e" || commit.Metadata["n"] != int64(3) {
		t.Errorf("metadata %v", commit.Metadata)
	}
	if _, err := Commit(t.Context(), CommitOptions{Dir: src, Repo: repoDir, Branch: "test/x", AddMetadata: []string{"novalue"}}); err == nil || !strings.Contains(err.Error(), "KEY=VALUE") {
		t.Errorf("bad --add-metadata-string: %v", err)
	}
}

// Issue 10, defect 7: compose commit accepted milliseconds and wrote a
// commit that ostree cannot show ("Invalid timestamp").
func TestCommitRefusesOutOfRangeSourceDateEpoch(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1767225600000")
	repoDir := filepath.Join(t.TempDir(), "repo")
	_, err := Commit(t.Context(), CommitOptions{Dir: commitSource(t), Repo: repoDir, Branch: "test/x", OwnerUID: -1, OwnerGID: -1})
	if err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Fatalf("got %v, want an error naming SOURCE_DATE_EPOCH", err)
	}
	if _, err := os.Stat(repoDir); err == nil {
		t.Errorf("a repository was created at %s", repoDir)
	}
}

// Issue 10, defect 10: compose commit --repo wrote a repository into a
// non-empty directory that was not one, and into a file's path.
func TestCommitRefusesRepoPathThatIsNotARepo(t *testing.T) {
	src := commitSource(t)
	nonEmpty := t.TempDir()
	if err := os.WriteFile(filepath.Join(nonEmpty, "precious"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct{ repo, want string }{
		"non-empty directory": {nonEmpty, "not empty and is not an OSTree repository"},
		"file":                {file, "not a directory"},
		"below a file":        {filepath.Join(file, "repo"), "not a directory"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Commit(t.Context(), CommitOptions{Dir: src, Repo: tc.repo, Branch: "test/x", OwnerUID: -1, OwnerGID: -1})
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.repo) {
				t.Fatalf("got %v, want an error naming %s and saying %q", err, tc.repo, tc.want)
			}
		})
	}
	ents, _ := os.ReadDir(nonEmpty)
	if len(ents) != 1 {
		t.Errorf("the non-empty directory was written to: %v", ents)
	}
	if data, _ := os.ReadFile(file); string(data) != "data" {
		t.Errorf("the file was changed")
	}
	// An empty directory and an existing repository are fine.
	empty := t.TempDir()
	for range 2 {
		if _, err := Commit(t.Context(), CommitOptions{Dir: src, Repo: empty, Branch: "test/x", OwnerUID: -1, OwnerGID: -1}); err != nil {
			t.Fatal(err)
		}
	}
}
