package ostree

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apt-ostree/apt-ostree/ostree/gvariant"
)

// ObjectType is an OSTree object type; the values match libostree's enum.
type ObjectType int

const (
	ObjectFile       ObjectType = 1
	ObjectDirTree    ObjectType = 2
	ObjectDirMeta    ObjectType = 3
	ObjectCommit     ObjectType = 4
	ObjectCommitMeta ObjectType = 6
)

func (t ObjectType) String() string {
	switch t {
	case ObjectFile:
		return "file"
	case ObjectDirTree:
		return "dirtree"
	case ObjectDirMeta:
		return "dirmeta"
	case ObjectCommit:
		return "commit"
	case ObjectCommitMeta:
		return "commitmeta"
	}
	return fmt.Sprintf("objtype(%d)", int(t))
}

// File type bits of a Unix mode as stored in OSTree objects.
const (
	modeTypeMask = 0o170000
	modeDir      = 0o040000
	modeReg      = 0o100000
	modeSymlink  = 0o120000
)

// Checksum is a SHA-256 object name.
type Checksum [32]byte

func (c Checksum) String() string { return hex.EncodeToString(c[:]) }

// ParseChecksum parses a 64-character lowercase hex object name.
func ParseChecksum(s string) (Checksum, error) {
	var c Checksum
	if len(s) != 64 || strings.ToLower(s) != s {
		return c, fmt.Errorf("invalid checksum %q: want 64 lowercase hex digits", s)
	}
	if _, err := hex.Decode(c[:], []byte(s)); err != nil {
		return c, fmt.Errorf("invalid checksum %q: %w", s, err)
	}
	return c, nil
}

func checksumFromBytes(b []byte) (Checksum, error) {
	var c Checksum
	if len(b) != 32 {
		return c, fmt.Errorf("checksum field has %d bytes, want 32", len(b))
	}
	copy(c[:], b)
	return c, nil
}

// Xattr is one extended attribute. Name has no trailing NUL; Value is raw.
type Xattr struct {
	Name  string
	Value []byte
}

func sortXattrs(x []Xattr) {
	slices.SortFunc(x, func(a, b Xattr) int { return strings.Compare(a.Name, b.Name) })
}

func xattrsValue(x []Xattr) []any {
	out := make([]any, len(x))
	for i, a := range x {
		name := make([]byte, len(a.Name)+1)
		copy(name, a.Name)
		out[i] = []any{name, a.Value}
	}
	return out
}

func parseXattrs(v any) ([]Xattr, error) {
	list, _ := v.([]any)
	out := make([]Xattr, 0, len(list))
	for _, e := range list {
		pair := e.([]any)
		name := pair[0].([]byte)
		if len(name) < 2 || name[len(name)-1] != 0 || bytes.IndexByte(name[:len(name)-1], 0) >= 0 {
			return nil, fmt.Errorf("invalid xattr name %q", name)
		}
		out = append(out, Xattr{Name: string(name[:len(name)-1]), Value: pair[1].([]byte)})
	}
	for i := 1; i < len(out); i++ {
		if out[i-1].Name >= out[i].Name {
			return nil, fmt.Errorf("xattrs not sorted or duplicated at %q", out[i].Name)
		}
	}
	return out, nil
}

func be32(v uint32) uint32 { return bits.ReverseBytes32(v) }
func be64(v uint64) uint64 { return bits.ReverseBytes64(v) }

var (
	typeDirMeta    = gvariant.MustParseType("(uuua(ayay))")
	typeDirTree    = gvariant.MustParseType("(a(say)a(sayay))")
	typeFileHeader = gvariant.MustParseType("(uuuusa(ayay))")
	typeZHeader    = gvariant.MustParseType("(tuuuusa(ayay))")
	typeCommit     = gvariant.MustParseType("(a{sv}aya(say)sstayay)")
	typeVardict    = gvariant.MustParseType("a{sv}")
	typeXattrs     = gvariant.MustParseType("a(ayay)")
)

