package deb

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
)

func TestOpenCompressions(t *testing.T) {
	for _, comp := range []string{"gz", "xz", "zst", "none"} {
		t.Run(comp, func(t *testing.T) {
			p := build(t, testdeb.Package{
				Name: "hello", Version: "1:2.0-1", Compression: comp,
				Fields:       map[string]string{"Depends": "libc6 (>= 2.36)", "Zz-Custom": "x", "Description": "hi\n more text\n .\n end"},
				Conffiles:    []string{"/etc/hello.conf", "remove-on-upgrade /etc/old.conf"},
				Triggers:     "interest-noawait /usr/lib/hello\nactivate ldconfig # comment\n",
				ControlFiles: map[string]string{"shlibs": "libhello 1 hello\n"},
				Files:        []testdeb.File{{Path: "etc/hello.conf", Body: "x=1\n"}},
			})
			if p.Name() != "hello" || p.Version() != "1:2.0-1" || p.Architecture() != "amd64" {
				t.Errorf("name/version/arch = %s %s %s", p.Name(), p.Version(), p.Architecture())
			}
			var names []string
			for _, f := range p.Control.Fields {
				names = append(names, f.Name)
			}
			if got := strings.Join(names, ","); got != "Package,Version,Architecture,Maintainer,Depends,Description,Zz-Custom" {
				t.Errorf("field order %s", got)
			}
			if got := p.Control.Get("description"); got != "hi\n more text\n .\n end" {
				t.Errorf("raw multi-line Description %q", got)
			}
			want := []Conffile{{Path: "/etc/hello.conf", Flags: []string{}}, {Path: "/etc/old.conf", Flags: []string{"remove-on-upgrade"}}}
			if fmt.Sprint(p.Conffiles) != fmt.Sprint(want) {
				t.Errorf("conffiles %v", p.Conffiles)
			}
			if fmt.Sprint(p.Triggers) != fmt.Sprint([]Trigger{{"interest", "/usr/lib/hello", true}, {"activate", "ldconfig", false}}) {
				t.Errorf("triggers %v", p.Triggers)
			}
			if m, ok := p.Member("shlibs"); !ok || string(m.Data) != "libhello 1 hello\n" {
				t.Errorf("shlibs member %q %v", m.Data, ok)
			}
			d, err := p.Data()
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var got []string
			for {
				h, err := d.Next()
				if err != nil {
					break
				}
				got = append(got, h.Name)
			}
			if strings.Join(got, " ") != "./ ./etc/ ./etc/hello.conf" {
				t.Errorf("data members %v", got)
			}
		})
	}
}

