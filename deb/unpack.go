package deb

import (
	"archive/tar"
	"cmp"
	"context"
	"crypto/md5"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"
)

// ErrFileConflict is wrapped by errors about two packages shipping the same
// non-directory path without a Replaces that settles it.
var ErrFileConflict = errors.New("file conflict")

// DefaultEarly is used when Options.Early is nil: base-files ships the
// merged-/usr symlinks (/bin, /lib, ...) that every other package's paths
// must go through, so it is unpacked before the parallel rest.
var DefaultEarly = []string{"base-files"}

// Options tunes Unpack.
type Options struct {
	// Jobs bounds how many packages are unpacked at once; 0 means NumCPU.
	Jobs int
	// Early names packages unpacked one at a time, before all others, in
	// the order they appear in the package list. nil means DefaultEarly;
	// use an empty, non-nil slice for none.
	Early []string
	// Logger receives per-package debug messages; nil means slog.Default().
	Logger *slog.Logger
	// Installed is the database of packages already in the root (nil for
	// an empty root). Before anything is written, every path the new
	// packages ship is checked against it: a file an installed package
	// owns may only be overwritten when the new package Replaces it (the
	// path then moves to the new package: Unpacked.TakenOver, applied by
	// Database.Add); otherwise Unpack fails with ErrFileConflict naming
	// both packages and the path, and the root is left untouched.
	Installed *Database
	// PathExclude and PathInclude are dpkg's --path-exclude and
	// --path-include globs (fnmatch(3) without flags, so "*" matches "/"
	// too), matched against the member's absolute path, last match
	// winning, as if every exclude were given before every include. A
	// filtered member is not written, stays in the package's Files as
	// dpkg keeps it in .list, and gets no generated md5sum; directories
	// an include pattern may need are kept.
	PathExclude, PathInclude []string
}

// Unpacked is the outcome of unpacking one package: what dpkg would record
// in its info database.
type Unpacked struct {
	Package *Package
	// Files are the package's .list lines in data.tar order ("/.", "/usr",
	// ...), without paths taken over by a package that Replaces it.
	Files []string
	// MD5sums is the md5sums member, or the list dpkg generates when the
	// package ships none.
	MD5sums []byte
	// Conffiles are the status-file Conffiles entries for this package.
	Conffiles []Conffile
	// TakenOver are the paths this package overwrote that a package of
	// Options.Installed owned, as its Replaces allowed; Database.Add
	// removes them from that package's .list.
	TakenOver []Takeover
	// Devices are the character and block device nodes the package
	// ships. They are listed in Files but never created in the root.
	Devices []Device
}

