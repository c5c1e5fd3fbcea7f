package ostree

import (
	"fmt"
	"time"
)

// The commit timestamps ostree can show: GLib's GDateTime holds the years
// 1 to 9999, and `ostree show`/`log` fail with "Invalid timestamp" outside
// them. Commits store the seconds as an unsigned number, so nothing before
// 1970 round-trips either.
var (
	MinTimestamp = time.Unix(0, 0).UTC()
	MaxTimestamp = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// CheckTimestamp refuses a commit time that ostree could not show.
func CheckTimestamp(t time.Time) error {
	if t.Before(MinTimestamp) || t.After(MaxTimestamp) {
		return fmt.Errorf("commit timestamp %d (%s) is outside what ostree can show (%d to %d seconds since 1970, years 1970 to 9999)",
			t.Unix(), t.UTC().Format(time.RFC3339), MinTimestamp.Unix(), MaxTimestamp.Unix())
	}
	return nil
}

// checkCommitTimestamp is CheckTimestamp for CommitOptions, where the zero
// time means now.
func checkCommitTimestamp(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	return CheckTimestamp(t)
}