// DirMeta is a dirmeta object: ownership, mode (including S_IFDIR) and xattrs of a directory.
type DirMeta struct {
	UID, GID, Mode uint32
	Xattrs         []Xattr
}

// MarshalBinary encodes m as (uuua(ayay)) with big-endian uid/gid/mode.
func (m *DirMeta) MarshalBinary() ([]byte, error) {
	if m.Mode&modeTypeMask != modeDir || m.Mode&^(modeTypeMask|0o7777) != 0 {
		return nil, fmt.Errorf("dirmeta: invalid directory mode %#o", m.Mode)
	}
	x := slices.Clone(m.Xattrs)
	sortXattrs(x)
	return gvariant.MarshalType(typeDirMeta, []any{be32(m.UID), be32(m.GID), be32(m.Mode), xattrsValue(x)})
}

// ParseDirMeta decodes a dirmeta object.
func ParseDirMeta(data []byte) (*DirMeta, error) {
	v, err := gvariant.UnmarshalType(typeDirMeta, data)
	if err != nil {
		return nil, fmt.Errorf("dirmeta: %w", err)
	}
	t := v.([]any)
	x, err := parseXattrs(t[3])
	if err != nil {
		return nil, fmt.Errorf("dirmeta: %w", err)
	}
	m := &DirMeta{UID: be32(t[0].(uint32)), GID: be32(t[1].(uint32)), Mode: be32(t[2].(uint32)), Xattrs: x}
	if m.Mode&modeTypeMask != modeDir {
		return nil, fmt.Errorf("dirmeta: mode %#o is not a directory", m.Mode)
	}
	return m, nil
}

// DirTreeFile is a file or symlink entry of a dirtree.
type DirTreeFile struct {
	Name     string
	Checksum Checksum
}

// DirTreeDir is a subdirectory entry of a dirtree.
type DirTreeDir struct {
	Name                       string
	TreeChecksum, MetaChecksum Checksum
}

// DirTree is a dirtree object: the names in one directory.
type DirTree struct {
	Files []DirTreeFile
	Dirs  []DirTreeDir
}

// ValidateName reports whether name can be stored in a dirtree.
func ValidateName(name string) error {
	switch {
	case name == "", name == ".", name == "..":
		return fmt.Errorf("invalid file name %q", name)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("invalid file name %q: contains '/' or NUL", name)
	case !utf8.ValidString(name):
		return fmt.Errorf("invalid file name %q: not valid UTF-8 (ostree cannot store it)", name)
	}
	return nil
}

// MarshalBinary encodes t with both entry lists sorted by name.
func (t *DirTree) MarshalBinary() ([]byte, error) {
	files := slices.Clone(t.Files)
	slices.SortFunc(files, func(a, b DirTreeFile) int { return strings.Compare(a.Name, b.Name) })
	dirs := slices.Clone(t.Dirs)
	slices.SortFunc(dirs, func(a, b DirTreeDir) int { return strings.Compare(a.Name, b.Name) })
	fv := make([]any, len(files))
	for i, f := range files {
		if err := ValidateName(f.Name); err != nil {
			return nil, err
		}
		if i > 0 && files[i-1].Name == f.Name {
			return nil, fmt.Errorf("dirtree: duplicate name %q", f.Name)
		}
		fv[i] = []any{f.Name, f.Checksum[:]}
	}
	dv := make([]any, len(dirs))
	for i, d := range dirs {
		if err := ValidateName(d.Name); err != nil {
			return nil, err
		}
		if i > 0 && dirs[i-1].Name == d.Name {
			return nil, fmt.Errorf("dirtree: duplicate name %q", d.Name)
		}
		if _, dup := slices.BinarySearchFunc(files, d.Name, func(f DirTreeFile, n string) int { return strings.Compare(f.Name, n) }); dup {
			return nil, fmt.Errorf("dirtree: %q is both a file and a directory", d.Name)
		}
		dv[i] = []any{d.Name, d.TreeChecksum[:], d.MetaChecksum[:]}
	}
	return gvariant.MarshalType(typeDirTree, []any{fv, dv})
}

