package assemble

import (
	"context"
	"errors"
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
	for _, p := range []string{"preinst", "configure", "machineid-compat", "initramfs"} {
		if !strings.Contains(timings.String(), p+" ") {
			t.Errorf("timings %q lack %s", timings, p)
		}
	}
}

func TestInitramfsDracutArgs(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{nil, "--force --reproducible --no-hostonly --kver 6.2-test /usr/lib/modules/6.2-test/initramfs.img\n"},
		{[]string{"--hostonly", "--add", "foo"}, "--force --reproducible --hostonly --add foo --kver 6.2-test /usr/lib/modules/6.2-test/initramfs.img\n"},
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