// Unpack extracts the data.tar of every package into root and returns, in
// the same order as pkgs, what each package installed.
//
// Packages named in Options.Early are unpacked first, one by one; the rest
// run in parallel (each tar in member order, as hardlinks need). The install
// order used to settle conflicts is: early packages, then the others, each in
// list order. Like dpkg:
//   - An existing directory, or a symlink to one, is kept when a package ships
//     a directory or a symlink at that path; its metadata is left alone.
//   - A directory created by this call gets the owner and mode of the first
//     package (in install order) that ships it.
//   - Conffiles are written as <path>.dpkg-new.
//   - Owners are the numeric uid/gid of the tar header.
//   - Two packages shipping the same non-directory path is ErrFileConflict,
//     unless one Replaces the other (a version restriction is honoured): then
//     its file wins and the path leaves the other's Files. Mutual Replaces are
//     won by the later package in install order; Multi-Arch: same instances
//     of one package may share identical files. The outcome does not depend
//     on scheduling: a path is claimed under a lock, the winner overwrites the
//     loser, and at the end the owner must beat every other claimant, which
//     makes dpkg's order-dependent chains (A < B < C, C not replacing A) an
//     error here.
//   - A package reaching a path through a symlink another package created in
//     the same parallel batch (or shipping a symlink where such a package made
//     a directory) is an error, since the result would depend on timing:
//     put the symlink's package in Options.Early.
//
// Each non-directory is written under a temporary name in its directory,
// then renamed, so no file is ever half-written under its real name. Any
// member that would land outside root is refused with ErrUnsafePath.
func Unpack(ctx context.Context, root string, pkgs []*Package, opts Options) ([]*Unpacked, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(absRoot); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("unpack: target root %s is not a directory: %v", root, err)
	}
	filter, err := newPathFilter(opts.PathExclude, opts.PathInclude)
	if err != nil {
		return nil, fmt.Errorf("unpack into %s: %w", root, err)
	}
	u := &unpacker{
		filter:  filter,
		root:    absRoot,
		log:     opts.Logger,
		claims:  map[string]*claim{},
		created: map[string]createdDir{},
		links:   map[string]int{},
	}
	if u.log == nil {
		u.log = slog.Default()
	}
	early := opts.Early
	if early == nil {
		early = DefaultEarly
	}
	var first, rest []*pkgState
	for _, p := range pkgs {
		st := &pkgState{p: p, conff: map[string]bool{}, targets: map[string]string{}, hashes: map[string][16]byte{}}
		for _, c := range p.Conffiles {
			st.conff[c.Path] = true
		}
		if slices.Contains(early, p.Name()) {
			first = append(first, st)
		} else {
			rest = append(rest, st)
		}
	}
	u.states = append(first, rest...)
	for i, st := range u.states {
		st.idx = i
	}
	if opts.Installed != nil {
		if err := u.checkInstalled(ctx, opts.Installed); err != nil {
			return nil, err
		}
	}
	for _, st := range first {
		if err := u.unpackOne(ctx, st); err != nil {
			return nil, err
		}
	}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}
	u.parallel = true
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	// Start the largest packages first so that one big package (the
	// kernel) does not run alone at the end. The result does not depend on
	// this order: conflicts are decided by install order (st.idx).
	byCost := slices.Clone(rest)
	slices.SortStableFunc(byCost, func(a, b *pkgState) int { return cmp.Compare(b.p.dataSize, a.p.dataSize) })
	for _, st := range byCost {
		g.Go(func() error { return u.unpackOne(gctx, st) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := u.finishDirs(); err != nil {
		return nil, err
	}
	if err := u.settle(); err != nil {
		return nil, err
	}
	byPkg := map[*Package]*pkgState{}
	for _, st := range u.states {
		byPkg[st.p] = st
	}
	out := make([]*Unpacked, len(pkgs))
	for i, p := range pkgs {
		out[i] = byPkg[p].result()
	}
	return out, nil
}

type unpacker struct {
	root     string
	filter   pathFilter
	log      *slog.Logger
	states   []*pkgState // install order
	parallel bool        // set once the early packages are done
	dirCache sync.Map    // lexical rel dir -> dirCacheEntry

	mu       sync.Mutex
	claims   map[string]*claim     // real rel path of a non-directory -> claim
	created  map[string]createdDir // directories this call created
	links    map[string]int        // symlinks written in the parallel batch -> creator
	timing   []string              // same-batch symlink/directory races
	dirMetas map[string]dirMeta    // shipped metadata of created directories, first in install order
}

type createdDir struct {
	creator  int
	parallel bool
}

type dirMeta struct {
	order int
	hdr   *tar.Header
}

type claim struct {
	mu           sync.Mutex
	owner        int // state index, -1 while unowned
	claimants    []int
	sum          [16]byte // owner's content hash, for Multi-Arch: same sharing
	hasSum       bool
	sumMissmatch []int
}

type pkgState struct {
	p       *Package
	idx     int
	conff   map[string]bool     // "/etc/foo"
	entries []entry             // data.tar order
	targets map[string]string   // member rel path -> real rel path written (for hardlinks)
	hashes  map[string][16]byte // member rel path -> md5 (regular files and hardlinks)
	lost    map[string]bool     // claim keys won by another package

	filtered  map[string]bool // member rel paths left out by Options.PathExclude
	devices   []Device
	takenOver []Takeover // decided by checkInstalled
}

type entry struct {
	line   string // .list line
	rel    string // member rel path
	key    string // claim key, "" for directories and shared symlinks
	hashed bool
}

func (u *unpacker) abs(rel string) string {
	if rel == "" {
		return u.root
	}
	return u.root + "/" + rel
}

func (u *unpacker) noteDirCreated(rel string, st *pkgState) {
	u.mu.Lock()
	u.created[rel] = createdDir{creator: st.idx, parallel: u.parallel}
	u.mu.Unlock()
}

func (u *unpacker) waveLink(rel string) (int, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	c, ok := u.links[rel]
	return c, ok
}

// noteDirRace records that st ships a symlink at rel where a package of the
// same parallel batch made a directory: which wins would depend on timing.
func (u *unpacker) noteDirRace(st *pkgState, creator int, rel string) {
	if creator == st.idx {
		return
	}
	u.mu.Lock()
	u.timing = append(u.timing, fmt.Sprintf("%s ships symlink /%s where %s made a directory in the same parallel batch (add %s to Options.Early)",
		st.p.Name(), rel, u.states[creator].p.Name(), st.p.Name()))
	u.mu.Unlock()
}

func (u *unpacker) noteTiming(st *pkgState, via []int, what string) {
	for _, c := range via {
		if c == st.idx {
			continue
		}
		u.mu.Lock()
		u.timing = append(u.timing, fmt.Sprintf("%s %s a symlink shipped by %s in the same parallel batch (add %s to Options.Early)",
			st.p.Name(), what, u.states[c].p.Name(), u.states[c].p.Name()))
		u.mu.Unlock()
	}
}

func (u *unpacker) unpackOne(ctx context.Context, st *pkgState) (err error) {
	start := time.Now()
	d, err := st.p.Data()
	if err != nil {
		return err
	}
	defer d.Close()
	buf := make([]byte, 256*1024)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st.p.dataError(err)
		}
		if err := u.extract(st, formatReader{d.Reader, st.p}, h, buf); err != nil {
			return fmt.Errorf("%s: %s: %w", st.p, h.Name, err)
		}
	}
	u.log.Debug("unpacked", "package", st.p.Name(), "entries", len(st.entries), "took", time.Since(start))
	return nil
}

