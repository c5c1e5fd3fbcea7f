package bootc

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"

	"github.com/apt-ostree/apt-ostree/internal/testelf"
)

func TestWriteTreefileJSON(t *testing.T) {
	tests := []struct {
		name string
		json []byte
		err  string
		want string
	}{
		{name: "set", json: []byte(`{"ref":"debian/trixie/x86_64"}`), want: `f 0644 {"ref":"debian/trixie/x86_64"}`},
		{name: "unset", json: nil, want: ""},
		{name: "invalid", json: []byte(`{"ref":`), err: "not valid JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := mkTree(t, dir("usr/share", 0))
			var log bytes.Buffer
			opts := testOptions(&log)
			opts.TreefileJSON = tc.json
			err := writeTreefileJSON(context.Background(), root, opts)
			wantErr(t, err, tc.err)
			wantTree(t, root, map[string]string{TreefileJSONPath: tc.want})
		})
	}
}

// ostreeTree is a merged-/usr tree carrying an ostree: libostree needing
// libs, and an ostree command whose feature list is features ("" for none).
func ostreeTree(libs []string, features string) []entry {
	const dir = "usr/lib/x86_64-linux-gnu/"
	var ro []string
	if features != "" {
		ro = []string{"Features:", features}
	}
	return []entry{
		link("lib", "usr/lib"), link("bin", "usr/bin"),
		file(dir+"libostree-1.so.1.0.0", string(testelf.SharedObject(append([]string{"libglib-2.0.so.0"}, libs...), nil))),
		link(dir+"libostree-1.so.1", "libostree-1.so.1.0.0"),
		file("usr/bin/ostree", string(testelf.SharedObject([]string{"libostree-1.so.1"}, ro))),
	}
}

var (
	// Debian trixie's 2025.2: no composefs.
	ostreeWithout = ostreeTree(nil, "inode64 initial-var libcurl libsoup3 gpgme ex-fsverity libarchive selinux avahi libmount systemd release p2p")
	// Debian unstable's 2026.4: linked to libcomposefs.
	ostreeLinked = ostreeTree([]string{"libcomposefs.so.1"}, "inode64 initial-var libcurl composefs ex-fsverity")
	// 2023.1 to 2024.5 could carry a static, bundled libcomposefs.
	ostreeBundled = ostreeTree(nil, "inode64 libcurl libsoup gpgme composefs ex-fsverity libarchive")
)

