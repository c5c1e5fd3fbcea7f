package ostree

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A commit that expects the ref where it was when the tree was built fails
// when another writer moved it meanwhile, and leaves the ref alone.
func TestCommitExpectRef(t *testing.T) {
	tmp := t.TempDir()
	tree := filepath.Join(tmp, "tree")
	if err := os.MkdirAll(filepath.Join(tree, "usr"), 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := Init(t.Context(), filepath.Join(tmp, "repo"), ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	commit := func(subject string, expect bool, expected *Checksum) (Checksum, error) {
		c, _, err := r.CommitDir(t.Context(), tree, CommitOptions{Ref: "cas", WriteRef: true, OwnerUID: -1, OwnerGID: -1,
			Subject: subject, ExpectRef: expect, ExpectedRef: expected})
		return c, err
	}
	// Both writers saw no ref; the first creates it.
	first, err := commit("first", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = commit("lost race on a new ref", true, nil)
	var moved *RefMovedError
	if !errors.As(err, &moved) || moved.Found == nil || *moved.Found != first || moved.Expected != nil {
		t.Fatalf("want a RefMovedError naming %s, got %v", first, err)
	}
	// Both writers saw first; the second one to commit fails.
	second, err := commit("second", true, &first)
	if err != nil {
		t.Fatal(err)
	}
	_, err = commit("lost race", true, &first)
	if !errors.As(err, &moved) || *moved.Found != second || *moved.Expected != first ||
		!strings.Contains(err.Error(), second.String()) {
		t.Fatalf("want a RefMovedError naming %s, got %v", second, err)
	}
	if now, _ := r.ReadRef("cas"); now != second {
		t.Errorf("the failed commit moved the ref to %s", now)
	}
	if cm, err := r.ReadCommit(second); err != nil || cm.Parent == nil || *cm.Parent != first {
		t.Errorf("second's parent: %v %v", cm, err)
	}
	// Without ExpectRef, the ref moves whatever it was.
	if _, err := commit("unchecked", false, &first); err != nil {
		t.Error(err)
	}
	if err := r.DeleteRef("cas"); err != nil {
		t.Fatal(err)
	}
	if _, err := commit("ref deleted", true, &second); !errors.As(err, &moved) || moved.Found != nil {
		t.Errorf("want a RefMovedError for a deleted ref, got %v", err)
	}
}
