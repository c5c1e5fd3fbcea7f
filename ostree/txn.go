package ostree

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/apt-ostree/apt-ostree/internal/workdir"
)

// Transaction stages objects in a private repository inside a staging
// directory of the repo (tmp/apt-ostree-staging-*/repo, same mode and
// filesystem): nothing written through Staging is visible in the repo until
// Commit moves it there. A transaction that is aborted, or whose process is
// killed, leaves nothing in objects/ (the next writer removes a dead
// process's staging directory).
type Transaction struct {
	r     *Repo
	stage *Repo
	dir   *workdir.Dir
}

// BeginTransaction starts a transaction. The caller should hold the
// writer lock until Commit or Abort, and must call Abort when it does not
// Commit.
func (r *Repo) BeginTransaction(ctx context.Context) (*Transaction, error) {
	d, err := r.newStagingDir()
	if err != nil {
		return nil, err
	}
	stage, err := Init(ctx, filepath.Join(d.Path(), "repo"), r.mode)
	if err != nil {
		d.Remove()
		return nil, fmt.Errorf("ostree repo %s: staging repository: %w", r.path, err)
	}
	stage.zlibLevel = r.zlibLevel
	return &Transaction{r: r, stage: stage, dir: d}, nil
}

// Staging is the repository the transaction's objects are written into.
func (t *Transaction) Staging() *Repo { return t.stage }

// HasObject reports whether the object is staged or already in the repo.
func (t *Transaction) HasObject(typ ObjectType, c Checksum) (bool, error) {
	if ok, err := t.stage.HasObject(typ, c); err != nil || ok {
		return ok, err
	}
	return t.r.HasObject(typ, c)
}

// Source returns the repository that holds the object: the staging
// repository when it is staged, else the repo.
func (t *Transaction) Source(typ ObjectType, c Checksum) *Repo {
	if ok, _ := t.stage.HasObject(typ, c); ok {
		return t.stage
	}
	return t.r
}

// Commit moves the staged objects into the repo: first content, dirtree
// and dirmeta objects, synced, then commitmeta and commit objects, synced,
// so that no commit is visible before what it refers to. Objects the repo
// already has are left as they are (detached metadata is replaced).
// The staging directory is removed.
func (t *Transaction) Commit(ctx context.Context) error {
	defer t.Abort()
	objs := filepath.Join(t.stage.path, "objects")
	dirs, err := os.ReadDir(objs)
	if err != nil {
		return fmt.Errorf("commit transaction into %s: %w", t.r.path, err)
	}
	var late []string // commit and commitmeta objects, as XX/name
	move := func(rel string, replace bool) error {
		dest := filepath.Join(t.r.path, "objects", rel)
		if !replace {
			if _, err := os.Lstat(dest); err == nil {
				return nil
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return os.Rename(filepath.Join(objs, rel), dest)
	}
	for _, d := range dirs {
		if !d.IsDir() || len(d.Name()) != 2 {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(objs, d.Name()))
		if err != nil {
			return fmt.Errorf("commit transaction into %s: %w", t.r.path, err)
		}
		if len(ents) == 0 {
			continue
		}
		if err := os.MkdirAll(filepath.Join(t.r.path, "objects", d.Name()), 0o775); err != nil {
			return fmt.Errorf("commit transaction into %s: %w", t.r.path, err)
		}
		for _, e := range ents {
			if err := ctx.Err(); err != nil {
				return err
			}
			rel := d.Name() + "/" + e.Name()
			if strings.HasSuffix(e.Name(), ".commit") || strings.HasSuffix(e.Name(), ".commitmeta") {
				late = append(late, rel)
				continue
			}
			if err := move(rel, false); err != nil {
				return fmt.Errorf("commit transaction into %s: %w", t.r.path, err)
			}
		}
	}
	if err := t.r.Sync(); err != nil {
		return err
	}
	// Detached metadata before its commit, as writeCommit does.
	for _, suffix := range []string{".commitmeta", ".commit"} {
		for _, rel := range late {
			if strings.HasSuffix(rel, suffix) {
				if err := move(rel, suffix == ".commitmeta"); err != nil {
					return fmt.Errorf("commit transaction into %s: %w", t.r.path, err)
				}
			}
		}
	}
	return t.r.Sync()
}

// Abort removes the staging directory and whatever is still staged.
// It may be called after Commit.
func (t *Transaction) Abort() {
	if t.dir != nil {
		t.dir.Remove()
		t.dir = nil
	}
}
