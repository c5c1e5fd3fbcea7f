package deb

import (
	"archive/tar"
	"fmt"
	"io/fs"
)

// Takeover is a path a package overwrote that an installed package owned.
type Takeover struct {
	Path string // as in .list, "/usr/bin/foo"
	From string // InfoName of the installed package that had it
}

// Device is a character or block device node shipped in a data.tar. Unpack
// never creates one on the host: the image gets it at boot (a tmpfiles.d
// "c" or "b" line) or not at all.
type Device struct {
	Path         string // as in .list, "/dev/foo"
	Block        bool   // a block device; else a character device
	Major, Minor int64
	Mode         fs.FileMode // permission bits
	Uid, Gid     int
}

// TmpfilesLine renders d as a systemd tmpfiles.d line creating it with
// numeric owner and group, e.g. "c /dev/foo 0666 0 0 - 1:1".
func (d Device) TmpfilesLine() string {
	t := "c"
	if d.Block {
		t = "b"
	}
	return fmt.Sprintf("%s %s %04o %d %d - %d:%d", t, d.Path, uint32(d.Mode.Perm()), d.Uid, d.Gid, d.Major, d.Minor)
}

func deviceOf(line string, h *tar.Header) Device {
	return Device{Path: line, Block: h.Typeflag == tar.TypeBlock, Major: h.Devmajor, Minor: h.Devminor,
		Mode: fs.FileMode(h.Mode & 0o777), Uid: h.Uid, Gid: h.Gid}
}