// formatReader marks read errors of a member body as ErrFormat: the tar is
// truncated or corrupt.
type formatReader struct {
	r io.Reader
	p *Package
}

func (f formatReader) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if err != nil && err != io.EOF {
		err = f.p.dataError(err)
	}
	return n, err
}

func (u *unpacker) extract(st *pkgState, tr io.Reader, h *tar.Header, buf []byte) error {
	rel, err := cleanMember(h.Name)
	if err != nil {
		return err
	}
	line := listLine(rel)
	if rel != "" && u.filter.skip(line, h.Typeflag) {
		return st.skipMember(rel, line)
	}
	if rel == "" {
		if h.Typeflag != tar.TypeDir {
			return fmt.Errorf("%w: the root must be a directory", ErrUnsafePath)
		}
		st.entries = append(st.entries, entry{line: line, rel: rel})
		return nil
	}
	parent, via, err := u.resolveDir(st, parentRel(rel))
	if err != nil {
		return err
	}
	u.noteTiming(st, via, "reaches /"+rel+" through")
	real := joinRel(parent, filepathBase(rel))
	switch h.Typeflag {
	case tar.TypeDir:
		return u.extractDir(st, h, rel, real, line)
	case tar.TypeSymlink:
		shared, err := u.symlinkIsShared(st, h, real)
		if err != nil {
			return err
		}
		if shared {
			st.entries = append(st.entries, entry{line: line, rel: rel})
			return nil
		}
	case tar.TypeChar, tar.TypeBlock:
		// Never made on the build host (a device node in a package is a
		// way to reach the host's hardware from the image); recorded
		// for tmpfiles.d instead.
		d := deviceOf(line, h)
		st.devices = append(st.devices, d)
		st.entries = append(st.entries, entry{line: line, rel: rel})
		u.log.Warn("device node in package not created", "package", st.p.Name(), "path", line, "tmpfiles", d.TmpfilesLine())
		return nil
	case tar.TypeLink:
		if trel, err := cleanMember(h.Linkname); err == nil && st.filtered[trel] {
			// The file it links to was filtered out: so is the link.
			return st.skipMember(rel, line)
		}
	case tar.TypeReg, tar.TypeRegA, tar.TypeFifo:
	default:
		return fmt.Errorf("%w: unsupported tar entry type %q", ErrFormat, h.Typeflag)
	}
	return u.extractNonDir(st, tr, h, rel, real, line, buf)
}