// ParseDirTree decodes a dirtree object.
func ParseDirTree(data []byte) (*DirTree, error) {
	v, err := gvariant.UnmarshalType(typeDirTree, data)
	if err != nil {
		return nil, fmt.Errorf("dirtree: %w", err)
	}
	tv := v.([]any)
	t := &DirTree{}
	for _, e := range tv[0].([]any) {
		f := e.([]any)
		c, err := checksumFromBytes(f[1].([]byte))
		if err != nil {
			return nil, fmt.Errorf("dirtree entry %q: %w", f[0], err)
		}
		t.Files = append(t.Files, DirTreeFile{Name: f[0].(string), Checksum: c})
	}
	for _, e := range tv[1].([]any) {
		d := e.([]any)
		tc, err := checksumFromBytes(d[1].([]byte))
		if err != nil {
			return nil, fmt.Errorf("dirtree entry %q: %w", d[0], err)
		}
		mc, err := checksumFromBytes(d[2].([]byte))
		if err != nil {
			return nil, fmt.Errorf("dirtree entry %q: %w", d[0], err)
		}
		t.Dirs = append(t.Dirs, DirTreeDir{Name: d[0].(string), TreeChecksum: tc, MetaChecksum: mc})
	}
	return t, nil
}

// FileHeader describes a content object: a regular file or a symlink.
type FileHeader struct {
	UID, GID uint32
	Mode     uint32 // including S_IFREG or S_IFLNK
	Size     uint64 // content length of a regular file; 0 for symlinks
	// SymlinkTarget is the link text for symlinks, empty for regular files.
	SymlinkTarget string
	Xattrs        []Xattr // sorted by name
}

// IsSymlink reports whether h describes a symlink.
func (h *FileHeader) IsSymlink() bool { return h.Mode&modeTypeMask == modeSymlink }

func (h *FileHeader) validate() error {
	switch h.Mode & modeTypeMask {
	case modeReg:
		if h.SymlinkTarget != "" {
			return fmt.Errorf("regular file with a symlink target")
		}
	case modeSymlink:
		if h.SymlinkTarget == "" {
			return fmt.Errorf("symlink with an empty target")
		}
	default:
		return fmt.Errorf("unsupported file type in mode %#o: ostree stores only regular files and symlinks", h.Mode)
	}
	if h.Mode&^(modeTypeMask|0o7777) != 0 {
		return fmt.Errorf("invalid mode %#o", h.Mode)
	}
	for i := 1; i < len(h.Xattrs); i++ {
		if h.Xattrs[i-1].Name >= h.Xattrs[i].Name {
			return fmt.Errorf("xattrs not sorted or duplicated at %q", h.Xattrs[i].Name)
		}
	}
	return nil
}

func wrapHeader(v []byte) []byte {
	out := make([]byte, 8, 8+len(v))
	binary.BigEndian.PutUint32(out, uint32(len(v)))
	return append(out, v...)
}

// checksumHeader is the wrapped (uuuusa(ayay)) that prefixes a content
// object's checksum input.
func (h *FileHeader) checksumHeader() ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	v, err := gvariant.MarshalType(typeFileHeader, []any{be32(h.UID), be32(h.GID), be32(h.Mode), uint32(0), h.SymlinkTarget, xattrsValue(h.Xattrs)})
	if err != nil {
		return nil, err
	}
	return wrapHeader(v), nil
}

// archiveHeader is the wrapped (tuuuusa(ayay)) at the start of a .filez object.
func (h *FileHeader) archiveHeader() ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, err
	}
	size := h.Size
	if h.IsSymlink() {
		size = 0
	}
	v, err := gvariant.MarshalType(typeZHeader, []any{be64(size), be32(h.UID), be32(h.GID), be32(h.Mode), uint32(0), h.SymlinkTarget, xattrsValue(h.Xattrs)})
	if err != nil {
		return nil, err
	}
	return wrapHeader(v), nil
}

