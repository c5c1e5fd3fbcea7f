package compose

import (
	"context"
	"errors"
	"fmt"

	"github.com/apt-ostree/apt-ostree/internal/atomicfile"
	"github.com/apt-ostree/apt-ostree/ostree"
)

// CommitOptions are compose commit's settings: commit a directory as it
// is, as rpm-ostree compose commit does.
type CommitOptions struct {
	// Dir is the directory to commit.
	Dir string
	// Repo is the repository; one is created in Mode when nothing is there.
	Repo string
	// Mode is the mode of a new repository: archive (default), bare-user or bare.
	Mode string
	// Branch is the ref to commit to.
	Branch string
	// Parent overrides the parent commit; NoParent makes a root commit.
	Parent   string
	NoParent bool
	Subject  string
	Body     string
	// OwnerUID and OwnerGID, when not -1, replace every file's owner.
	OwnerUID, OwnerGID int
	// AddMetadata are KEY=VALUE strings; they win over AddMetadataJSON,
	// a file holding one JSON object.
	AddMetadata     []string
	AddMetadataJSON string
	// WriteCommitIDTo writes the commit id to this file.
	WriteCommitIDTo string
	// Jobs bounds the files hashed and compressed in parallel (0: CPUs).
	Jobs int
}

// CommitResult is what compose commit wrote.
type CommitResult struct {
	Commit string             `json:"commit"`
	Ref    string             `json:"ref"`
	Stats  ostree.CommitStats `json:"stats"`
}

// Commit commits opts.Dir with the owners, modes and xattrs found on disk.
// The timestamp is SOURCE_DATE_EPOCH when set, else now.
func Commit(ctx context.Context, opts CommitOptions) (*CommitResult, error) {
	if opts.Repo == "" || opts.Branch == "" || opts.Dir == "" {
		return nil, errors.New("compose commit: give --repo, --branch and a directory")
	}
	md, err := parseMetadata(opts.AddMetadata, opts.AddMetadataJSON)
	if err != nil {
		return nil, err
	}
	ts, err := commitTimestamp()
	if err != nil {
		return nil, err
	}
	mode := ostree.ModeArchive
	if opts.Mode != "" {
		if mode, err = ostree.ParseRepoMode(opts.Mode); err != nil {
			return nil, err
		}
	}
	repo, err := ostree.OpenOrInit(ctx, opts.Repo, mode)
	if err != nil {
		return nil, err
	}
	if len(md) == 0 {
		md = nil
	}
	c, stats, err := repo.CommitDir(ctx, opts.Dir, ostree.CommitOptions{
		Ref: opts.Branch, WriteRef: true, Parent: opts.Parent, NoParent: opts.NoParent,
		Subject: opts.Subject, Body: opts.Body, Timestamp: ts, Metadata: md,
		OwnerUID: opts.OwnerUID, OwnerGID: opts.OwnerGID, Jobs: opts.Jobs,
	})
	if err != nil {
		return nil, err
	}
	res := &CommitResult{Commit: c.String(), Ref: opts.Branch, Stats: stats}
	if opts.WriteCommitIDTo != "" {
		if err := writeCommitID(opts.WriteCommitIDTo, res.Commit); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// writeCommitID is --write-commitid-to for every command: the id and a
// newline, replaced atomically.
func writeCommitID(path, id string) error {
	if err := atomicfile.Write(path, []byte(id+"\n"), 0o644); err != nil {
		return fmt.Errorf("--write-commitid-to: %w", err)
	}
	return nil
}