// ar assembles an ar archive from name/body pairs.
func ar(members ...string) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	for i := 0; i < len(members); i += 2 {
		body := members[i+1]
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", members[i], 0, 0, 0, 0o100644, len(body))
		b.WriteString(body)
		if len(body)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func TestOpenMalformed(t *testing.T) {
	good, err := testdeb.Build(testdeb.Package{Name: "ok", Compression: "none", Files: []testdeb.File{{Path: "a", Body: strings.Repeat("x", 4000)}}})
	if err != nil {
		t.Fatal(err)
	}
	whole, _ := Open(bytes.NewReader(good), int64(len(good)))
	ctl := string(good[8+60+4+60 : whole.dataOff-60])
	data := string(good[whole.dataOff : whole.dataOff+whole.dataSize])
	xzDeb, err := testdeb.Build(testdeb.Package{Name: "ok", Compression: "xz", Files: []testdeb.File{{Path: "a", Body: strings.Repeat("xz body ", 4000)}}})
	if err != nil {
		t.Fatal(err)
	}
	xzWhole, _ := Open(bytes.NewReader(xzDeb), int64(len(xzDeb)))
	xzData := string(xzDeb[xzWhole.dataOff : xzWhole.dataOff+xzWhole.dataSize])
	corruptXZ := []byte(xzData)
	for i := len(corruptXZ) / 3; i < len(corruptXZ)/3+16; i++ {
		corruptXZ[i] ^= 0x55
	}
	var gzNotTar bytes.Buffer
	zw := gzip.NewWriter(&gzNotTar)
	zw.Write(bytes.Repeat([]byte("this is not a tar archive\n"), 100))
	zw.Close()
	notTar := strings.Repeat("this is not a tar archive\n", 100)
	tests := []struct {
		name, want string
		deb        []byte
		atData     bool // the error only shows while reading data.tar
	}{
		{"bad magic", "bad ar magic", append([]byte("!<arkh>\n"), good[8:]...), false},
		// Issue 10, defect 12: each names the file and what was expected.
		{"text file", "not an ar archive, which a Debian binary package is", []byte("Hello, I am a text file\n"), false},
		{"empty file", "not an ar archive", nil, false},
		{"data not a tar", "data.tar is not a tar archive, want an uncompressed tar archive", ar("debian-binary", "2.0\n", "control.tar.gz", ctl, "data.tar", notTar), true},
		{"gzip data not a tar", "data.tar.gz does not hold a valid tar archive (its gzip data is corrupt, or is not a tar), want a gzip-compressed tar archive", ar("debian-binary", "2.0\n", "control.tar.gz", ctl, "data.tar.gz", gzNotTar.String()), true},
		{"data not gzip", "data.tar.gz is not valid gzip data, want a gzip-compressed tar archive", ar("debian-binary", "2.0\n", "control.tar.gz", ctl, "data.tar.gz", notTar), true},
		{"corrupt xz", "data.tar.xz does not hold a valid tar archive (its xz data is corrupt, or is not a tar), want an xz-compressed tar archive", ar("debian-binary", "2.0\n", "control.tar.gz", ctl, "data.tar.xz", string(corruptXZ)), true},
		{"truncated xz", "data.tar.xz is not valid xz data, want an xz-compressed tar archive (xz: data is truncated or corrupt)", ar("debian-binary", "2.0\n", "control.tar.gz", ctl, "data.tar.xz", xzData[:len(xzData)/2]), true},
		{"control not gzip", "control.tar.gz is not valid gzip data", ar("debian-binary", "2.0\n", "control.tar.gz", notTar, "data.tar", data), false},
		{"truncated ar", "truncated", good[:len(good)-100], false},
		{"missing data", "missing data.tar", ar("debian-binary", "2.0\n", "control.tar.gz", ctl), false},
		{"missing control", "missing control.tar", ar("debian-binary", "2.0\n", "data.tar", data), false},
		{"unknown compression", "data.tar.lz4: unknown compression", ar("debian-binary", "2.0\n", "control.tar.gz", ctl, "data.tar.lz4", data), false},
		{"bad version", "unsupported format version", ar("debian-binary", "3.0\n", "control.tar.gz", ctl, "data.tar", data), false},
		{"truncated tar", "unexpected EOF", ar("debian-binary", "2.0\n", "control.tar.gz", ctl, "data.tar", data[:2000]), true},
		{"corrupt control", "control.tar.gz", ar("debian-binary", "2.0\n", "control.tar.gz", "garbage", "data.tar", data), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad_1.0_amd64.deb")
			if err := os.WriteFile(path, tt.deb, 0o644); err != nil {
				t.Fatal(err)
			}
			p, err := OpenFile(path)
			if tt.atData {
				if err != nil {
					t.Fatal(err)
				}
				defer p.Close()
				_, err = Unpack(t.Context(), t.TempDir(), []*Package{p}, Options{})
			}
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrFormat) {
				t.Errorf("error %q: want the file name, %q, and ErrFormat", err, tt.want)
			}
		})
	}
}

// TestDecompressRefusesHugeDictionaries: a tiny member declaring a huge
// window or dictionary is refused instead of allocated (FuzzOpen's
// finding: 13 bytes of data.tar.zst made the reader allocate 2 GiB).
func TestDecompressRefusesHugeDictionaries(t *testing.T) {
	n := 1000
	bh := uint32(n<<3 | 1<<1 | 1)                                                                          // last block, RLE, n bytes
	zst := []byte{0x28, 0xB5, 0x2F, 0xFD, 0x00, 21 << 3, byte(bh), byte(bh >> 8), byte(bh >> 16), 'x'}     // window 2 GiB
	lz := []byte{0x5d, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0} // dictionary 2 GiB
	for _, tt := range []struct {
		comp string
		data []byte
	}{{".zst", zst}, {".lzma", lz}} {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		r, err := decompress(tt.comp, bytes.NewReader(tt.data))
		if err == nil {
			_, err = io.Copy(io.Discard, r)
		}
		runtime.ReadMemStats(&m1)
		if err == nil {
			t.Errorf("%s with a 2 GiB dictionary decoded", tt.comp)
		}
		if grew := m1.TotalAlloc - m0.TotalAlloc; grew > 256<<20 {
			t.Errorf("%s: allocated %d MiB", tt.comp, grew>>20)
		}
	}
}
