package deb

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
	"github.com/ulikunitz/xz/lzma"
)

// FuzzOpen feeds the .deb reader (ar container, control.tar, data.tar in
// every compression) arbitrary bytes: it must never panic or hang, and
// every error about the input must wrap ErrFormat.
func FuzzOpen(f *testing.F) {
	for _, comp := range []string{"none", "gz", "xz", "zst"} {
		for _, p := range []testdeb.Package{
			{Name: "seed", Compression: comp, Conffiles: []string{"/etc/seed.conf"}, Triggers: "interest /usr/lib/seed\n",
				Scripts: map[string]string{"postinst": "#!/bin/sh\n"},
				Files: []testdeb.File{
					{Path: "etc/seed.conf", Body: "x=1\n"},
					{Path: "usr/bin/seed", Mode: 0o755, Body: "#!/bin/sh\necho seed\n"},
					{Path: "usr/bin/seed2", Type: tar.TypeLink, Link: "usr/bin/seed"},
					{Path: "usr/sbin/seed", Type: tar.TypeSymlink, Link: "../bin/seed"},
					{Path: "dev/seed", Type: tar.TypeChar, Mode: 0o600, Devmajor: 1, Devminor: 1},
				}},
			{Name: "empty", Compression: comp, NoMD5sums: true},
		} {
			b, err := testdeb.Build(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	// A data.tar.lzma, which testdeb does not write.
	plain, err := testdeb.Build(testdeb.Package{Name: "lz", Compression: "none", Files: []testdeb.File{{Path: "usr/share/lz", Body: "lzma"}}})
	if err != nil {
		f.Fatal(err)
	}
	pp, err := Open(bytes.NewReader(plain), int64(len(plain)))
	if err != nil {
		f.Fatal(err)
	}
	var lz bytes.Buffer
	lw, err := lzma.NewWriter(&lz)
	if err != nil {
		f.Fatal(err)
	}
	lw.Write(plain[pp.dataOff : pp.dataOff+pp.dataSize])
	lw.Close()
	ctlStart := int64(8 + 60 + 4 + 60)
	lzDeb := ar("debian-binary", "2.0\n", "control.tar.gz", string(plain[ctlStart:pp.dataOff-60]), "data.tar.lzma", lz.String())
	if p, err := Open(bytes.NewReader(lzDeb), int64(len(lzDeb))); err != nil {
		f.Fatal(err)
	} else if d, err := p.Data(); err != nil {
		f.Fatal(err)
	} else if h, err := d.Next(); err != nil || h.Name != "./" {
		f.Fatalf("lzma seed: %v %v", h, err)
	}
	f.Add(lzDeb)
	f.Add([]byte("!<arch>\n"))
	f.Add(ar("debian-binary", "2.0\n", "control.tar", "", "data.tar", ""))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("Open error does not wrap ErrFormat: %v", err)
			}
			return
		}
		_ = StatusStanza(&Unpacked{Package: p, Conffiles: p.Conffiles})
		d, err := p.Data()
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("Data error does not wrap ErrFormat: %v", err)
			}
			return
		}
		defer d.Close()
		for {
			h, err := d.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if err := p.dataError(err); !errors.Is(err, ErrFormat) {
					t.Fatalf("data error does not wrap ErrFormat: %v", err)
				}
				return
			}
			if _, err := cleanMember(h.Name); err != nil && !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("cleanMember(%q): %v", h.Name, err)
			}
			if _, err := io.Copy(io.Discard, formatReader{d.Reader, p}); err != nil && !errors.Is(err, ErrFormat) {
				t.Fatalf("body read error does not wrap ErrFormat: %v", err)
			}
		}
	})
}

// FuzzParseParagraphs checks the module's one deb822 reader: whatever it
// accepts, written back the way the status file is written, parses to the
// same paragraphs.
func FuzzParseParagraphs(f *testing.F) {
	f.Add([]byte("Package: a\nStatus: install ok installed\nConffiles:\n /etc/a 0123 obsolete\nDescription: x\n y\n .\n z\n\nPackage: b\n"))
	f.Add([]byte("# comment\nTypes: deb\nURIs: http://127.0.0.1/debian\n# inside\nSuites: trixie\n\n\n"))
	f.Add([]byte("A: \n \tb\nC:d\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		paras, err := ParseParagraphs(b)
		if err != nil {
			return
		}
		var out bytes.Buffer
		for _, p := range paras {
			if len(p.Fields) == 0 {
				t.Fatal("empty paragraph returned")
			}
			out.Write(renderControl(p))
			out.WriteByte('\n')
		}
		again, err := ParseParagraphs(out.Bytes())
		if err != nil {
			t.Fatalf("rendered paragraphs do not parse: %v\n%q", err, out.Bytes())
		}
		if !reflect.DeepEqual(again, paras) {
			t.Fatalf("round trip changed the paragraphs:\n%q\n%q", paras, again)
		}
	})
}