func filepathBase(rel string) string {
	if i := strings.LastIndexByte(rel, '/'); i >= 0 {
		return rel[i+1:]
	}
	return rel
}

func (u *unpacker) extractDir(st *pkgState, h *tar.Header, rel, real, line string) error {
	st.entries = append(st.entries, entry{line: line, rel: rel})
	for {
		fi, err := os.Lstat(u.abs(real))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(u.abs(real), 0o755); err != nil {
				if errors.Is(err, fs.ErrExist) {
					continue
				}
				return err
			}
			u.noteDirCreated(real, st)
		case err != nil:
			return err
		case fi.IsDir():
		case fi.Mode()&fs.ModeSymlink != 0:
			// dpkg keeps an existing symlink to a directory (merged /usr).
			target, ok := u.symlinkDir(st, real)
			if !ok {
				return fmt.Errorf("%w: directory /%s exists as a symlink that does not lead to a directory", ErrFileConflict, real)
			}
			var via []int
			if c, ok := u.waveLink(real); ok {
				via = []int{c}
				u.noteTiming(st, via, "ships directory /"+rel+" where there is")
			}
			u.dirCache.Store(rel, dirCacheEntry{real: target, via: via})
			return nil
		default:
			return fmt.Errorf("%w: cannot make directory /%s: a non-directory exists there", ErrFileConflict, real)
		}
		break
	}
	u.dirCache.Store(rel, dirCacheEntry{real: real})
	u.mu.Lock()
	if _, ok := u.created[real]; ok {
		if m, ok := u.dirMetas[real]; !ok || st.idx < m.order {
			if u.dirMetas == nil {
				u.dirMetas = map[string]dirMeta{}
			}
			u.dirMetas[real] = dirMeta{order: st.idx, hdr: h}
		}
	}
	u.mu.Unlock()
	return nil
}

// symlinkIsShared applies dpkg's rule for a symlink member: an existing
// directory, or an existing symlink leading to the same directory, is kept
// and the path is shared rather than claimed.
func (u *unpacker) symlinkIsShared(st *pkgState, h *tar.Header, real string) (bool, error) {
	fi, err := os.Lstat(u.abs(real))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if fi.IsDir() {
		u.mu.Lock()
		cd, ok := u.created[real]
		u.mu.Unlock()
		if ok && cd.parallel && u.parallel {
			u.noteDirRace(st, cd.creator, real)
		}
		return true, nil
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return false, nil
	}
	old, ok1 := u.symlinkDir(st, real)
	if !ok1 {
		return false, nil
	}
	nw, ok2 := u.targetDir(st, real, h.Linkname)
	return ok2 && old == nw, nil
}

func (u *unpacker) claimFor(key string, st *pkgState) *claim {
	u.mu.Lock()
	defer u.mu.Unlock()
	c := u.claims[key]
	if c == nil {
		c = &claim{owner: -1}
		u.claims[key] = c
	}
	if !slices.Contains(c.claimants, st.idx) {
		c.claimants = append(c.claimants, st.idx)
	}
	return c
}

