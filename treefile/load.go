package treefile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// maxIncludeDepth is rpm-ostree's limit on nested includes.
const maxIncludeDepth = 50

type opened struct {
	file string
	info os.FileInfo
	by   pos // the include that opened it; zero for the top-level file
}

// loader reads a treefile and its includes into one merged layer.
type loader struct {
	ctx   context.Context
	arch  string
	errs  errList
	stack []opened // the include chain being processed, for cycle messages
	seen  []opened // every file opened, by identity (device, inode)
}

// fail records a problem opening file: at the include that named it, or
// against the file itself for the top level.
func (ld *loader) fail(file string, from pos, err error, msg string) {
	if from.file == "" {
		ld.errs.errs = append(ld.errs.errs, &Error{File: file, Msg: msg, Err: err})
		return
	}
	ld.errs.wrap(from, "include", err, "%s", msg)
}

func (ld *loader) load(file string, from pos, depth int) *layer {
	if err := ld.ctx.Err(); err != nil {
		ld.fail(file, from, err, "load treefile "+file)
		return nil
	}
	if depth > maxIncludeDepth {
		ld.fail(file, from, nil, "includes nested deeper than 50 files")
		return nil
	}
	info, err := os.Stat(file)
	if err != nil {
		ld.fail(file, from, err, "open treefile")
		return nil
	}
	for i, o := range ld.stack {
		if os.SameFile(o.info, info) {
			chain := make([]string, 0, len(ld.stack)-i+1)
			for _, s := range ld.stack[i:] {
				chain = append(chain, s.file)
			}
			ld.fail(file, from, nil, "include cycle: "+strings.Join(append(chain, file), " -> "))
			return nil
		}
	}
	for _, o := range ld.seen {
		if os.SameFile(o.info, info) {
			where := "as the top-level treefile"
			if o.by.file != "" {
				where = "by " + o.by.String()
			}
			ld.fail(file, from, nil, file+" is already included "+where+"; a file may be included only once")
			return nil
		}
	}
	if !info.Mode().IsRegular() {
		ld.fail(file, from, nil, file+" is not a regular file")
		return nil
	}
	data, err := os.ReadFile(file)
	if err != nil {
		ld.fail(file, from, err, "read treefile")
		return nil
	}
	me := opened{file: file, info: info, by: from}
	ld.seen = append(ld.seen, me)
	ld.stack = append(ld.stack, me)
	defer func() { ld.stack = ld.stack[:len(ld.stack)-1] }()

	root, err := parseDocument(file, data)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			ld.errs.errs = append(ld.errs.errs, e)
		} else {
			ld.fail(file, from, err, "parse treefile")
		}
		return nil
	}
	dir, err := filepath.Abs(filepath.Dir(file))
	if err != nil {
		ld.fail(file, from, err, "resolve directory of treefile")
		return nil
	}
	l := decodeLayer(&ld.errs, file, dir, ld.arch, root)
	for _, inc := range l.includes {
		if sub := ld.load(inc.v.(string), inc.pos, depth+1); sub != nil {
			mergeInto(l, sub)
		}
	}
	return l
}

func (p pos) String() string { return fmt.Sprintf("%s:%d", p.file, p.line) }

// mergeInto merges an included file's (fully resolved) layer into its
// includer. Called once per include in listed order, which yields the
// spec's precedence: the includer beats its includes, an earlier sibling
// beats a later one for scalars and map keys, and a later sibling's list
// items come first.
func mergeInto(dst, src *layer) {
	for key, sf := range src.fields {
		df, ok := dst.fields[key]
		if !ok {
			dst.fields[key] = sf
			continue
		}
		switch sf.rule {
		case ruleScalar:
			// The includer's (or the earlier sibling's) value stays.
		case ruleAppend, ruleUnion:
			df.list = append(slices.Clone(sf.list), df.list...)
		case ruleMap:
			if df.m == nil {
				df.m = map[string]val{}
			}
			for k, v := range sf.m {
				if _, exists := df.m[k]; !exists {
					df.m[k] = v
				}
			}
		}
	}
}
