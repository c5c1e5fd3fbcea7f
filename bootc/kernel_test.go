package bootc

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func TestProcessKernelAndInitramfs(t *testing.T) {
	const kv = "6.12.9-amd64"
	tests := []struct {
		name string
		tree []entry
		opts func(*Options)
		err  string
		want map[string]string
	}{
		{
			name: "debian /boot layout",
			tree: []entry{
				file("boot/vmlinuz-"+kv, "kernel"),
				{path: "boot/initrd.img-" + kv, data: "initrd", mode: 0o600},
				file("boot/config-"+kv, "cfg"),
				file("boot/System.map-"+kv, "map"),
				dir("boot/grub", 0),
				link("boot/vmlinuz", "vmlinuz-"+kv),
				link("vmlinuz", "boot/vmlinuz-"+kv),
				link("vmlinuz.old", "boot/vmlinuz-"+kv),
				link("initrd.img", "boot/initrd.img-"+kv),
				file("usr/lib/modules/"+kv+"/modules.dep", ""),
			},
			want: map[string]string{
				"usr/lib/modules/" + kv + "/vmlinuz":       "f 0644 kernel",
				"usr/lib/modules/" + kv + "/initramfs.img": "f 0644 initrd",
				"usr/lib/modules/" + kv + "/config":        "f 0644 cfg",
				"usr/lib/modules/" + kv + "/System.map":    "f 0644 map",
				"boot":                                     "d 0755",
				"boot/grub":                                "",
				"vmlinuz":                                  "",
				"vmlinuz.old":                              "",
				"initrd.img":                               "",
			},
		},
		{
			name: "already placed, leftovers in /boot",
			tree: []entry{
				file("usr/lib/modules/"+kv+"/vmlinuz", "kernel"),
				file("usr/lib/modules/"+kv+"/initramfs.img", "new"),
				file("boot/initrd.img-"+kv, "old"),
			},
			want: map[string]string{
				"usr/lib/modules/" + kv + "/initramfs.img": "f 0644 new",
				"boot/initrd.img-" + kv:                    "",
			},
		},
		{
			name: "initramfs only in /boot",
			tree: []entry{
				file("usr/lib/modules/"+kv+"/vmlinuz", "kernel"),
				file("boot/initrd.img-"+kv, "initrd"),
			},
			want: map[string]string{"usr/lib/modules/" + kv + "/initramfs.img": "f 0644 initrd"},
		},
		{
			name: "two kernels in /boot",
			tree: []entry{file("boot/vmlinuz-1", "a"), file("boot/vmlinuz-2", "b")},
			err:  "several kernels in /boot (1, 2)",
		},
		{
			name: "one in /boot, another in modules",
			tree: []entry{
				file("boot/vmlinuz-1", "a"), file("boot/initrd.img-1", "i"),
				file("usr/lib/modules/2/vmlinuz", "b"), file("usr/lib/modules/2/initramfs.img", "i"),
			},
			err: "several kernels in /usr/lib/modules (1, 2)",
		},
		{
			name: "module dir without kernel",
			tree: []entry{
				file("usr/lib/modules/"+kv+"/vmlinuz", "k"), file("usr/lib/modules/"+kv+"/initramfs.img", "i"),
				file("usr/lib/modules/6.1.0-old/modules.dep", ""),
			},
			err: "/usr/lib/modules/{6.1.0-old} hold modules but no vmlinuz",
		},
		{
			name: "no kernel",
			tree: []entry{dir("usr/bin", 0)},
			err:  "no kernel",
		},
		{
			name: "no kernel in a container tree",
			tree: []entry{dir("usr/bin", 0), file("boot/grub.cfg", "")},
			opts: func(o *Options) { o.Container = true },
			want: map[string]string{"boot": "d 0755", "boot/grub.cfg": ""},
		},
		{
			name: "no initramfs",
			tree: []entry{file("boot/vmlinuz-"+kv, "k")},
			err:  "no initramfs at /usr/lib/modules/" + kv + "/initramfs.img",
		},
		{
			name: "no initramfs wanted",
			tree: []entry{file("boot/vmlinuz-"+kv, "k")},
			opts: func(o *Options) { o.NoInitramfs = true },
			want: map[string]string{"usr/lib/modules/" + kv + "/vmlinuz": "f 0644 k"},
		},
		{
			name: "vmlinuz symlink in a module dir counts",
			tree: []entry{
				file("usr/lib/modules/"+kv+"/vmlinuz-real", "k"),
				link("usr/lib/modules/"+kv+"/vmlinuz", "/usr/lib/modules/"+kv+"/vmlinuz-real"),
				file("usr/lib/modules/"+kv+"/initramfs.img", "i"),
			},
			want: map[string]string{"usr/lib/modules/" + kv + "/vmlinuz": "l /usr/lib/modules/" + kv + "/vmlinuz-real"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := mkTree(t, tc.tree...)
			var log bytes.Buffer
			opts := testOptions(&log)
			if tc.opts != nil {
				tc.opts(&opts)
			}
			err := processKernelAndInitramfs(context.Background(), root, opts)
			wantErr(t, err, tc.err)
			if err == nil {
				wantTree(t, root, tc.want)
				// Idempotent.
				wantErr(t, processKernelAndInitramfs(context.Background(), root, opts), "")
				wantTree(t, root, tc.want)
			}
		})
	}
}

func TestKernelVersion(t *testing.T) {
	tests := []struct {
		name  string
		tree  []entry
		want  string
		err   string
		noKer bool
	}{
		{name: "one", tree: []entry{file("usr/lib/modules/6.1/vmlinuz", "k"), dir("usr/lib/modules/5.0", 0)}, want: "6.1"},
		{name: "none", tree: []entry{dir("usr/lib/modules/5.0", 0)}, err: "no kernel", noKer: true},
		{name: "no modules dir", tree: []entry{dir("usr", 0)}, err: "no kernel", noKer: true},
		{name: "two", tree: []entry{file("usr/lib/modules/1/vmlinuz", ""), file("usr/lib/modules/2/vmlinuz", "")}, err: "several kernels"},
		{name: "symlinked dir ignored", tree: []entry{file("usr/lib/modules/1/vmlinuz", ""), link("usr/lib/modules/2", "1")}, want: "1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := KernelVersion(mkTree(t, tc.tree...))
			wantErr(t, err, tc.err)
			if errors.Is(err, ErrNoKernel) != tc.noKer {
				t.Errorf("errors.Is(err, ErrNoKernel) = %v, want %v", !tc.noKer, tc.noKer)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestImageLabels(t *testing.T) {
	got := ImageLabels("6.12.9-amd64")
	want := map[string]string{"containers.bootc": "1", "ostree.bootable": "true", "ostree.linux": "6.12.9-amd64"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if l := ImageLabels(""); len(l) != 0 {
		t.Errorf("container tree: got %v, want no labels", l)
	}
}
