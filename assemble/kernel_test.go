package assemble

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
)

// fakeKernel mimics linux-image: its postinst runs the initramfs hook
// unless INITRD=No, as /etc/kernel/postinst.d/initramfs-tools does.
func fakeKernel(ver string) testdeb.Package {
	return testdeb.Package{Name: "linux-image-" + ver,
		Files: []testdeb.File{
			{Path: "boot/vmlinuz-" + ver, Body: "kernel " + ver},
			{Path: "usr/lib/modules/" + ver + "/modules.dep", Body: ""},
		},
		Scripts: map[string]string{"postinst": "#!/bin/sh\necho \"INITRD=$INITRD\" >> /var/kernel-postinst\n" +
			"[ \"$INITRD\" = No ] || update-initramfs -c -k " + ver + "\n"},
	}
}

// fakeInitramfsTools records each build and writes /boot/initrd.img-<ver>.
var fakeInitramfsTools = testdeb.Package{Name: "initramfs-tools", Files: []testdeb.File{{Path: "usr/sbin/update-initramfs", Mode: 0o755,
	Body: "#!/bin/sh\necho \"$*\" >> /var/initramfs-builds\necho image > /boot/initrd.img-$3\n"}}}

var fakeDracut = testdeb.Package{Name: "dracut", Files: []testdeb.File{{Path: "usr/bin/dracut", Mode: 0o755,
	Body: "#!/bin/sh\necho \"$*\" >> /var/initramfs-builds\nfor last; do :; done\necho image > \"$last\"\n"}}}

func TestRunBuildsInitramfsOnce(t *testing.T) {
	root := newRoot(t, fakeKernel("6.1.0-test"), fakeInitramfsTools)
	timings := &Timings{}
	k, err := Run(context.Background(), root, Steps{}, Options{Timings: timings})
	if err != nil {
		t.Fatal(err)
	}
	want := &Kernel{Version: "6.1.0-test", Vmlinuz: "usr/lib/modules/6.1.0-test/vmlinuz", Initramfs: "usr/lib/modules/6.1.0-test/initramfs.img", Generator: "initramfs-tools"}
	if *k != *want {
		t.Errorf("kernel %+v, want %+v", k, want)
	}
	if got := readFile(t, filepath.Join(root, "var/kernel-postinst")); got != "INITRD=No\n" {
		t.Errorf("kernel postinst saw %q", got)
	}
	if got := readFile(t, filepath.Join(root, "var/initramfs-builds")); got != "-c -k 6.1.0-test\n" {
		t.Errorf("initramfs builds: %q", got)
	}
	img, err := os.Stat(filepath.Join(root, want.Initramfs))
	if err != nil || img.Mode().Perm() != 0o644 {
		t.Errorf("initramfs: %v %v", img, err)
	}
	if _, err := os.Stat(filepath.Join(root, "boot/initrd.img-6.1.0-test")); err == nil {
		t.Error("initramfs left in /boot")
	}
	a, _ := os.Stat(filepath.Join(root, want.Vmlinuz))
	b, _ := os.Stat(filepath.Join(root, "boot/vmlinuz-6.1.0-test"))
	if a == nil || b == nil || a.Sys().(*syscall.Stat_t).Ino != b.Sys().(*syscall.Stat_t).Ino {
		t.Error("vmlinuz is not a hard link of boot/vmlinuz-<ver> (dpkg still owns that path)")
	}
	for _, p := range []string{"preinst", "configure", "initramfs"} {
		if !strings.Contains(timings.String(), p+" ") {
			t.Errorf("timings %q lack %s", timings, p)
		}
	}
}

