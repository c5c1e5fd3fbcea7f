package ostree

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"slices"

	"github.com/apt-ostree/apt-ostree/ostree/gvariant"
)

// MarshalXattrs encodes xattrs as the normal-form a(ayay) of a
// .file-xattrs object (sorted by name; empty input gives empty bytes).
func MarshalXattrs(x []Xattr) ([]byte, error) {
	x = slices.Clone(x)
	sortXattrs(x)
	return gvariant.Marshal("a(ayay)", xattrsValue(x))
}

// ParseXattrs decodes the a(ayay) bytes of a .file-xattrs object. They must
// be in normal form (Unmarshal checks it) and sorted by name.
func ParseXattrs(data []byte) ([]Xattr, error) {
	v, err := gvariant.Unmarshal("a(ayay)", data)
	if err != nil {
		return nil, fmt.Errorf("xattrs: %w", err)
	}
	return parseXattrs(v)
}

// NewContentHash returns the hash of a content object with header h, primed
// with the header: write the file's content (nothing for a symlink) and
// Sum gives the object's checksum.
func NewContentHash(h *FileHeader) (hash.Hash, error) {
	hdr, err := h.checksumHeader()
	if err != nil {
		return nil, err
	}
	s := sha256.New()
	s.Write(hdr)
	return s, nil
}