// bareUserMeta is the user.ostreemeta xattr value of a bare-user object.
func (h *FileHeader) bareUserMeta() ([]byte, error) {
	return gvariant.MarshalType(typeDirMeta, []any{be32(h.UID), be32(h.GID), be32(h.Mode), xattrsValue(h.Xattrs)})
}

func parseArchiveHeader(v []byte) (*FileHeader, error) {
	d, err := gvariant.UnmarshalType(typeZHeader, v)
	if err != nil {
		return nil, err
	}
	t := d.([]any)
	x, err := parseXattrs(t[6])
	if err != nil {
		return nil, err
	}
	h := &FileHeader{Size: be64(t[0].(uint64)), UID: be32(t[1].(uint32)), GID: be32(t[2].(uint32)), Mode: be32(t[3].(uint32)), SymlinkTarget: t[5].(string), Xattrs: x}
	if t[4].(uint32) != 0 {
		return nil, fmt.Errorf("rdev must be 0")
	}
	return h, h.validate()
}

func parseBareUserMeta(v []byte) (*FileHeader, error) {
	d, err := gvariant.UnmarshalType(typeDirMeta, v)
	if err != nil {
		return nil, err
	}
	t := d.([]any)
	x, err := parseXattrs(t[3])
	if err != nil {
		return nil, err
	}
	return &FileHeader{UID: be32(t[0].(uint32)), GID: be32(t[1].(uint32)), Mode: be32(t[2].(uint32)), Xattrs: x}, nil
}

// Commit is a commit object.
type Commit struct {
	// Metadata values: see MetadataVariant for the accepted Go types.
	Metadata map[string]any
	// MetadataOrder is the key order in the encoded dictionary. Keys not
	// listed follow in sorted order; ParseCommit records the stored order so
	// a parsed commit re-encodes to the same bytes.
	MetadataOrder []string
	Parent        *Checksum // nil for a commit without parent
	Subject       string
	Body          string
	Timestamp     time.Time
	RootTree      Checksum
	RootMeta      Checksum
}

// ContentChecksum is the commit-independent id of the commit's tree, as
// printed by `ostree show` ("ContentChecksum").
func (c *Commit) ContentChecksum() Checksum {
	return ContentChecksum(c.RootTree, c.RootMeta)
}

// ContentChecksum returns sha256(rootTree ‖ rootMeta).
func ContentChecksum(rootTree, rootMeta Checksum) Checksum {
	return sha256.Sum256(append(rootTree[:], rootMeta[:]...))
}

// MarshalBinary encodes c. Metadata keys are written in sorted order so the
// commit checksum is reproducible.
func (c *Commit) MarshalBinary() ([]byte, error) {
	md, err := metadataValue(c.Metadata, c.MetadataOrder)
	if err != nil {
		return nil, fmt.Errorf("commit metadata: %w", err)
	}
	var parent []byte
	if c.Parent != nil {
		parent = c.Parent[:]
	}
	ts := c.Timestamp.Unix()
	if ts < 0 {
		return nil, fmt.Errorf("commit timestamp %v is before 1970", c.Timestamp)
	}
	return gvariant.MarshalType(typeCommit, []any{md, parent, []any{}, c.Subject, c.Body, be64(uint64(ts)), c.RootTree[:], c.RootMeta[:]})
}

