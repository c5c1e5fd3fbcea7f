package ostree

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/apt-ostree/apt-ostree/ostree/gvariant"
)

var typeSummary = gvariant.MustParseType("(a(s(taya{sv}))a{sv})")

// UpdateSummary rewrites the repository's summary file from its local refs,
// as `ostree summary -u` does (unsigned, no static deltas).
func (r *Repo) UpdateSummary(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	data, err := r.summaryBytes(time.Now())
	if err != nil {
		return err
	}
	tmpDir, err := r.sharedStaging()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(tmpDir, filepath.Join(r.path, "summary"), data, 0o644); err != nil {
		return fmt.Errorf("write summary of %s: %w", r.path, err)
	}
	// A stale signature would no longer match.
	os.Remove(filepath.Join(r.path, "summary.sig"))
	return nil
}

func (r *Repo) summaryBytes(lastModified time.Time) ([]byte, error) {
	refs, err := r.ListRefs()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(refs))
	for n := range refs {
		names = append(names, n)
	}
	slices.Sort(names)
	entries := make([]any, 0, len(names))
	for _, n := range names {
		c := refs[n]
		data, err := r.ReadObject(ObjectCommit, c)
		if err != nil {
			return nil, fmt.Errorf("summary: ref %s: %w", n, err)
		}
		cm, err := ParseCommit(data)
		if err != nil {
			return nil, fmt.Errorf("summary: ref %s: %w", n, err)
		}
		var md []any
		if v, ok := cm.Metadata["version"].(string); ok {
			md = append(md, []any{"ostree.commit.version", gvariant.Variant{Type: "s", Value: v}})
		}
		md = append(md, []any{"ostree.commit.timestamp", gvariant.Variant{Type: "t", Value: be64(uint64(cm.Timestamp.Unix()))}})
		entries = append(entries, []any{n, []any{uint64(len(data)), c[:], md}})
	}
	global := []any{
		[]any{"ostree.summary.mode", gvariant.Variant{Type: "s", Value: r.mode.String()}},
		[]any{"ostree.summary.last-modified", gvariant.Variant{Type: "t", Value: be64(uint64(lastModified.Unix()))}},
		[]any{"ostree.summary.tombstone-commits", gvariant.Variant{Type: "b", Value: false}},
		[]any{"ostree.summary.indexed-deltas", gvariant.Variant{Type: "b", Value: true}},
	}
	return gvariant.MarshalType(typeSummary, []any{entries, global})
}
