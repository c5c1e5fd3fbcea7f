package compose

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var dateTag = regexp.MustCompile(`<date:([^>]*)>`)

// NextVersion computes a commit version from automatic-version-prefix the
// way rpm-ostree does: with no usable previous version the prefix itself;
// the prefix again gives prefix+suffix+"1"; otherwise the counter after
// prefix+suffix is incremented. A <date:FMT> tag expands to now and implies
// a counter starting at 0 that resets when the date changes.
func NextVersion(prefix, suffix, previous string, now time.Time) (string, error) {
	if suffix == "" {
		suffix = "."
	}
	if len(suffix) != 1 || suffix[0] > 0x7f {
		return "", fmt.Errorf("automatic-version-suffix %q: must be one ASCII character", suffix)
	}
	hasDate := dateTag.MatchString(prefix)
	var expandErr error
	prefix = dateTag.ReplaceAllStringFunc(prefix, func(tag string) string {
		s, err := strftime(dateTag.FindStringSubmatch(tag)[1], now)
		if err != nil {
			expandErr = err
		}
		return s
	})
	if expandErr != nil {
		return "", fmt.Errorf("automatic-version-prefix: %w", expandErr)
	}
	base := prefix + suffix
	if rest, ok := strings.CutPrefix(previous, base); ok {
		if n, err := strconv.ParseUint(rest, 10, 64); err == nil {
			return base + strconv.FormatUint(n+1, 10), nil
		}
	}
	switch {
	case hasDate:
		return base + "0", nil
	case previous == prefix:
		return base + "1", nil
	default:
		return prefix, nil
	}
}

// strftime expands the GLib date format subset that version prefixes use.
func strftime(format string, t time.Time) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i == len(format) {
			return "", fmt.Errorf("date format %q ends in %%", format)
		}
		switch format[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case '%':
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("date format %q: %%%c is not supported (use %%Y %%y %%m %%d %%H %%M %%S %%j %%F)", format, format[i])
		}
	}
	return b.String(), nil
}