// beats reports whether state a's file overwrites state b's, as dpkg
// decides when a is installed after b; mutual Replaces go to the later one.
func (u *unpacker) beats(a, b int) bool {
	pa, pb := u.states[a].p, u.states[b].p
	if !replaces(pa, pb) {
		return false
	}
	return !replaces(pb, pa) || a > b
}

func (u *unpacker) shareable(a, b int) bool {
	pa, pb := u.states[a].p, u.states[b].p
	return pa.Name() == pb.Name() && pa.MultiArchSame() && pb.MultiArchSame()
}

func (u *unpacker) extractNonDir(st *pkgState, tr io.Reader, h *tar.Header, rel, real, line string, buf []byte) error {
	key := real
	dest := real
	isConff := st.conff[line] && (h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeRegA || h.Typeflag == tar.TypeLink)
	if isConff {
		dest = real + ".dpkg-new"
	}
	e := entry{line: line, rel: rel, key: key}
	c := u.claimFor(key, st)
	c.mu.Lock()
	defer c.mu.Unlock()
	write := false
	switch {
	case c.owner == -1 || c.owner == st.idx:
		write = true
	case u.shareable(c.owner, st.idx):
		write = false
	case u.beats(st.idx, c.owner):
		write = true
	}
	var sum [16]byte
	hashed := false
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		hashed = true
		var err error
		if write {
			sum, err = u.writeFile(tr, h, dest, buf)
		} else {
			hw := md5.New()
			_, err = io.CopyBuffer(hw, tr, buf)
			copy(sum[:], hw.Sum(nil))
		}
		if err != nil {
			return err
		}
	case tar.TypeLink:
		trel, err := cleanMember(h.Linkname)
		if err != nil {
			return fmt.Errorf("hardlink target: %w", err)
		}
		treal, ok := st.targets[trel]
		if !ok {
			return fmt.Errorf("%w: hardlink target %q is not an earlier file of this package", ErrUnsafePath, h.Linkname)
		}
		sum, hashed = st.hashes[trel]
		if write {
			if err := u.writeHardlink(treal, dest); err != nil {
				return err
			}
		}
	case tar.TypeSymlink:
		if write {
			if err := u.writeSymlink(h, dest); err != nil {
				fi, lerr := os.Lstat(u.abs(dest))
				if lerr != nil || !fi.IsDir() {
					return err
				}
				// Another package made a directory here after our
				// check: keep it, as dpkg keeps an existing directory.
				u.mu.Lock()
				cd, ok := u.created[dest]
				u.mu.Unlock()
				if ok && cd.parallel {
					u.noteDirRace(st, cd.creator, dest)
				}
				st.entries = append(st.entries, entry{line: line, rel: rel})
				return nil
			}
			if u.parallel {
				u.mu.Lock()
				u.links[dest] = st.idx
				u.mu.Unlock()
			}
		}
	default:
		if write {
			if err := u.writeNode(h, dest); err != nil {
				return err
			}
		}
	}
	if write {
		c.owner = st.idx
		c.sum, c.hasSum = sum, hashed
	} else if c.owner >= 0 && u.shareable(c.owner, st.idx) && (c.hasSum != hashed || c.sum != sum) {
		c.sumMissmatch = append(c.sumMissmatch, st.idx)
	}
	st.targets[rel] = dest
	if hashed {
		st.hashes[rel] = sum
		e.hashed = true
	}
	st.entries = append(st.entries, e)
	return nil
}

// tempName returns an unused name beside dest for an atomic write.
func tempName(dest string) string {
	return filepath.Join(filepath.Dir(dest), fmt.Sprintf(".%s.apt-ostree-tmp", filepath.Base(dest)))
}

