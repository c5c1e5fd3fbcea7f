package bootc

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRootfsResolveStaysInside(t *testing.T) {
	root := mkTree(t,
		dir("usr/lib", 0),
		file("usr/lib/os-release", "ID=debian\n"),
		link("etc/os-release", "../usr/lib/os-release"),
		link("etc/abs", "/usr/lib/os-release"),
		link("etc/up", "../../../../etc/passwd"),
		link("etc/dirlink", "/usr/lib"),
		link("etc/loop", "loop"),
		link("etc/dangling", "/nowhere/x"),
	)
	tests := []struct {
		rel, want, err string
		follow         bool
	}{
		{rel: "etc/os-release", follow: true, want: "usr/lib/os-release"},
		{rel: "etc/os-release", want: "etc/os-release"},
		{rel: "etc/abs", follow: true, want: "usr/lib/os-release"},
		{rel: "etc/up", follow: true, want: "etc/passwd"},
		{rel: "etc/dirlink/os-release", want: "usr/lib/os-release"},
		{rel: "/etc/dirlink/../lib/x", want: "usr/lib/x"},
		{rel: "etc/dangling", follow: true, want: "nowhere/x"},
		{rel: "etc/loop", follow: true, err: "too many levels"},
		{rel: "../../etc/shadow", want: "etc/shadow"},
	}
	for _, tc := range tests {
		t.Run(tc.rel, func(t *testing.T) {
			r := rootfs(root)
			var got string
			var err error
			if tc.follow {
				got, err = r.resolve(tc.rel)
			} else {
				got, err = r.path(tc.rel)
			}
			wantErr(t, err, tc.err)
			if tc.err != "" {
				return
			}
			if want := filepath.Join(root, tc.want); got != want {
				t.Errorf("got %s, want %s", got, want)
			}
		})
	}
}

func TestRootfsReadFileDoesNotEscape(t *testing.T) {
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "secret"), []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := mkTree(t, link("etc/x", filepath.Join(host, "secret")), file(strings.TrimPrefix(filepath.Join(host, "secret"), "/"), "inside"))
	data, ok, err := rootfs(root).readFile("etc/x")
	if err != nil || !ok || string(data) != "inside" {
		t.Fatalf("got %q %v %v, want the file inside the root", data, ok, err)
	}
}

func TestRootfsWriteFileReplacesSymlink(t *testing.T) {
	host := t.TempDir()
	target := filepath.Join(host, "victim")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := mkTree(t, link("etc/machine-id", target))
	if err := rootfs(root).writeFile("etc/machine-id", nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if got := readTestFile(t, host, "victim"); got != "keep" {
		t.Fatalf("host file changed to %q", got)
	}
	wantTree(t, root, map[string]string{"etc/machine-id": "f 0444 "})
}
