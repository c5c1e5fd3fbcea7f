package oci

import (
	"cmp"
	"context"
	"fmt"
	"path"
	"runtime"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/apt-ostree/apt-ostree/deb"
	"github.com/apt-ostree/apt-ostree/ostree"
)

const (
	// DefaultMaxLayers is the default ChunkOptions.MaxLayers.
	DefaultMaxLayers = 64
	// MaxLayersLimit is the most layers an image may have: Docker cannot
	// pull images with more.
	MaxLayersLimit = 127
	// ComponentsAnnotation is the chunk layer annotation that lists the
	// layer's components (packages), sorted and comma-joined.
	ComponentsAnnotation = "ostree.components"
)

// ChunkOptions control ChunkByPackage.
type ChunkOptions struct {
	// MaxLayers is the most layers of the image, the ostree layer
	// included (so at most MaxLayers-1 chunks); 0 means DefaultMaxLayers,
	// more than MaxLayersLimit is refused.
	MaxLayers int
	// Previous is the manifest of the previous build of the image
	// (--previous-build-manifest): its chunk layers' package groups are
	// kept, so that unchanged packages land in layers with the same digest.
	Previous *v1.Manifest
}

// PreviousChunks returns the component lists of m's chunk layers (the
// layers after the first that carry an "ostree.components" annotation), in
// layer order.
func PreviousChunks(m *v1.Manifest) [][]string {
	if m == nil || len(m.Layers) < 2 {
		return nil
	}
	var out [][]string
	for _, l := range m.Layers[1:] {
		v, ok := l.Annotations[ComponentsAnnotation]
		if !ok || v == "" {
			continue
		}
		out = append(out, strings.Split(v, ","))
	}
	return out
}

// component is one package (or the kernel package with its initramfs) and
// the content objects assigned to it.
type component struct {
	name   string
	size   int64
	objs   []ostree.Checksum
	kernel bool
}

// ChunkByPackage splits the content objects of commit rev into chunks, one
// component per Debian package, for Encapsulate. Each object goes to the
// package that owns one of its paths in the dpkg database of the commit's
// own tree (read from usr/share/dpkg/database): .list paths are mapped to
// the post-processed layout (/etc is usr/etc, /opt/X is usr/lib/opt/X,
// /boot/vmlinuz-$kver and its siblings are in usr/lib/modules/$kver, /bin
// and the other top-level links to usr/ are followed), diversions are
// followed (the diverted package owns the renamed file, the diverting one
// the original path). An object with several owners goes to the owner
// whose name sorts first. A package's own
// database files (info/PKG.*) are in its chunk, a generated initramfs is in
// the kernel package's chunk and __pycache__/X.*.pyc in X.py's.
//
// Packages are then packed into at most MaxLayers-1 chunks: the kernel
// package alone, packages bigger than the average chunk alone, the rest
// grouped in name order into chunks of about equal size. Content owned by
// no package (the dpkg status file, generated caches, the passwd files)
// stays in the ostree layer: that layer changes with every commit anyway,
// and these files change whenever any package does, so a separate layer
// for them would change with every build too. With opts.Previous, each
// previous chunk keeps its packages that are still installed, in the same
// layer order; new packages are packed into the chunks left free (or the
// last one when none is).
//
// The result is sorted and deterministic: the same commit and options give
// the same chunks.
func ChunkByPackage(ctx context.Context, repo *ostree.Repo, rev string, opts ChunkOptions) ([]Chunk, error) {
	maxLayers := opts.MaxLayers
	if maxLayers == 0 {
		maxLayers = DefaultMaxLayers
	}
	if maxLayers > MaxLayersLimit {
		return nil, fmt.Errorf("max layers %d: at most %d (Docker cannot pull images with more layers; the ostree layer counts as one)", maxLayers, MaxLayersLimit)
	}
	if maxLayers < 1 {
		return nil, fmt.Errorf("max layers %d: an image has at least 1 layer (the ostree layer)", maxLayers)
	}
	csum, err := repo.ResolveRev(rev)
	if err != nil {
		return nil, fmt.Errorf("chunk %s of %s: %w", rev, repo.Path(), err)
	}
	comps, err := packageComponents(ctx, repo, csum)
	if err != nil {
		return nil, fmt.Errorf("chunk commit %s of %s by package: %w", csum, repo.Path(), err)
	}
	bins := maxLayers - 1
	if bins == 0 || len(comps) == 0 {
		return []Chunk{}, nil
	}
	var groups [][]*component
	if prev := PreviousChunks(opts.Previous); prev != nil {
		groups = packPrevious(comps, prev, bins)
	} else {
		groups = pack(comps, bins)
	}
	out := make([]Chunk, 0, len(groups))
	for _, g := range groups {
		c := Chunk{}
		for _, m := range g {
			c.Components = append(c.Components, m.name)
			c.Objects = append(c.Objects, m.objs...)
		}
		slices.Sort(c.Components)
		slices.SortFunc(c.Objects, compareChecksum)
		switch len(c.Components) {
		case 1:
			c.Name = c.Components[0]
		case 2:
			c.Name = c.Components[0] + " and " + c.Components[1]
		default:
			c.Name = fmt.Sprintf("%d components", len(c.Components))
		}
		out = append(out, c)
	}
	return out, nil
}

