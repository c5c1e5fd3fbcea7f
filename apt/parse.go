package apt

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"unsafe"
)

// ParsePackages parses a Packages index (uncompressed) into records. Only
// stanzas whose Architecture is arch or "all" are kept; arch "" keeps every
// stanza. Every record's Repo is repo. The result is in index order and
// does not reference data, which the caller may reuse or unmap.
//
// The parser is a hand-written byte scanner: an archive index of ~65k
// stanzas is parsed in a few hundred milliseconds. Fields it does not
// store (Description, Maintainer, MD5sum, ...) are skipped without copying.
func ParsePackages(data []byte, arch string, repo *RepoRef) ([]*Package, error) {
	chunks := splitStanzas(data, runtime.GOMAXPROCS(0))
	if len(chunks) == 1 {
		p := newParser(arch, repo)
		return p.out, p.parse(data, 1)
	}
	// Parse chunks in parallel; each chunk starts at a stanza boundary.
	results := make([][]*Package, len(chunks))
	errs := make([]error, len(chunks))
	var wg sync.WaitGroup
	for i, c := range chunks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := newParser(arch, repo)
			errs[i] = p.parse(c.data, c.line)
			results[i] = p.out
		}()
	}
	wg.Wait()
	n := 0
	for i := range chunks {
		if errs[i] != nil {
			return nil, errs[i]
		}
		n += len(results[i])
	}
	out := make([]*Package, 0, n)
	for _, r := range results {
		out = append(out, r...)
	}
	return out, nil
}

// ReadPackages reads all of r and parses it with ParsePackages.
func ReadPackages(r io.Reader, arch string, repo *RepoRef) ([]*Package, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return ParsePackages(data, arch, repo)
}

type chunk struct {
	data []byte
	line int // line number of the chunk's first line
}

// splitStanzas cuts data into about n pieces at blank lines. Small inputs
// stay whole: goroutines do not pay off below a few MB.
func splitStanzas(data []byte, n int) []chunk {
	const minChunk = 4 << 20
	if n < 2 || len(data) < 2*minChunk {
		return []chunk{{data, 1}}
	}
	var out []chunk
	start, line := 0, 1
	for i := 1; i < n; i++ {
		cut := len(data) * i / n
		if cut <= start {
			continue
		}
		j := bytes.Index(data[cut:], []byte("\n\n"))
		if j < 0 {
			break
		}
		end := cut + j + 2
		out = append(out, chunk{data[start:end], line})
		line += bytes.Count(data[start:end], []byte{'\n'})
		start = end
	}
	return append(out, chunk{data[start:], line})
}

// field identifies a stored field.
type field uint8

const (
	fNone field = iota
	fPackage
	fVersion
	fArchitecture
	fMultiArch
	fEssential
	fPriority
	fSection
	fSource
	fDepends
	fPreDepends
	fRecommends
	fSuggests
	fConflicts
	fBreaks
	fProvides
	fReplaces
	fFilename
	fSize
	fInstalledSize
	fSHA256
	nFields
)

// fieldOf maps a field name to its id without allocating. Field names are
// case-insensitive in deb822, but archive tools write them in canonical
// case; other spellings fall back to a slower case-folding compare.
func fieldOf(name []byte) field {
	switch string(name) { // no allocation: the compiler special-cases this
	case "Package":
		return fPackage
	case "Version":
		return fVersion
	case "Architecture":
		return fArchitecture
	case "Multi-Arch":
		return fMultiArch
	case "Essential":
		return fEssential
	case "Priority":
		return fPriority
	case "Section":
		return fSection
	case "Source":
		return fSource
	case "Depends":
		return fDepends
	case "Pre-Depends":
		return fPreDepends
	case "Recommends":
		return fRecommends
	case "Suggests":
		return fSuggests
	case "Conflicts":
		return fConflicts
	case "Breaks":
		return fBreaks
	case "Provides":
		return fProvides
	case "Replaces":
		return fReplaces
	case "Filename":
		return fFilename
	case "Size":
		return fSize
	case "Installed-Size":
		return fInstalledSize
	case "SHA256":
		return fSHA256
	case "Description", "Maintainer", "MD5sum", "Description-md5", "Homepage", "Tag":
		return fNone
	}
	for f, canon := range canonicalNames {
		if f != 0 && len(canon) == len(name) && bytes.EqualFold([]byte(canon), name) {
			return field(f)
		}
	}
	return fNone
}

var canonicalNames = [nFields]string{"", "Package", "Version", "Architecture", "Multi-Arch", "Essential",
	"Priority", "Section", "Source", "Depends", "Pre-Depends", "Recommends", "Suggests", "Conflicts",
	"Breaks", "Provides", "Replaces", "Filename", "Size", "Installed-Size", "SHA256"}

type parser struct {
	arch   string
	repo   *RepoRef
	out    []*Package
	slab   []Package
	intern map[string]string
	// vals holds the current stanza's field values as slices of the input
	// (or of extra, for folded continuation lines).
	vals  [nFields][]byte
	extra [nFields][]byte
	arena []byte
}