func (u *unpacker) writeFile(r io.Reader, h *tar.Header, dest string, buf []byte) (sum [16]byte, err error) {
	// A path nothing occupies yet is created under its own name: the
	// package is not installed until its database entry is written, so a
	// failure here leaves a file of a package dpkg does not list as
	// installed, exactly as dpkg's own unpack would. Creating a temporary
	// name and renaming costs a second directory operation per file, which
	// made unpacking more than twice as slow. A path that exists (a
	// conffile's .dpkg-new from an earlier attempt, or a file another
	// package ships and this one Replaces) is replaced atomically instead.
	final := u.abs(dest)
	tmp := ""
	f, err := os.OpenFile(final, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if errors.Is(err, fs.ErrExist) {
		f, err = os.CreateTemp(filepath.Dir(final), "."+filepath.Base(dest)+".tmp*")
		if err == nil {
			tmp = f.Name()
		}
	}
	if err != nil {
		return sum, err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			if tmp != "" {
				os.Remove(tmp)
			} else {
				os.Remove(final)
			}
		}
	}()
	hw := md5.New()
	if _, err = io.CopyBuffer(io.MultiWriter(f, hw), r, buf); err != nil {
		return sum, err
	}
	copy(sum[:], hw.Sum(nil))
	fd := int(f.Fd())
	if err = unix.Fchown(fd, h.Uid, h.Gid); err != nil {
		return sum, fmt.Errorf("chown: %w", err)
	}
	// chmod after chown: chown clears setuid/setgid.
	if err = unix.Fchmod(fd, uint32(h.Mode&0o7777)); err != nil {
		return sum, fmt.Errorf("chmod: %w", err)
	}
	// xattrs last: chown drops security.capability.
	for _, x := range xattrs(h) {
		if err = unix.Fsetxattr(fd, x[0], []byte(x[1]), 0); err != nil {
			return sum, fmt.Errorf("set xattr %s: %w", x[0], err)
		}
	}
	ts := unix.NsecToTimespec(h.ModTime.UnixNano())
	if err = unix.UtimesNanoAt(fd, "", []unix.Timespec{ts, ts}, unix.AT_EMPTY_PATH); err != nil {
		return sum, fmt.Errorf("set mtime: %w", err)
	}
	err = f.Close()
	f = nil
	if err != nil || tmp == "" {
		return sum, err
	}
	return sum, os.Rename(tmp, final)
}

func (u *unpacker) writeHardlink(target, dest string) error {
	tmp := u.abs(tempName(dest))
	os.Remove(tmp)
	if err := os.Link(u.abs(target), tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, u.abs(dest)); err != nil {
		os.Remove(tmp)
		return err
	}
	// rename(2) does nothing when both names already are the same inode.
	os.Remove(tmp)
	return nil
}

func (u *unpacker) writeSymlink(h *tar.Header, dest string) error {
	tmp := u.abs(tempName(dest))
	os.Remove(tmp)
	if err := os.Symlink(h.Linkname, tmp); err != nil {
		return err
	}
	return u.install(tmp, dest, h, unix.Lchown(tmp, h.Uid, h.Gid))
}

func (u *unpacker) writeNode(h *tar.Header, dest string) error {
	tmp := u.abs(tempName(dest))
	os.Remove(tmp)
	perm := uint32(h.Mode & 0o7777)
	var err error
	switch h.Typeflag {
	case tar.TypeChar:
		err = unix.Mknod(tmp, unix.S_IFCHR|perm, int(unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor))))
	case tar.TypeBlock:
		err = unix.Mknod(tmp, unix.S_IFBLK|perm, int(unix.Mkdev(uint32(h.Devmajor), uint32(h.Devminor))))
	case tar.TypeFifo:
		err = unix.Mkfifo(tmp, perm)
	}
	if err != nil {
		return err
	}
	if err == nil {
		err = unix.Lchown(tmp, h.Uid, h.Gid)
	}
	if err == nil {
		err = unix.Fchmodat(unix.AT_FDCWD, tmp, perm, 0)
	}
	return u.install(tmp, dest, h, err)
}

