package bootc

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// postProcessTwice runs PostProcess on root, then again on its output,
// which must change nothing.
func postProcessTwice(t *testing.T, root string, opts Options) {
	t.Helper()
	if err := PostProcess(context.Background(), root, opts); err != nil {
		t.Fatal(err)
	}
	before := listTree(t, root)
	if err := PostProcess(context.Background(), root, opts); err != nil {
		t.Fatalf("second run: %v", err)
	}
	after := listTree(t, root)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("second run changed %s: %q -> %q", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("second run added %s", k)
		}
	}
}

func TestPostProcessTmpIsDirFalse(t *testing.T) {
	root := debianLikeRoot(t)
	var log bytes.Buffer
	opts := testOptions(&log)
	opts.TmpSymlink = true
	postProcessTwice(t, root, opts)
	wantTree(t, root, map[string]string{"tmp": "l sysroot/tmp", "sysroot": "d 0755"})
	ostreeCommitAndFsck(t, root)

	// The default keeps the 01777 directory bootc wants.
	root = debianLikeRoot(t)
	if err := PostProcess(context.Background(), root, testOptions(&log)); err != nil {
		t.Fatal(err)
	}
	wantTree(t, root, map[string]string{"tmp": "d 1777"})
}

func TestPostProcessOptUsrlocalRoot(t *testing.T) {
	root := debianLikeRoot(t)
	var log bytes.Buffer
	opts := testOptions(&log)
	opts.OptUsrlocalRoot = true
	postProcessTwice(t, root, opts)
	wantTree(t, root, map[string]string{
		"opt":                            "d 0755",
		"opt/vendor/bin/tool":            "f 0644 tool",
		"usr/lib/opt":                    "",
		"usr/local":                      "d 0755",
		"usr/local/bin":                  "d 0755",
		"usr/local/man":                  "l share/man",
		"home":                           "l var/home",
		"root":                           "l var/roothome",
		"usr/share/factory/var/opt":      "",
		"usr/share/factory/var/usrlocal": "",
	})
	integ := readTestFile(t, root, IntegrationConf)
	if strings.Contains(integ, "/var/opt") || strings.Contains(integ, "/var/usrlocal") {
		t.Errorf("integration tmpfiles still create /var/opt or /var/usrlocal:\n%s", integ)
	}
	if !strings.Contains(integ, "d /var/home 0755 root root - -\n") {
		t.Errorf("integration tmpfiles lost /var/home:\n%s", integ)
	}
	autovar := readTestFile(t, root, AutovarConf)
	if strings.Contains(autovar, "/var/opt") || strings.Contains(autovar, "/var/usrlocal") {
		t.Errorf("autovar mentions /opt or /usr/local state:\n%s", autovar)
	}
	ostreeCommitAndFsck(t, root)
}

func TestOptUsrlocalRootCreatesMissingDirs(t *testing.T) {
	root := debianLikeRoot(t)
	for _, p := range []string{"opt", "usr/local"} {
		if err := os.RemoveAll(filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	var log bytes.Buffer
	opts := testOptions(&log)
	opts.OptUsrlocalRoot = true
	if err := PostProcess(context.Background(), root, opts); err != nil {
		t.Fatal(err)
	}
	wantTree(t, root, map[string]string{"opt": "d 0755", "usr/local": "d 0755"})
}

func TestCheckEtcGroupMembers(t *testing.T) {
	tests := []struct {
		name    string
		members []string
		err     string
	}{
		{name: "none"},
		{name: "present", members: []string{"mail", "root"}},
		{name: "missing", members: []string{"mail", "wheel", "sudo"}, err: "etc-group-members: wheel, sudo not in the tree's /etc/group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := debianLikeRoot(t)
			var log bytes.Buffer
			opts := testOptions(&log)
			opts.EtcGroupMembers = tt.members
			err := PostProcess(context.Background(), root, opts)
			wantErr(t, err, tt.err)
			if err == nil {
				// Every group is still in /etc/group (nothing moved to /usr/lib/group).
				wantTree(t, root, map[string]string{"usr/etc/group": "f 0644 root:x:0:\nmail:x:8:\n", "usr/lib/group": ""})
			}
		})
	}
}

func TestPostprocessReadonlyExecutables(t *testing.T) {
	ents := []entry{
		{path: "usr/bin/tool", data: "t", mode: 0o755},
		{path: "usr/bin/su", data: "s", mode: unixMode(0o4755)},
		{path: "usr/bin/owner-only", data: "o", mode: 0o700},
		{path: "usr/lib/x.so", data: "l", mode: 0o644},
		{path: "usr/lib/private", data: "p", mode: 0o600},
		{path: "usr/bin/already", data: "a", mode: 0o555},
		link("usr/bin/link", "tool"),
		dir("usr/share/d", 0o755),
	}
	want := map[string]string{
		"usr/bin/tool":       "f 0555 t",
		"usr/bin/su":         "f 4555 s",
		"usr/bin/owner-only": "f 0500 o",
		"usr/lib/x.so":       "f 0644 l",
		"usr/lib/private":    "f 0600 p",
		"usr/bin/already":    "f 0555 a",
		"usr/bin/link":       "l tool",
		"usr/share/d":        "d 0755",
	}
	var log bytes.Buffer
	opts := testOptions(&log)

	root := mkTree(t, ents...)
	if err := postprocessReadonlyExecutables(context.Background(), root, opts); err != nil {
		t.Fatal(err)
	}
	wantTree(t, root, map[string]string{"usr/bin/tool": "f 0755 t"}) // off by default

	opts.ReadonlyExecutables = true
	if err := postprocessReadonlyExecutables(context.Background(), root, opts); err != nil {
		t.Fatal(err)
	}
	wantTree(t, root, want)

	// As a PostProcess step, on a whole tree: usr/etc included.
	root = debianLikeRoot(t)
	for _, p := range []string{"usr/bin/sh", "etc/init.d/x"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte("#!"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(root, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := PostProcess(context.Background(), root, opts); err != nil {
		t.Fatal(err)
	}
	wantTree(t, root, map[string]string{"usr/bin/sh": "f 0555 #!", "usr/etc/init.d/x": "f 0555 #!"})
	for p, d := range listTree(t, root) {
		f := strings.Fields(d)
		if f[0] != "f" {
			continue
		}
		if m, err := strconv.ParseUint(f[1], 8, 32); err != nil || (m&0o111 != 0 && m&0o222 != 0) {
			t.Errorf("%s is executable and writable: %s", p, d)
		}
	}
}
