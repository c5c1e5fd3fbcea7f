package compose

import (
	"strings"
	"testing"
	"time"
)

func TestParseSourceDateEpoch(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    time.Time
		wantErr string
	}{
		{in: "0", want: time.Unix(0, 0)},
		{in: "1767225600", want: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
		{in: "253402300799", want: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)},
		{in: "1767225600000", wantErr: "milliseconds"},
		{in: "253402300800", wantErr: "outside what ostree can show"},
		{in: "-1", wantErr: "outside what ostree can show"},
		{in: "abc", wantErr: "want whole seconds"},
		{in: "1767225600.5", wantErr: "want whole seconds"},
		{in: " 1767225600", wantErr: "want whole seconds"},
		{in: "+1767225600", wantErr: "want whole seconds"},
		{in: "99999999999999999999", wantErr: "want whole seconds"},
	} {
		got, err := parseSourceDateEpoch(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
				t.Errorf("%q: got %v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%q: got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// Issue 10, defect 7: compose tree used to fall back to the current time
// on a malformed SOURCE_DATE_EPOCH and to accept milliseconds. It refuses
// both before anything is resolved or built.
func TestTreeRefusesBadSourceDateEpoch(t *testing.T) {
	for _, v := range []string{"yesterday", "1767225600000"} {
		t.Setenv("SOURCE_DATE_EPOCH", v)
		repo := t.TempDir()
		_, err := Tree(t.Context(), TreeOptions{Repo: repo, Options: Options{Treefile: "does-not-matter.yaml", CacheDir: t.TempDir()}})
		if err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
			t.Errorf("SOURCE_DATE_EPOCH=%s: got %v, want an error naming SOURCE_DATE_EPOCH", v, err)
		}
	}
}
