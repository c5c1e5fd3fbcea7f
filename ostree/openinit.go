package ostree

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// OpenOrInit opens the repository at path, or creates one in mode when
// nothing is at path or it is an empty directory. A file, or a non-empty
// directory that is not a repository, is refused before anything is
// written, so a mistyped --repo never scatters a repository into it.
func OpenOrInit(ctx context.Context, path string, mode RepoMode) (*Repo, error) {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Init(ctx, path, mode)
	case err != nil:
		return nil, fmt.Errorf("open ostree repo %s: %w", path, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("open ostree repo %s: exists and is not a directory; give a new path or an existing repository", path)
	}
	repo, err := Open(path)
	if !errors.Is(err, ErrNotRepo) {
		return repo, err
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("open ostree repo %s: %w", path, err)
	}
	if len(entries) > 0 {
		return nil, fmt.Errorf("open ostree repo %s: the directory is not empty and is not an OSTree repository; give a new path or an existing repository", path)
	}
	return Init(ctx, path, mode)
}
