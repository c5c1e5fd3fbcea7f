package bootc

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
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

func TestWritePrepareRootConf(t *testing.T) {
	tests := []struct {
		name, in, want, log string
		present             bool
	}{
		{name: "missing", want: "[composefs]\nenabled = yes\n\n[sysroot]\nreadonly = true\n"},
		{name: "complete", present: true,
			in:   "# site\n[composefs]\nenabled = signed\n\n[sysroot]\nreadonly = true\n",
			want: "# site\n[composefs]\nenabled = signed\n\n[sysroot]\nreadonly = true\n"},
		{name: "no composefs key", present: true,
			in:   "[composefs]\nkeypath = /etc/ostree/initramfs-root-binding.key\n\n[etc]\ntransient = true\n",
			want: "[composefs]\nkeypath = /etc/ostree/initramfs-root-binding.key\nenabled = yes\n\n[etc]\ntransient = true\n\n[sysroot]\nreadonly = true\n"},
		{name: "disabled is respected", present: true, log: "disables composefs",
			in:   "[composefs]\nenabled = no\n",
			want: "[composefs]\nenabled = no\n\n[sysroot]\nreadonly = true\n"},
		{name: "transient root", present: true,
			in:   "[root]\ntransient = true\n",
			want: "[root]\ntransient = true\n\n[sysroot]\nreadonly = true\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ents := []entry{dir("usr/lib", 0)}
			if tc.present {
				ents = append(ents, file(PrepareRootConfPath, tc.in))
			}
			root := mkTree(t, ents...)
			var log bytes.Buffer
			if err := WritePrepareRootConf(context.Background(), root, testOptions(&log)); err != nil {
				t.Fatal(err)
			}
			if got := readTestFile(t, root, PrepareRootConfPath); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
			if !strings.Contains(log.String(), tc.log) {
				t.Errorf("log %q lacks %q", log.String(), tc.log)
			}
			if err := WritePrepareRootConf(context.Background(), root, testOptions(&log)); err != nil {
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
