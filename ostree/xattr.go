package ostree

import (
	"bytes"
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// readXattrs returns the extended attributes of path (not following
// symlinks), sorted by name, skipping empty values as libostree does.
func readXattrs(path string) ([]Xattr, error) {
	names, err := listXattrs(path)
	if err != nil || len(names) == 0 {
		return nil, err
	}
	out := make([]Xattr, 0, len(names))
	buf := make([]byte, 1024)
	for _, name := range names {
		var v []byte
		for {
			n, err := unix.Lgetxattr(path, name, buf)
			if errors.Is(err, unix.ERANGE) {
				sz, err := unix.Lgetxattr(path, name, nil)
				if err != nil {
					return nil, fmt.Errorf("lgetxattr %s %s: %w", path, name, err)
				}
				buf = make([]byte, sz+256)
				continue
			}
			if errors.Is(err, unix.ENODATA) {
				break // removed meanwhile
			}
			if err != nil {
				return nil, fmt.Errorf("lgetxattr %s %s: %w", path, name, err)
			}
			v = bytes.Clone(buf[:n])
			break
		}
		if len(v) > 0 {
			out = append(out, Xattr{Name: name, Value: v})
		}
	}
	sortXattrs(out)
	return out, nil
}

func listXattrs(path string) ([]string, error) {
	buf := make([]byte, 512)
	for {
		n, err := unix.Llistxattr(path, buf)
		if errors.Is(err, unix.ERANGE) {
			sz, err := unix.Llistxattr(path, nil)
			if err != nil {
				return nil, fmt.Errorf("llistxattr %s: %w", path, err)
			}
			buf = make([]byte, sz+256)
			continue
		}
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("llistxattr %s: %w", path, err)
		}
		var names []string
		for _, b := range bytes.Split(buf[:n], []byte{0}) {
			if len(b) > 0 {
				names = append(names, string(b))
			}
		}
		return names, nil
	}
}
