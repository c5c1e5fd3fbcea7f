package compose

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/apt-ostree/apt-ostree/ostree"
)

// commitTimestamp is the time compose tree and compose commit give a
// commit: SOURCE_DATE_EPOCH when set, so that rebuilds are reproducible,
// else now. A malformed value, or one ostree cannot show (milliseconds
// instead of seconds, say), is refused rather than replaced by now.
func commitTimestamp() (time.Time, error) {
	s, ok := os.LookupEnv("SOURCE_DATE_EPOCH")
	if !ok || s == "" {
		return time.Now().UTC(), nil
	}
	return parseSourceDateEpoch(s)
}

// parseSourceDateEpoch reads a SOURCE_DATE_EPOCH value: decimal seconds
// since 1970, as `date +%s` prints them.
func parseSourceDateEpoch(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || s[0] == '+' {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: want whole seconds since 1970 as `date +%%s` prints them", s)
	}
	t := time.Unix(n, 0).UTC()
	if err := ostree.CheckTimestamp(t); err != nil {
		hint := ""
		if n > ostree.MaxTimestamp.Unix() && n/1000 <= ostree.MaxTimestamp.Unix() {
			hint = " (milliseconds? it must be seconds)"
		}
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q%s: %w", s, hint, err)
	}
	return t, nil
}