// ParseCommit decodes a commit object.
func ParseCommit(data []byte) (*Commit, error) {
	v, err := gvariant.UnmarshalType(typeCommit, data)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	t := v.([]any)
	md, order, err := parseMetadata(t[0])
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	c := &Commit{Metadata: md, MetadataOrder: order, Subject: t[3].(string), Body: t[4].(string), Timestamp: time.Unix(int64(be64(t[5].(uint64))), 0).UTC()}
	if p := t[1].([]byte); len(p) > 0 {
		pc, err := checksumFromBytes(p)
		if err != nil {
			return nil, fmt.Errorf("commit parent: %w", err)
		}
		c.Parent = &pc
	}
	if c.RootTree, err = checksumFromBytes(t[6].([]byte)); err != nil {
		return nil, fmt.Errorf("commit root tree: %w", err)
	}
	if c.RootMeta, err = checksumFromBytes(t[7].([]byte)); err != nil {
		return nil, fmt.Errorf("commit root meta: %w", err)
	}
	return c, nil
}

// MarshalMetadata encodes an a{sv} dictionary (e.g. detached commit metadata)
// with sorted keys.
func MarshalMetadata(md map[string]any) ([]byte, error) {
	v, err := metadataValue(md, nil)
	if err != nil {
		return nil, err
	}
	return gvariant.MarshalType(typeVardict, v)
}

// ParseMetadata decodes an a{sv} dictionary.
func ParseMetadata(data []byte) (map[string]any, error) {
	v, err := gvariant.UnmarshalType(typeVardict, data)
	if err != nil {
		return nil, err
	}
	md, _, err := parseMetadata(v)
	return md, err
}

// MetadataVariant converts a Go metadata value into its GVariant form:
// string → s, bool → b, uint64 → t, uint32 → u, int64 → x, int32 → i,
// []string → as, []byte → ay, [][]byte → aay, gvariant.Variant as is.
func MetadataVariant(v any) (gvariant.Variant, error) {
	switch x := v.(type) {
	case string:
		return gvariant.Variant{Type: "s", Value: x}, nil
	case bool:
		return gvariant.Variant{Type: "b", Value: x}, nil
	case uint64:
		return gvariant.Variant{Type: "t", Value: x}, nil
	case uint32:
		return gvariant.Variant{Type: "u", Value: x}, nil
	case int64:
		return gvariant.Variant{Type: "x", Value: x}, nil
	case int32:
		return gvariant.Variant{Type: "i", Value: x}, nil
	case []string:
		return gvariant.Variant{Type: "as", Value: x}, nil
	case []byte:
		return gvariant.Variant{Type: "ay", Value: x}, nil
	case [][]byte:
		return gvariant.Variant{Type: "aay", Value: x}, nil
	case gvariant.Variant:
		return x, nil
	}
	return gvariant.Variant{}, fmt.Errorf("unsupported metadata value type %T (use gvariant.Variant)", v)
}

func metadataValue(md map[string]any, order []string) ([]any, error) {
	keys := make([]string, 0, len(md))
	seen := map[string]bool{}
	for _, k := range order {
		if _, ok := md[k]; ok && !seen[k] {
			keys = append(keys, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range md {
		if k == "" {
			return nil, errors.New("empty metadata key")
		}
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	keys = append(keys, rest...)
	out := make([]any, 0, len(keys))
	for _, k := range keys {
		v, err := MetadataVariant(md[k])
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", k, err)
		}
		out = append(out, []any{k, v})
	}
	return out, nil
}

// parseMetadata turns a decoded a{sv} into a map, unwrapping the variant
// types MetadataVariant produces and keeping others as gvariant.Variant.
func parseMetadata(v any) (map[string]any, []string, error) {
	md := map[string]any{}
	var order []string
	for _, e := range v.([]any) {
		kv := e.([]any)
		k := kv[0].(string)
		if _, dup := md[k]; dup {
			return nil, nil, fmt.Errorf("duplicate metadata key %q", k)
		}
		order = append(order, k)
		vv := kv[1].(gvariant.Variant)
		switch vv.Type {
		case "s", "b", "t", "u", "x", "i", "as", "ay":
			md[k] = vv.Value
		case "aay":
			list := vv.Value.([]any)
			out := make([][]byte, len(list))
			for i, b := range list {
				out[i] = b.([]byte)
			}
			md[k] = out
		default:
			md[k] = vv
		}
	}
	return md, order, nil
}