func TestDetectOstreeComposefs(t *testing.T) {
	tests := []struct {
		name string
		tree []entry
		want OstreeComposefs
		err  string
	}{
		{name: "no ostree", tree: []entry{dir("usr/lib/x86_64-linux-gnu", 0), file("usr/bin/true", "")}},
		{name: "trixie", tree: ostreeWithout, want: OstreeComposefs{Path: "/usr/lib/x86_64-linux-gnu/libostree-1.so.1.0.0"}},
		{name: "linked", tree: ostreeLinked, want: OstreeComposefs{Path: "/usr/lib/x86_64-linux-gnu/libostree-1.so.1.0.0", Supported: true}},
		{name: "bundled", tree: ostreeBundled, want: OstreeComposefs{Path: "/usr/bin/ostree", Supported: true}},
		{name: "library only", tree: ostreeTree([]string{"libcomposefs.so.1"}, "")[:4], want: OstreeComposefs{Path: "/usr/lib/x86_64-linux-gnu/libostree-1.so.1.0.0", Supported: true}},
		{name: "command only, old", tree: []entry{file("usr/bin/ostree", string(testelf.SharedObject(nil, []string{"libcurl libsoup gpgme"})))}, want: OstreeComposefs{Path: "/usr/bin/ostree"}},
		{name: "feature list look-alike", tree: []entry{file("usr/bin/ostree", string(testelf.SharedObject(nil, []string{"inode64 and composefs: Unknown!"})))}, want: OstreeComposefs{Path: "/usr/bin/ostree"}},
		{name: "unmerged lib64", tree: []entry{file("lib64/libostree-1.so.1", string(testelf.SharedObject([]string{"libcomposefs.so.1"}, nil)))}, want: OstreeComposefs{Path: "/lib64/libostree-1.so.1", Supported: true}},
		{name: "absolute symlink stays inside", tree: []entry{
			file("usr/lib/libostree-1.so.1.0.0", string(testelf.SharedObject([]string{"libcomposefs.so.1"}, nil))),
			link("usr/lib/libostree-1.so.1", "/usr/lib/libostree-1.so.1.0.0"),
		}, want: OstreeComposefs{Path: "/usr/lib/libostree-1.so.1.0.0", Supported: true}},
		{name: "not ELF", tree: []entry{file("usr/lib/libostree-1.so.1", "not a library")}, err: "usr/lib/libostree-1.so.1 as an ELF file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DetectOstreeComposefs(os.DirFS(mkTree(t, tc.tree...)))
			wantErr(t, err, tc.err)
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestWritePrepareRootConf(t *testing.T) {
	const (
		yes   = "[composefs]\nenabled = yes\n\n[sysroot]\nreadonly = true\n"
		maybe = "[composefs]\nenabled = maybe\n\n[sysroot]\nreadonly = true\n"
	)
	tests := []struct {
		name, in, want, log string
		present             bool
		tree                []entry
		composefs           string
		err                 string
	}{
		{name: "missing, no ostree", want: maybe, log: "carries no ostree"},
		{name: "missing, ostree without composefs", tree: ostreeWithout, want: maybe, log: "built without it"},
		{name: "missing, ostree with composefs", tree: ostreeLinked, want: yes},
		{name: "missing, bundled composefs", tree: ostreeBundled, want: yes},
		{name: "complete", present: true, tree: ostreeWithout,
			in:   "# site\n[composefs]\nenabled = signed\n\n[sysroot]\nreadonly = true\n",
			want: "# site\n[composefs]\nenabled = signed\n\n[sysroot]\nreadonly = true\n"},
		{name: "no composefs key", present: true, tree: ostreeLinked,
			in:   "[composefs]\nkeypath = /etc/ostree/initramfs-root-binding.key\n\n[etc]\ntransient = true\n",
			want: "[composefs]\nkeypath = /etc/ostree/initramfs-root-binding.key\nenabled = yes\n\n[etc]\ntransient = true\n\n[sysroot]\nreadonly = true\n"},
		{name: "disabled is respected", present: true, log: "disables composefs",
			in:   "[composefs]\nenabled = no\n",
			want: "[composefs]\nenabled = no\n\n[sysroot]\nreadonly = true\n"},
		{name: "transient root", present: true,
			in:   "[root]\ntransient = true\n",
			want: "[root]\ntransient = true\n\n[sysroot]\nreadonly = true\n"},
		{name: "forced yes", tree: ostreeLinked, composefs: "yes", want: yes},
		{name: "forced yes, no ostree", composefs: "yes", want: yes},
		{name: "forced yes replaces a package's value", tree: ostreeBundled, composefs: "yes", present: true,
			in:   "[composefs]\n# comment\nenabled = maybe\nkeypath = /k\n",
			want: "[composefs]\n# comment\nenabled = yes\nkeypath = /k\n\n[sysroot]\nreadonly = true\n"},
		{name: "forced yes, ostree without composefs", tree: ostreeWithout, composefs: "yes",
			err: "treefile composefs: yes, but the tree's ostree (/usr/lib/x86_64-linux-gnu/libostree-1.so.1.0.0) is built without composefs"},
		{name: "forced maybe", tree: ostreeLinked, composefs: "maybe", want: maybe},
		{name: "forced no", tree: ostreeLinked, composefs: "no", present: true, in: "[composefs]\nenabled = yes\n",
			want: "[composefs]\nenabled = no\n\n[sysroot]\nreadonly = true\n"},
		{name: "bad value", composefs: "verity", err: "want yes, maybe or no"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ents := append([]entry{dir("usr/lib", 0)}, tc.tree...)
			if tc.present {
				ents = append(ents, file(PrepareRootConfPath, tc.in))
			}
			root := mkTree(t, ents...)
			var log bytes.Buffer
			opts := testOptions(&log)
			opts.Composefs = tc.composefs
			err := WritePrepareRootConf(context.Background(), root, opts)
			wantErr(t, err, tc.err)
			if err != nil {
				if got, _ := os.ReadFile(filepath.Join(root, PrepareRootConfPath)); string(got) != tc.in {
					t.Errorf("file changed to %q although it failed", got)
				}
				return
			}
			if got := readTestFile(t, root, PrepareRootConfPath); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if !strings.Contains(log.String(), tc.log) {
				t.Errorf("log %q lacks %q", log.String(), tc.log)
			}
			if err := WritePrepareRootConf(context.Background(), root, opts); err != nil {
				t.Fatal(err)
			}
			if got := readTestFile(t, root, PrepareRootConfPath); got != tc.want {
				t.Errorf("second run changed it to\n%s", got)
			}
		})
	}
}

func TestWriteKargs(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		kargs []string
		err   string
	}{
		{name: "plain", file: "10-x.toml", kargs: []string{"console=ttyS0,115200", "quiet"}},
		{name: "quotes", file: "20-y.toml", kargs: []string{`foo="a b"`, `back\slash`}},
		{name: "bad name", file: "x.conf", kargs: []string{"quiet"}, err: "want NAME.toml"},
		{name: "slash", file: "a/b.toml", kargs: []string{"quiet"}, err: "want NAME.toml"},
		{name: "empty karg", file: "x.toml", kargs: []string{" "}, err: "empty or contains"},
		{name: "newline", file: "x.toml", kargs: []string{"a\nb"}, err: "empty or contains"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := mkTree(t, dir("usr/lib", 0))
			err := WriteKargs(root, tc.file, tc.kargs)
			wantErr(t, err, tc.err)
			if err != nil {
				return
			}
			// Read it back as bootc does: kargs required, unknown keys rejected.
			var got struct {
				Kargs []string `toml:"kargs"`
			}
			md, err := toml.Decode(readTestFile(t, root, KargsDir+"/"+tc.file), &got)
			if err != nil {
				t.Fatal(err)
			}
			if u := md.Undecoded(); len(u) > 0 || !md.IsDefined("kargs") {
				t.Fatalf("undecoded keys %v, kargs defined %v", u, md.IsDefined("kargs"))
			}
			if strings.Join(got.Kargs, "\x00") != strings.Join(tc.kargs, "\x00") {
				t.Errorf("got %q, want %q", got.Kargs, tc.kargs)
			}
		})
	}
}

func TestPostprocessKargs(t *testing.T) {
	root := mkTree(t, dir("usr/lib", 0))
	var log bytes.Buffer
	opts := testOptions(&log)
	if err := postprocessKargs(context.Background(), root, opts); err != nil {
		t.Fatal(err)
	}
	wantTree(t, root, map[string]string{"usr/lib/bootc": ""})
	opts.Kargs = []string{"quiet"}
	if err := postprocessKargs(context.Background(), root, opts); err != nil {
		t.Fatal(err)
	}
	if got := readTestFile(t, root, KargsDir+"/10-apt-ostree.toml"); !strings.Contains(got, `kargs = ["quiet"]`) {
		t.Errorf("got %q", got)
	}
}