// install finishes an entry made at the temporary path tmp (xattrs, then
// mtime) and renames it over dest; on any error, err included, tmp is
// removed.
func (u *unpacker) install(tmp, dest string, h *tar.Header, err error) error {
	for _, x := range xattrs(h) {
		if err == nil {
			err = unix.Lsetxattr(tmp, x[0], []byte(x[1]), 0)
		}
	}
	if err == nil {
		err = setTimes(tmp, h)
	}
	if err == nil {
		err = os.Rename(tmp, u.abs(dest))
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// xattrs returns the SCHILY.xattr PAX records of h, sorted by name.
func xattrs(h *tar.Header) [][2]string {
	var out [][2]string
	for k, v := range h.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			out = append(out, [2]string{name, v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func setTimes(p string, h *tar.Header) error {
	ts := unix.NsecToTimespec(h.ModTime.UnixNano())
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}

// finishDirs gives every directory this call created the owner, mode,
// xattrs and mtime of the first package (in install order) that ships it,
// after all files are in, so the mtimes stay those of the tar.
func (u *unpacker) finishDirs() error {
	keys := make([]string, 0, len(u.dirMetas))
	for k := range u.dirMetas {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, rel := range keys {
		h := u.dirMetas[rel].hdr
		p := u.abs(rel)
		err := unix.Lchown(p, h.Uid, h.Gid)
		if err == nil {
			err = unix.Fchmodat(unix.AT_FDCWD, p, uint32(h.Mode&0o7777), 0)
		}
		for _, x := range xattrs(h) {
			if err == nil {
				err = unix.Lsetxattr(p, x[0], []byte(x[1]), 0)
			}
		}
		if err == nil {
			err = setTimes(p, h)
		}
		if err != nil {
			return fmt.Errorf("%s: directory /%s: %w", u.states[u.dirMetas[rel].order].p, rel, err)
		}
	}
	return nil
}

// settle checks that every contested path has an owner that beats all other
// claimants and removes lost paths from the losers' lists.
func (u *unpacker) settle() error {
	problems := slices.Clone(u.timing)
	keys := make([]string, 0, len(u.claims))
	for k, c := range u.claims {
		if len(c.claimants) > 1 || len(c.sumMissmatch) > 0 {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		c := u.claims[k]
		for _, m := range c.sumMissmatch {
			problems = append(problems, fmt.Sprintf("/%s: %s differs from the other instances of Multi-Arch: same package %s",
				k, u.states[m].p, u.states[m].p.Name()))
		}
		for _, o := range c.claimants {
			if o == c.owner || u.shareable(o, c.owner) {
				continue
			}
			if !u.beats(c.owner, o) {
				problems = append(problems, fmt.Sprintf("/%s is shipped by both %s and %s, and neither Replaces the other",
					k, u.states[c.owner].p.Name(), u.states[o].p.Name()))
				continue
			}
			st := u.states[o]
			if st.lost == nil {
				st.lost = map[string]bool{}
			}
			st.lost[k] = true
		}
	}
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	problems = slices.Compact(problems)
	if len(problems) > 20 {
		problems = append(problems[:20], fmt.Sprintf("... and %d more", len(problems)-20))
	}
	return fmt.Errorf("unpack into %s: %w:\n  %s", u.root, ErrFileConflict, strings.Join(problems, "\n  "))
}

func (st *pkgState) result() *Unpacked {
	r := &Unpacked{Package: st.p}
	var gen strings.Builder
	for _, e := range st.entries {
		if e.key != "" && st.lost[e.key] {
			continue
		}
		r.Files = append(r.Files, e.line)
		if e.hashed {
			fmt.Fprintf(&gen, "%x  %s\n", st.hashes[e.rel], e.rel)
		}
	}
	if m, ok := st.p.Member("md5sums"); ok {
		r.MD5sums = m.Data
	} else {
		r.MD5sums = []byte(gen.String())
	}
	r.Conffiles = st.p.Conffiles
	r.Devices = st.devices
	r.TakenOver = st.takenOver
	return r
}