func TestInitramfsDracutArgs(t *testing.T) {
	tests := []struct {
		args []string
		want string
		// gzip: apt-ostree compresses dracut's uncompressed image itself.
		gzip bool
	}{
		{nil, "--force --reproducible --no-compress --no-hostonly --kver 6.2-test /usr/lib/modules/6.2-test/.initramfs.img.raw\n", true},
		{[]string{"--hostonly", "--add", "foo"}, "--force --reproducible --no-compress --hostonly --add foo --kver 6.2-test /usr/lib/modules/6.2-test/.initramfs.img.raw\n", true},
		{[]string{"--zstd"}, "--force --reproducible --zstd --kver 6.2-test /usr/lib/modules/6.2-test/initramfs.img\n", false},
	}
	for _, tt := range tests {
		root := newRoot(t, fakeKernel("6.2-test"), fakeDracut)
		if err := Configure(context.Background(), root, Options{}); err != nil {
			t.Fatal(err)
		}
		k, err := Initramfs(context.Background(), root, Options{InitramfsArgs: tt.args})
		if err != nil {
			t.Fatal(err)
		}
		if k.Generator != "dracut" {
			t.Errorf("generator %q", k.Generator)
		}
		if got := readFile(t, filepath.Join(root, "var/initramfs-builds")); got != tt.want {
			t.Errorf("dracut %q, want %q", got, tt.want)
		}
		img := filepath.Join(root, k.Initramfs)
		if tt.gzip {
			f, err := os.Open(img)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(f)
			if err != nil {
				t.Fatalf("initramfs is not gzip: %v", err)
			}
			if data, err := io.ReadAll(zr); err != nil || string(data) != "image\n" {
				t.Errorf("initramfs decompresses to %q, %v", data, err)
			}
			f.Close()
		} else if got := readFile(t, img); got != "image\n" {
			t.Errorf("initramfs %q: dracut's own output must be kept", got)
		}
		if m, _ := filepath.Glob(filepath.Join(filepath.Dir(img), ".initramfs*")); len(m) > 0 {
			t.Errorf("temporary files left: %v", m)
		}
	}
}

// TestEarlyCpioKeptUncompressed builds dracut's layout, an early cpio
// (microcode) followed by the main archive, and checks that only the main
// archive is compressed.
func TestEarlyCpioKeptUncompressed(t *testing.T) {
	cpio := func(names ...string) []byte {
		var b bytes.Buffer
		for _, n := range append(names, "TRAILER!!!") {
			fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", 0, 0o100644, 0, 0, 1, 0, 1, 0, 0, 0, 0, len(n)+1, 0)
			b.WriteString(n + "\x00")
			for b.Len()%4 != 0 {
				b.WriteByte(0)
			}
			if n != "TRAILER!!!" {
				b.WriteString("x\x00\x00\x00")
			}
		}
		return b.Bytes()
	}
	early := cpio("early_cpio", "kernel/x86/microcode/GenuineIntel.bin")
	for len(early)%512 != 0 {
		early = append(early, 0)
	}
	main := cpio("init", "usr/bin/sh")
	for _, tt := range []struct {
		name      string
		raw       []byte
		keepBytes int
	}{
		{"early+main", append(append([]byte{}, early...), main...), len(early)},
		{"main only", main, 0},
		{"not cpio", []byte("plain data"), 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			raw, dst := filepath.Join(dir, "raw"), filepath.Join(dir, "initramfs.img")
			if err := os.WriteFile(raw, tt.raw, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := compressInitramfs(raw, dst); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(dst)
			if !bytes.Equal(got[:tt.keepBytes], tt.raw[:tt.keepBytes]) {
				t.Fatal("early cpio was not kept as is")
			}
			zr, err := gzip.NewReader(bytes.NewReader(got[tt.keepBytes:]))
			if err != nil {
				t.Fatalf("no gzip stream after %d bytes: %v", tt.keepBytes, err)
			}
			rest, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(rest, tt.raw[tt.keepBytes:]) {
				t.Errorf("compressed part does not round-trip: %v", err)
			}
		})
	}
}

func TestInitramfsKernelCount(t *testing.T) {
	root := newRoot(t)
	if k, err := Initramfs(context.Background(), root, Options{}); k != nil || err != nil {
		t.Errorf("no kernel: %v %v", k, err)
	}
	root = newRoot(t, fakeKernel("1-a"), fakeKernel("2-b"), fakeInitramfsTools)
	if _, err := Initramfs(context.Background(), root, Options{}); !errors.Is(err, ErrMultipleKernels) || !strings.Contains(err.Error(), "1-a, 2-b") {
		t.Errorf("two kernels: %v", err)
	}
	root = newRoot(t, fakeKernel("3-c"))
	if _, err := Initramfs(context.Background(), root, Options{}); err == nil || !strings.Contains(err.Error(), "neither dracut nor initramfs-tools") {
		t.Errorf("no generator: %v", err)
	}
	k, err := Initramfs(context.Background(), root, Options{NoInitramfs: true})
	if err != nil || k.Initramfs != "" || k.Vmlinuz != "usr/lib/modules/3-c/vmlinuz" {
		t.Errorf("no-initramfs: %+v %v", k, err)
	}
}
