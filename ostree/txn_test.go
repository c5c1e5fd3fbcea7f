package ostree

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTransaction(t *testing.T) {
	for _, mode := range []RepoMode{ModeArchive, ModeBareUser} {
		t.Run(mode.String(), func(t *testing.T) {
			r, err := Init(t.Context(), t.TempDir(), mode)
			if err != nil {
				t.Fatal(err)
			}
			write := func(tx *Transaction) (file, commit Checksum) {
				t.Helper()
				s := tx.Staging()
				h := &FileHeader{Mode: 0o100644, Size: 5}
				file, _, err := s.WriteContent(t.Context(), h, bytes.NewReader([]byte("hello")))
				if err != nil {
					t.Fatal(err)
				}
				meta, _ := (&DirMeta{Mode: 0o40755}).MarshalBinary()
				mc, _, err := s.WriteObject(t.Context(), ObjectDirMeta, meta)
				if err != nil {
					t.Fatal(err)
				}
				tree, _ := (&DirTree{Files: []DirTreeFile{{Name: "f", Checksum: file}}}).MarshalBinary()
				tc, _, err := s.WriteObject(t.Context(), ObjectDirTree, tree)
				if err != nil {
					t.Fatal(err)
				}
				commit, err = s.WriteCommit(t.Context(), &Commit{Timestamp: time.Unix(1, 0), RootTree: tc, RootMeta: mc})
				if err != nil {
					t.Fatal(err)
				}
				if ok, _ := tx.HasObject(ObjectFile, file); !ok {
					t.Fatal("staged object not seen by HasObject")
				}
				if ok, _ := r.HasObject(ObjectFile, file); ok {
					t.Fatal("staged object visible in the repo before Commit")
				}
				return file, commit
			}
			tx, err := r.BeginTransaction(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			write(tx)
			tx.Abort()
			filepath.WalkDir(r.Path(), func(p string, e fs.DirEntry, err error) error {
				if err == nil && !e.IsDir() && p != filepath.Join(r.Path(), "config") {
					t.Errorf("aborted transaction left %s", p)
				}
				return nil
			})

			tx, err = r.BeginTransaction(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			file, commit := write(tx)
			if err := tx.Commit(t.Context()); err != nil {
				t.Fatal(err)
			}
			if tx.Source(ObjectFile, file) != r {
				t.Fatal("Source after Commit is not the repo")
			}
			fsys, err := r.FS(t.Context(), commit.String())
			if err != nil {
				t.Fatal(err)
			}
			if b, err := fs.ReadFile(fsys, "f"); err != nil || string(b) != "hello" {
				t.Fatalf("f = %q, %v", b, err)
			}
			ents, _ := os.ReadDir(filepath.Join(r.Path(), "tmp"))
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), stagingPrefix) {
					t.Errorf("Commit left staging directory %s", e.Name())
				}
			}
		})
	}
}