func newParser(arch string, repo *RepoRef) *parser {
	return &parser{arch: arch, repo: repo, intern: make(map[string]string, 1024)}
}

// parse scans data line by line. firstLine is used in error messages.
func (p *parser) parse(data []byte, firstLine int) error {
	line := firstLine - 1
	cur := fNone
	inStanza := false
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		if len(l) > 0 && l[len(l)-1] == '\r' {
			l = l[:len(l)-1]
		}
		if len(l) == 0 {
			if inStanza {
				if err := p.finish(line - 1); err != nil {
					return err
				}
				inStanza = false
			}
			cur = fNone
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			if !inStanza {
				return fmt.Errorf("line %d: continuation line outside a stanza", line)
			}
			if cur != fNone {
				// Folded value: join with one space.
				if p.extra[cur] == nil {
					p.extra[cur] = append([]byte(nil), p.vals[cur]...)
				}
				p.extra[cur] = append(append(p.extra[cur], ' '), bytes.TrimSpace(l)...)
				p.vals[cur] = p.extra[cur]
			}
			continue
		}
		if l[0] == '#' && !inStanza {
			continue
		}
		colon := bytes.IndexByte(l, ':')
		if colon <= 0 {
			return fmt.Errorf("line %d: malformed field %q", line, truncate(l))
		}
		inStanza = true
		cur = fieldOf(l[:colon])
		if cur != fNone {
			p.vals[cur] = bytes.TrimSpace(l[colon+1:])
			p.extra[cur] = nil
		}
	}
	if inStanza {
		return p.finish(line)
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}

// finish turns the collected values into a Package if the architecture
// matches, then clears them.
func (p *parser) finish(line int) error {
	defer clear(p.vals[:])
	v := &p.vals
	if len(v[fPackage]) == 0 {
		return fmt.Errorf("stanza ending at line %d: no Package field", line)
	}
	archB := v[fArchitecture]
	if p.arch != "" && string(archB) != p.arch && string(archB) != "all" {
		return nil
	}
	if len(p.slab) == 0 {
		p.slab = make([]Package, 512)
	}
	pkg := &p.slab[0]
	p.slab = p.slab[1:]

	// One allocation holds the per-package strings; substrings share it.
	n := 0
	for _, f := range [...]field{fPackage, fVersion, fDepends, fPreDepends, fRecommends, fSuggests,
		fConflicts, fBreaks, fProvides, fReplaces, fFilename, fSHA256} {
		n += len(v[f])
	}
	if cap(p.arena)-len(p.arena) < n {
		p.arena = make([]byte, 0, max(n, 64<<10))
	}
	start := len(p.arena)
	for _, f := range [...]field{fPackage, fVersion, fDepends, fPreDepends, fRecommends, fSuggests,
		fConflicts, fBreaks, fProvides, fReplaces, fFilename, fSHA256} {
		p.arena = append(p.arena, v[f]...)
	}
	block := unsafeString(p.arena[start:])
	off := 0
	take := func(f field) string {
		s := block[off : off+len(v[f])]
		off += len(v[f])
		return s
	}
	pkg.Name = take(fPackage)
	pkg.Version = take(fVersion)
	pkg.Depends = take(fDepends)
	pkg.PreDepends = take(fPreDepends)
	pkg.Recommends = take(fRecommends)
	pkg.Suggests = take(fSuggests)
	pkg.Conflicts = take(fConflicts)
	pkg.Breaks = take(fBreaks)
	pkg.Provides = take(fProvides)
	pkg.Replaces = take(fReplaces)
	pkg.Filename = take(fFilename)
	pkg.SHA256 = take(fSHA256)

	pkg.Architecture = p.interned(archB)
	pkg.MultiArch = p.interned(v[fMultiArch])
	pkg.Priority = p.interned(v[fPriority])
	pkg.Section = p.interned(v[fSection])
	pkg.Essential = string(v[fEssential]) == "yes"
	src := v[fSource]
	if i := bytes.IndexByte(src, ' '); i >= 0 {
		src = src[:i] // "name (version)"
	}
	if string(src) != string(v[fPackage]) {
		pkg.Source = p.interned(src)
	}
	var err error
	if len(v[fSize]) > 0 {
		if pkg.Size, err = strconv.ParseInt(string(v[fSize]), 10, 64); err != nil {
			return fmt.Errorf("package %s: bad Size %q", pkg.Name, v[fSize])
		}
	}
	if len(v[fInstalledSize]) > 0 {
		if pkg.InstalledSize, err = strconv.ParseInt(string(v[fInstalledSize]), 10, 64); err != nil {
			return fmt.Errorf("package %s: bad Installed-Size %q", pkg.Name, v[fInstalledSize])
		}
	}
	pkg.Repo = p.repo
	p.out = append(p.out, pkg)
	return nil
}

// interned returns b as a string shared by every equal value, so that the
// ~65k copies of "amd64", "optional" or a popular source name cost nothing.
func (p *parser) interned(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if s, ok := p.intern[string(b)]; ok {
		return s
	}
	s := string(b)
	p.intern[s] = s
	return s
}

// unsafeString views b as a string. The parser only appends to its arena,
// so bytes behind a returned string are never written again.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
