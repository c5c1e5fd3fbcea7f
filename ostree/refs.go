package ostree

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

var refNameRE = regexp.MustCompile(`^(?:[\w\d][-._\w\d]*/)*[\w\d][-._\w\d]*$`)

// ValidateRef reports whether name is a valid ref name such as "debian/13/x86_64/base".
func ValidateRef(name string) error {
	if !refNameRE.MatchString(name) {
		return fmt.Errorf("invalid ref name %q: use letters, digits, '-', '.', '_' and '/' separators", name)
	}
	return nil
}

// refPath maps "remote:ref" and "ref" to files under refs/.
func (r *Repo) refPath(ref string) (string, error) {
	remote, name, hasRemote := strings.Cut(ref, ":")
	if !hasRemote {
		name, remote = remote, ""
	}
	if err := ValidateRef(name); err != nil {
		return "", err
	}
	if hasRemote {
		if err := ValidateRef(remote); err != nil || strings.Contains(remote, "/") {
			return "", fmt.Errorf("invalid remote name in %q", ref)
		}
		return filepath.Join(r.path, "refs", "remotes", remote, name), nil
	}
	return filepath.Join(r.path, "refs", "heads", name), nil
}

// ReadRef returns the commit a ref points at; the error wraps fs.ErrNotExist
// when the ref does not exist.
func (r *Repo) ReadRef(ref string) (Checksum, error) {
	p, err := r.refPath(ref)
	if err != nil {
		return Checksum{}, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return Checksum{}, fmt.Errorf("read ref %q in %s: %w", ref, r.path, err)
	}
	c, err := ParseChecksum(strings.TrimSpace(string(data)))
	if err != nil {
		return Checksum{}, fmt.Errorf("read ref %q in %s: %w", ref, r.path, err)
	}
	return c, nil
}

// ResolveRev resolves a 64-hex checksum, a ref, "remote:ref", or any of
// those followed by one or more '^' (parent).
func (r *Repo) ResolveRev(rev string) (Checksum, error) {
	base := strings.TrimRight(rev, "^")
	var c Checksum
	var err error
	if len(base) == 64 && strings.Trim(base, "0123456789abcdef") == "" {
		c, err = ParseChecksum(base)
	} else {
		c, err = r.ReadRef(base)
	}
	if err != nil {
		return c, err
	}
	for range len(rev) - len(base) {
		cm, err := r.ReadCommit(c)
		if err != nil {
			return c, err
		}
		if cm.Parent == nil {
			return c, fmt.Errorf("resolve %q: commit %s has no parent", rev, c)
		}
		c = *cm.Parent
	}
	return c, nil
}

// SetRef points ref at commit atomically and durably. The commit must exist.
func (r *Repo) SetRef(ctx context.Context, ref string, commit Checksum) error {
	tmpDir, err := r.sharedStaging()
	if err != nil {
		return err
	}
	return r.setRef(ctx, tmpDir, ref, commit)
}

func (r *Repo) setRef(ctx context.Context, tmpDir, ref string, commit Checksum) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := r.refPath(ref)
	if err != nil {
		return err
	}
	if ok, err := r.HasObject(ObjectCommit, commit); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("set ref %q: commit %s is not in %s", ref, commit, r.path)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o775); err != nil {
		return fmt.Errorf("set ref %q in %s: %w", ref, r.path, err)
	}
	if err := writeFileAtomic(tmpDir, p, []byte(commit.String()+"\n"), 0o644); err != nil {
		return fmt.Errorf("set ref %q in %s: %w", ref, r.path, err)
	}
	return nil
}

// DeleteRef removes a local ref; a missing ref is not an error.
func (r *Repo) DeleteRef(ref string) error {
	p, err := r.refPath(ref)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete ref %q in %s: %w", ref, r.path, err)
	}
	return nil
}

// ListRefs returns the local refs (refs/heads) and their commits.
func (r *Repo) ListRefs() (map[string]Checksum, error) {
	out := map[string]Checksum{}
	root := filepath.Join(r.path, "refs", "heads")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return err
		}
		name, _ := filepath.Rel(root, p)
		name = filepath.ToSlash(name)
		c, err := r.ReadRef(name)
		if err != nil {
			return err
		}
		out[name] = c
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list refs in %s: %w", r.path, err)
	}
	return out, nil
}
