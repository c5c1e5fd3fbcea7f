package ostree

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/apt-ostree/apt-ostree/internal/workdir"
)

// stagingPrefix names the directories under tmp/ that hold a writer's temp
// files. Every temp file of a write is made in one, never loose in tmp/,
// so that whatever a killed writer leaves is inside a staging directory
// that the next writer removes.
const stagingPrefix = "apt-ostree-staging-"

// testHookTemp, when set by a test, is called with each temp file's path
// right after it is created.
var testHookTemp func(path string)

func createTemp(dir, pattern string) (*os.File, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err == nil && testHookTemp != nil {
		testHookTemp(f.Name())
	}
	return f, err
}

// newStagingDir makes a staging directory under tmp/, owned by this
// process, after removing those whose writer is no longer running.
func (r *Repo) newStagingDir() (*workdir.Dir, error) {
	tmp := filepath.Join(r.path, "tmp")
	if err := os.MkdirAll(tmp, 0o775); err != nil {
		return nil, fmt.Errorf("ostree repo %s: %w", r.path, err)
	}
	if err := workdir.RemoveStale(tmp, stagingPrefix+"*", workdir.CleanOptions{Unmarked: true}); err != nil {
		return nil, fmt.Errorf("ostree repo %s: %w", r.path, err)
	}
	d, err := workdir.Create(tmp, stagingPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("ostree repo %s: %w", r.path, err)
	}
	return d, nil
}

// sharedStaging returns the staging directory of the writes made outside
// CommitDir. It lives as long as the process: the next writer after that
// removes it.
func (r *Repo) sharedStaging() (string, error) {
	r.stagingMu.Lock()
	defer r.stagingMu.Unlock()
	if r.staging == nil {
		d, err := r.newStagingDir()
		if err != nil {
			return "", err
		}
		r.staging = d
	}
	return r.staging.Path(), nil
}

// removeLooseTemp removes the temp files that versions before staging
// directories wrote straight into tmp/ and a killed writer left there.
// The caller holds the writer lock.
func (r *Repo) removeLooseTemp() {
	tmp := filepath.Join(r.path, "tmp")
	ents, err := os.ReadDir(tmp)
	if err != nil {
		return
	}
	for _, e := range ents {
		if n := e.Name(); !e.IsDir() && (strings.HasPrefix(n, "tmpobject-") || strings.HasPrefix(n, "obj-")) {
			if os.Remove(filepath.Join(tmp, n)) == nil {
				slog.Info("removed a temp file left by an earlier writer that was killed", "repo", r.path, "file", n)
			}
		}
	}
}
