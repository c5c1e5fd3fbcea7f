package compose

import (
	"testing"
	"time"
)

func TestNextVersion(t *testing.T) {
	day1 := time.Date(2019, 3, 4, 10, 0, 0, 0, time.UTC)
	day2 := time.Date(2020, 1, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name, prefix, suffix, prev string
		now                        time.Time
		want                       string
	}{
		{"no previous", "13", "", "", day1, "13"},
		{"previous is prefix", "13", "", "13", day1, "13.1"},
		{"increment", "13", "", "13.1", day1, "13.2"},
		{"increment big", "13", "", "13.41", day1, "13.42"},
		{"foreign previous", "13", "", "12.5", day1, "13"},
		{"custom suffix", "13", "-", "13-3", day1, "13-4"},
		{"date first", "22.<date:%Y>", "", "", day1, "22.2019.0"},
		{"date same day", "22.<date:%Y>", "", "22.2019.0", day1, "22.2019.1"},
		{"date changes", "22.<date:%Y>", "", "22.2019.1", day2, "22.2020.0"},
		{"full date", "13.<date:%Y%m%d>", "", "13.20190304.7", day1, "13.20190304.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NextVersion(tt.prefix, tt.suffix, tt.prev, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("NextVersion(%q, %q, %q) = %q, want %q", tt.prefix, tt.suffix, tt.prev, got, tt.want)
			}
		})
	}
	for _, bad := range []struct{ prefix, suffix string }{{"1", "ab"}, {"<date:%Q>", ""}, {"<date:%>", ""}} {
		if _, err := NextVersion(bad.prefix, bad.suffix, "", day1); err == nil {
			t.Errorf("NextVersion(%q, %q): no error", bad.prefix, bad.suffix)
		}
	}
}
