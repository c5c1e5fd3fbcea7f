package ostree

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Commits dated outside what GLib's GDateTime holds make `ostree show`
// fail with "Invalid timestamp"; CommitDir refuses them.
func TestCommitDirRefusesTimestampOstreeCannotShow(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Init(t.Context(), filepath.Join(t.TempDir(), "repo"), ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ts time.Time
		ok bool
	}{
		{time.Unix(1767225600, 0), true},
		{MaxTimestamp, true},
		{time.Unix(1767225600000, 0), false}, // milliseconds taken for seconds
		{MaxTimestamp.Add(time.Second), false},
		{time.Unix(-1, 0), false},
	} {
		_, _, err := r.CommitDir(t.Context(), dir, CommitOptions{Timestamp: tc.ts, OwnerUID: -1, OwnerGID: -1})
		if tc.ok != (err == nil) || err != nil && !strings.Contains(err.Error(), "outside what ostree can show") {
			t.Errorf("%d: %v", tc.ts.Unix(), err)
		}
	}
}
