package treefile

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Error is a problem in a treefile, located at File:Line and naming the key it concerns.
// Load returns one *Error, or several joined with errors.Join.
type Error struct {
	File string // path of the treefile as opened (include paths joined to their includer's directory)
	Line int    // 1-based; 0 when the problem concerns the whole file
	Key  string // treefile key as spelled in the file, e.g. "packages" or "repos[1].suites"; may be empty
	Msg  string
	Err  error // underlying cause, if any
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	msg := e.Msg
	if e.Err != nil {
		if msg == "" {
			msg = e.Err.Error()
		} else {
			msg += ": " + e.Err.Error()
		}
	}
	if e.Key != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Key, msg)
	}
	return fmt.Sprintf("%s: %s", loc, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// pos is where a value was written.
type pos struct {
	file string
	line int
}

// maxErrors bounds how many problems one Load reports; past that the rest is noise.
const maxErrors = 50

// errList collects located errors so that one run reports every problem in a file.
type errList struct{ errs []*Error }

func (l *errList) add(p pos, key, format string, args ...any) {
	if len(l.errs) >= maxErrors {
		return
	}
	l.errs = append(l.errs, &Error{File: p.file, Line: p.line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (l *errList) wrap(p pos, key string, err error, format string, args ...any) {
	if len(l.errs) >= maxErrors {
		return
	}
	l.errs = append(l.errs, &Error{File: p.file, Line: p.line, Key: key, Msg: fmt.Sprintf(format, args...), Err: err})
}

func (l *errList) empty() bool { return len(l.errs) == 0 }

// err returns the collected errors sorted by file and line, or nil.
func (l *errList) err() error {
	if len(l.errs) == 0 {
		return nil
	}
	sorted := slices.Clone(l.errs)
	slices.SortStableFunc(sorted, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
	if len(sorted) == 1 {
		return sorted[0]
	}
	errs := make([]error, len(sorted))
	for i, e := range sorted {
		errs[i] = e
	}
	return errors.Join(errs...)
}
