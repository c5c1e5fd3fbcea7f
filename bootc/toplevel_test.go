package bootc

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestPrepareRootfs(t *testing.T) {
	root := mkTree(t,
		dir("usr/bin", 0),
		link("bin", "usr/bin"),
		dir("lost+found", 0o700),
		file("initrd", "x"),
		file("dev/console-placeholder", ""),
		dir("dev/pts", 0),
		file("run/lock/foo", ""),
		file("tmp/x", ""),
		file("proc/cpuinfo", ""),
		dir("etc", 0),
		dir("var/lib", 0),
		link("sys", "/nowhere"),
	)
	if err := syscall.Mkfifo(filepath.Join(root, "dev/initctl"), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := prepareRootfs(context.Background(), root, testOptions(&log)); err != nil {
		t.Fatal(err)
	}
	wantTree(t, root, map[string]string{
		"lost+found": "", "initrd": "",
		"dev": "d 0755", "dev/pts": "", "dev/initctl": "",
		"run": "d 0755", "run/lock": "",
		"tmp": "d 1777", "tmp/x": "",
		"proc": "d 0755", "sys": "d 0755", "sysroot": "d 0755",
		"bin": "l usr/bin", "etc": "d 0755", "var/lib": "d 0755",
	})
	if !strings.Contains(log.String(), "path=/lost+found") {
		t.Errorf("dropping /lost+found was not logged: %s", log.String())
	}
}

func TestPrepareRootfsNeedsUsr(t *testing.T) {
	var log bytes.Buffer
	wantErr(t, prepareRootfs(context.Background(), mkTree(t, dir("etc", 0)), testOptions(&log)), "no /usr directory")
}

func TestPrepareRootfsLinks(t *testing.T) {
	tests := []struct {
		name string
		tree []entry
		err  string
		want map[string]string
	}{
		{
			name: "debian defaults",
			tree: []entry{
				dir("home", 0), dir("srv", 0), dir("mnt", 0), dir("opt", 0), dir("media", 0),
				dir("root", 0o700), file("root/.bashrc", "rc"), dir("root/.ssh", 0o700),
				dir("usr/local/bin", 0), dir("usr/local/share/man", 0), link("usr/local/man", "share/man"),
				dir("var/opt", 0),
			},
			want: map[string]string{
				"home": "l var/home", "root": "l var/roothome", "srv": "l var/srv", "mnt": "l var/mnt",
				"opt": "l var/opt", "media": "l run/media", "usr/local": "l ../var/usrlocal",
				"ostree": "l sysroot/ostree", "sysroot": "d 0755",
				"var/roothome": "d 0700", "var/roothome/.bashrc": "f 0644 rc", "var/roothome/.ssh": "d 0700",
				"var/usrlocal/bin": "d 0755", "var/usrlocal/man": "l share/man", "var/usrlocal/share/man": "d 0755",
				"var/home": "", "var/srv": "", "var/opt": "d 0755",
			},
		},
		{
			name: "opt software moves to /usr/lib/opt",
			tree: []entry{file("opt/vendor/bin/tool", "bin"), dir("usr/lib", 0)},
			want: map[string]string{
				"usr/lib/opt/vendor/bin/tool": "f 0644 bin",
				"var/opt/vendor":              "l ../../usr/lib/opt/vendor",
				"opt":                         "l var/opt",
			},
		},
		{
			name: "media content dropped",
			tree: []entry{dir("media/cdrom", 0)},
			want: map[string]string{"media": "l run/media", "run/media": ""},
		},
		{
			name: "merge into existing var dirs",
			tree: []entry{file("srv/www/index.html", "a"), file("var/srv/ftp/readme", "b")},
			want: map[string]string{"var/srv/www/index.html": "f 0644 a", "var/srv/ftp/readme": "f 0644 b"},
		},
		{
			name: "conflict",
			tree: []entry{file("srv/x", "a"), file("var/srv/x", "b")},
			err:  "both exist",
		},
		{
			name: "non-empty /ostree",
			tree: []entry{file("ostree/repo/config", "")},
			err:  "/ostree is a non-empty directory",
		},
		{
			name: "already done",
			tree: []entry{link("home", "var/home"), link("ostree", "sysroot/ostree"), dir("sysroot", 0)},
			want: map[string]string{"home": "l var/home", "ostree": "l sysroot/ostree"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := mkTree(t, append(tc.tree, dir("usr/bin", 0))...)
			var log bytes.Buffer
			err := prepareRootfsLinks(context.Background(), root, testOptions(&log))
			wantErr(t, err, tc.err)
			if err != nil {
				return
			}
			wantTree(t, root, tc.want)
			wantErr(t, prepareRootfsLinks(context.Background(), root, testOptions(&log)), "")
			wantTree(t, root, tc.want)
		})
	}
}

func TestInitRootfs(t *testing.T) {
	root := mkTree(t, dir("usr", 0), link("tmp", "var/tmp"), dir("var", 0o700), link("boot", "/x"))
	if err := os.Chmod(root, 0o700); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	if err := initRootfs(context.Background(), root, testOptions(&log)); err != nil {
		t.Fatal(err)
	}
	wantTree(t, root, map[string]string{
		"dev": "d 0755", "proc": "d 0755", "sys": "d 0755", "run": "d 0755", "var": "d 0755",
		"sysroot": "d 0755", "boot": "d 0755", "tmp": "d 1777",
	})
	if fi, err := os.Stat(root); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("root mode %v, want 0755 (%v)", fi.Mode(), err)
	}
}
