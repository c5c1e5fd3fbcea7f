package bootc

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// mknod makes a device node, skipping the test where that is not allowed
// (an unprivileged user or container), unless CI=true.
func mknod(t *testing.T, p string, mode uint32, major, minor uint32) {
	t.Helper()
	if err := unix.Mknod(p, mode, int(unix.Mkdev(major, minor))); err != nil {
		if errors.Is(err, syscall.EPERM) && os.Getenv("CI") != "true" {
			t.Skipf("mknod not permitted: %v", err)
		}
		t.Fatal(err)
	}
}

func TestPostprocessDevicesWhiteoutsAndSpecialFiles(t *testing.T) {
	root := mkTree(t, dir("usr/share/x", 0), dir("var/lib", 0))
	mknod(t, filepath.Join(root, "usr/share/x/gone"), unix.S_IFCHR|0o640, 0, 0)
	mknod(t, filepath.Join(root, "usr/share/null"), unix.S_IFCHR|0o666, 1, 3)
	mknod(t, filepath.Join(root, "var/lib/sda"), unix.S_IFBLK|0o660, 8, 0)
	if err := syscall.Mkfifo(filepath.Join(root, "var/lib/fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(root, "var/lib/sock"))
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	var log bytes.Buffer
	if err := postprocessDevices(context.Background(), root, testOptions(&log)); err != nil {
		t.Fatal(err)
	}
	wantTree(t, root, map[string]string{
		"usr/share/x/gone":            "",
		"usr/share/x/.ostree-wh.gone": "f 0640 ",
		"usr/share/null":              "",
		"var/lib/sda":                 "",
		"var/lib/fifo":                "",
		"var/lib/sock":                "",
	})
	for _, want := range []string{"path=/usr/share/null", "path=/var/lib/sda", "path=/var/lib/fifo", "path=/var/lib/sock", "count=1"} {
		if !bytes.Contains(log.Bytes(), []byte(want)) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

func TestPostprocessDevicesFailOnDevices(t *testing.T) {
	root := mkTree(t, dir("usr/share", 0))
	mknod(t, filepath.Join(root, "usr/share/null"), unix.S_IFCHR|0o666, 1, 3)
	var log bytes.Buffer
	opts := testOptions(&log)
	opts.FailOnDevices = true
	wantErr(t, postprocessDevices(context.Background(), root, opts), "device node /usr/share/null")
}

func TestCheckUTF8Filenames(t *testing.T) {
	tests := []struct {
		name string
		tree []entry
		err  string
	}{
		{name: "fine", tree: []entry{file("usr/share/doc/café", ""), link("usr/bin/x", "café")}},
		{name: "bad name", tree: []entry{file("usr/share/bad\xff", "")}, err: `"/usr/share/bad\xff": file name is not UTF-8`},
		{name: "bad target", tree: []entry{link("usr/bin/x", "bad\xfe")}, err: "symlink target"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var log bytes.Buffer
			wantErr(t, checkUTF8Filenames(context.Background(), mkTree(t, tc.tree...), testOptions(&log)), tc.err)
		})
	}
}