func compareChecksum(a, b ostree.Checksum) int { return strings.Compare(string(a[:]), string(b[:])) }

// contentFile is a content object path of the commit.
type contentFile struct {
	path string
	csum ostree.Checksum
}

// walkContent lists the commit's content files (paths relative, sorted by
// the dirtree walk).
func walkContent(ctx context.Context, repo *ostree.Repo, tree ostree.Checksum, dir string, out *[]contentFile) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t, err := repo.ReadDirTree(tree)
	if err != nil {
		return err
	}
	for _, f := range t.Files {
		*out = append(*out, contentFile{dir + f.Name, f.Checksum})
	}
	for _, d := range t.Dirs {
		if err := walkContent(ctx, repo, d.TreeChecksum, dir+d.Name+"/", out); err != nil {
			return err
		}
	}
	return nil
}

// packageComponents maps the commit's content objects to packages and
// returns the packages' components, sorted by name. Unowned objects are in
// none.
func packageComponents(ctx context.Context, repo *ostree.Repo, csum ostree.Checksum) ([]*component, error) {
	cm, err := repo.ReadCommit(csum)
	if err != nil {
		return nil, err
	}
	var files []contentFile
	if err := walkContent(ctx, repo, cm.RootTree, "", &files); err != nil {
		return nil, err
	}
	objs := map[ostree.Checksum]*ostree.FileHeader{}
	byPath := map[string]ostree.Checksum{}
	for _, f := range files {
		objs[f.csum] = nil
		byPath[f.path] = f.csum
	}
	order := slices.SortedFunc(func(yield func(ostree.Checksum) bool) {
		for c := range objs {
			if !yield(c) {
				return
			}
		}
	}, compareChecksum)
	hdrs := make([]*ostree.FileHeader, len(order))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	for i, c := range order {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			h, err := repo.ReadContentHeader(c)
			if err != nil {
				return fmt.Errorf("content object %s: %w", c, err)
			}
			hdrs[i] = h
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i, c := range order {
		objs[c] = hdrs[i]
	}

	fsys, err := repo.FS(ctx, csum.String())
	if err != nil {
		return nil, err
	}
	db, err := deb.OpenDatabaseFS(fsys)
	if err != nil {
		return nil, fmt.Errorf("%w: chunking by package needs the dpkg database in /%s", err, deb.OSTreeAdminDir)
	}
	// Top-level symlinks into usr (the merged /usr: bin -> usr/bin).
	topLinks := map[string]string{}
	for _, f := range files {
		if strings.Contains(f.path, "/") {
			continue
		}
		if h := objs[f.csum]; h.IsSymlink() {
			t := strings.TrimPrefix(path.Clean(h.SymlinkTarget), "/")
			if t == "usr" || strings.HasPrefix(t, "usr/") {
				topLinks[f.path] = t
			}
		}
	}

	// owner: commit path -> component name (first in package order).
	native := db.Arch()
	names := map[string]string{} // InfoName -> component name
	owner := map[string]string{}
	for _, p := range db.Packages() {
		name := p.Name
		if p.Arch != native && p.Arch != "all" && native != "" {
			name = p.ID()
		}
		names[p.InfoName()] = name
		list, err := db.Files(p)
		if err != nil {
			return nil, err
		}
		for _, l := range list {
			cp := commitPath(l, topLinks)
			if _, ok := byPath[cp]; !ok {
				continue
			}
			if o, ok := owner[cp]; !ok || name < o {
				owner[cp] = name
			}
		}
	}
	// A diverted file is where the diversion sends it (dpkg-divert
	// --rename); the diverting package owns the original path.
	divs, err := db.Diversions()
	if err != nil {
		return nil, err
	}
	for _, d := range divs {
		owners, err := db.Owners(d.From)
		if err != nil {
			return nil, err
		}
		from, to := commitPath(d.From, topLinks), commitPath(d.To, topLinks)
		for _, o := range owners {
			pkg, _, _ := strings.Cut(o, ":")
			dp, _, _ := strings.Cut(d.Package, ":")
			_, isFile := byPath[from]
			switch {
			case pkg == dp && isFile:
				owner[from] = names[o]
			case pkg != dp:
				if _, ok := byPath[to]; !ok {
					continue
				}
				if cur, ok := owner[to]; !ok || names[o] < cur {
					owner[to] = names[o]
				}
			}
		}
	}
	infoDir := deb.OSTreeAdminDir + "/info/"
	if db.Dir() != deb.OSTreeAdminDir {
		infoDir = db.Dir() + "/info/"
	}
	ownerOf := func(p string) string {
		if o, ok := owner[p]; ok {
			return o
		}
		if rest, ok := strings.CutPrefix(p, infoDir); ok {
			if i := strings.LastIndexByte(rest, '.'); i > 0 {
				return names[rest[:i]]
			}
		}
		dir, base := path.Split(p)
		if base == "initramfs.img" && strings.HasPrefix(dir, "usr/lib/modules/") {
			return owner[dir+"vmlinuz"]
		}
		if parent, ok := strings.CutSuffix(dir, "__pycache__/"); ok && strings.HasSuffix(base, ".pyc") {
			if i := strings.IndexByte(base, '.'); i > 0 {
				return owner[parent+base[:i]+".py"]
			}
		}
		return ""
	}
	kernels := map[string]bool{}
	for p, o := range owner {
		if strings.HasPrefix(p, "usr/lib/modules/") && path.Base(p) == "vmlinuz" && strings.Count(p, "/") == 4 {
			kernels[o] = true
		}
	}

	// Each object goes to the first-sorting owner of its paths.
	objOwner := map[ostree.Checksum]string{}
	for _, f := range files {
		o := ownerOf(f.path)
		if o == "" {
			continue
		}
		if cur, ok := objOwner[f.csum]; !ok || o < cur {
			objOwner[f.csum] = o
		}
	}
	byName := map[string]*component{}
	for _, c := range order {
		o, ok := objOwner[c]
		if !ok {
			continue
		}
		comp := byName[o]
		if comp == nil {
			comp = &component{name: o, kernel: kernels[o]}
			byName[o] = comp
		}
		comp.objs = append(comp.objs, c)
		comp.size += int64(objs[c].Size)
	}
	out := make([]*component, 0, len(byName))
	for _, c := range byName {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *component) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// bootFiles are Debian's /boot/<prefix>$kver files and their name in
// usr/lib/modules/$kver after post-processing (package bootc moves them).
var bootFiles = []struct{ prefix, name string }{
	{"vmlinuz-", "vmlinuz"},
	{"initrd.img-", "initramfs.img"},
	{"config-", "config"},
	{"System.map-", "System.map"},
}

// commitPath maps a dpkg .list path to where post-processing put it in the
// commit.
func commitPath(l string, topLinks map[string]string) string {
	p := strings.TrimPrefix(path.Clean(l), "/")
	top, rest, _ := strings.Cut(p, "/")
	switch top {
	case "etc":
		return path.Join("usr/etc", rest)
	case "opt":
		if rest != "" {
			return path.Join("usr/lib/opt", rest)
		}
	case "boot":
		for _, b := range bootFiles {
			if kver, ok := strings.CutPrefix(rest, b.prefix); ok && kver != "" && !strings.Contains(kver, "/") {
				return path.Join("usr/lib/modules", kver, b.name)
			}
		}
	}
	if t, ok := topLinks[top]; ok {
		return path.Join(t, rest)
	}
	return p
}

// pack is the first build's packing into at most bins groups: the kernel
// alone, packages bigger than the average group alone (at most 60% of
// the groups), the rest in name order into groups of about equal size.
func pack(comps []*component, bins int) [][]*component {
	if bins <= 1 || len(comps) <= 1 {
		return [][]*component{comps}
	}
	var out [][]*component
	var rest []*component
	for _, c := range comps {
		if c.kernel && bins-len(out) > 1 {
			out = append(out, []*component{c})
			continue
		}
		rest = append(rest, c)
	}
	left := bins - len(out)
	if len(rest) <= left {
		for _, c := range rest {
			out = append(out, []*component{c})
		}
		return out
	}
	bySize := slices.Clone(rest)
	slices.SortStableFunc(bySize, func(a, b *component) int { return cmp.Compare(b.size, a.size) })
	var total int64
	for _, c := range rest {
		total += c.size
	}
	alone := map[*component]bool{}
	maxAlone := bins * 6 / 10
	for _, c := range bySize {
		if left <= 1 || len(alone) >= maxAlone || len(rest)-len(alone) <= left {
			break
		}
		if c.size*int64(left) < total {
			break // not above the average
		}
		alone[c] = true
		out = append(out, []*component{c})
		total -= c.size
		left--
	}
	var small []*component
	for _, c := range rest {
		if !alone[c] {
			small = append(small, c)
		}
	}
	return append(out, packBySize(small, left, total)...)
}

// packBySize splits comps (in name order) into at most bins consecutive
// groups of about total/bins bytes.
func packBySize(comps []*component, bins int, total int64) [][]*component {
	if len(comps) == 0 {
		return nil
	}
	if len(comps) <= bins {
		out := make([][]*component, len(comps))
		for i, c := range comps {
			out[i] = []*component{c}
		}
		return out
	}
	var out [][]*component
	var cur []*component
	var size int64
	for i, c := range comps {
		cur = append(cur, c)
		size += c.size
		left := bins - len(out)
		// Close the group at the average of what is left, unless it is
		// the last group or the rest needs one group each.
		if left > 1 && (size*int64(left) >= total || len(comps)-i-1 < left) {
			out = append(out, cur)
			total -= size
			cur, size = nil, 0
		}
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// packPrevious keeps the previous build's groups (minus removed packages)
// in their order, and packs the new packages into the groups left free.
func packPrevious(comps []*component, prev [][]string, bins int) [][]*component {
	byName := map[string]*component{}
	for _, c := range comps {
		byName[c.name] = c
	}
	used := map[string]bool{}
	var out [][]*component
	for _, names := range prev {
		var g []*component
		for _, n := range names {
			if c := byName[n]; c != nil && !used[n] {
				used[n] = true
				g = append(g, c)
			}
		}
		if len(g) > 0 {
			out = append(out, g)
		}
	}
	var added []*component
	for _, c := range comps {
		if !used[c.name] {
			added = append(added, c)
		}
	}
	if len(out) > bins {
		// Fewer layers than before: merge the last groups.
		last := out[bins-1]
		for _, g := range out[bins:] {
			last = append(last, g...)
		}
		out = append(out[:bins-1], last)
	}
	if len(added) == 0 {
		return out
	}
	if free := bins - len(out); free > 0 {
		return append(out, pack(added, free)...)
	}
	out[len(out)-1] = append(out[len(out)-1], added...)
	return out
}
