package ostree

import (
	"bytes"
	"encoding/hex"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/apt-ostree/apt-ostree/ostree/gvariant"
)

// xxd parses `xxd` output as printed in the spec (offset, hex groups, ASCII).
func xxd(t *testing.T, dump string) []byte {
	t.Helper()
	var out []byte
	for _, line := range strings.Split(strings.TrimSpace(dump), "\n") {
		_, rest, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("bad xxd line %q", line)
		}
		hexPart, _, _ := strings.Cut(rest, "  ")
		b, err := hex.DecodeString(strings.ReplaceAll(hexPart, " ", ""))
		if err != nil {
			t.Fatalf("bad xxd line %q: %v", line, err)
		}
		out = append(out, b...)
	}
	return out
}

func hx(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.NewReplacer(" ", "", "|", "").Replace(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cs(t *testing.T, s string) Checksum {
	t.Helper()
	c, err := ParseChecksum(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sha(b []byte) string {
	c := Checksum(sha256Sum(b))
	return c.String()
}

func mustMarshal(t *testing.T, m interface{ MarshalBinary() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TV1 objects (spec §5).
const (
	tv1Commit   = "d437f7ed50275e75d189bde5fda41d13ef7b97325ff622e8944104a105d6b5e7"
	tv1RootTree = "648fc849e99cc3a50dbca87462827be853ab5c298be55e70b2e9d82932400559"
	emptyTree   = "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
	rootMeta    = "446a0ef11b7cc167f3b603e585c7eeeeb675faa412d5ec73f62988eb0b6c5488"
	tv1Hello    = "44f778e59f0a4748d6b0c90a47347212a231c4ad1e8f7ea5c5dffc7749153a6b"
	tv1Run      = "89b350d278ff59ba4780bc377b8ebfee8ade6b55c99fab1ec84e133bc6ea52c5"
	tv1Link     = "f66efa496a72379413c44593de510dc344beb045294f1a543da87b2b6118db35"
)

const tv1RootTreeDump = `
00000000: 6865 6c6c 6f2e 7478 7400 44f7 78e5 9f0a  hello.txt.D.x...
00000010: 4748 d6b0 c90a 4734 7212 a231 c4ad 1e8f  GH....G4r..1....
00000020: 7ea5 c5df fc77 4915 3a6b 0a6c 696e 6b00  ~....wI.:k.link.
00000030: f66e fa49 6a72 3794 13c4 4593 de51 0dc3  .n.Ijr7...E..Q..
00000040: 44be b045 294f 1a54 3da8 7b2b 6118 db35  D..E)O.T=.{+a..5
00000050: 0572 756e 2e73 6800 89b3 50d2 78ff 59ba  .run.sh...P.x.Y.
00000060: 4780 bc37 7b8e bfee 8ade 6b55 c99f ab1e  G..7{.....kU....
00000070: c84e 133b c6ea 52c5 072b 5179 656d 7074  .N.;..R..+Qyempt
00000080: 7900 6e34 0b9c ffb3 7a98 9ca5 44e6 bb78  y.n4....z...D..x
00000090: 0a2c 7890 1d3f b337 3876 8511 a306 17af  .,x..?.78v......
000000a0: a01d 446a 0ef1 1b7c c167 f3b6 03e5 85c7  ..Dj...|.g......
000000b0: eeee b675 faa4 12d5 ec73 f629 88eb 0b6c  ...u.....s.)...l
000000c0: 5488 2606 487c                           T.&.H|`

const tv1CommitDump = `
00000000: 7665 7273 696f 6e00 312e 3000 0073 0800  version.1.0..s..
00000010: 6f73 7472 6565 2e72 6566 2d62 696e 6469  ostree.ref-bindi
00000020: 6e67 0000 0000 0000 7465 7374 0005 0061  ng......test...a
00000030: 7313 0f32 5465 7374 2073 7562 6a65 6374  s..2Test subject
00000040: 0054 6573 7420 626f 6479 0000 0000 0000  .Test body......
00000050: 0000 0000 6592 0080 648f c849 e99c c3a5  ....e...d..I....
00000060: 0dbc a874 6282 7be8 53ab 5c29 8be5 5e70  ...tb.{.S.\)..^p
00000070: b2e9 d829 3240 0559 446a 0ef1 1b7c c167  ...)2@.YDj...|.g
00000080: f3b6 03e5 85c7 eeee b675 faa4 12d5 ec73  .........u.....s
00000090: f629 88eb 0b6c 5488 784b 4134 3434       .)...lT.xKA444`

const tv1HelloFilez = `
00000000: 0000 001a 0000 0000 0000 0000 0000 0006  ................
00000010: 0000 0000 0000 0000 0000 81a4 0000 0000  ................
00000020: 0019 cb48 cdc9 c9e7 0200                 ...H......`

const tv1RunFilez = `
00000000: 0000 001a 0000 0000 0000 0000 0000 0012  ................
00000010: 0000 0000 0000 0000 0000 81ed 0000 0000  ................
00000020: 0019 5356 d44f cacc d32f cee0 4a4d cec8  ..SV.O.../..JM..
00000030: 57c8 c8e4 0200                           W.....`

const tv1LinkFilez = `
00000000: 0000 0023 0000 0000 0000 0000 0000 0000  ...#............
00000010: 0000 0000 0000 0000 0000 a1ff 0000 0000  ................
00000020: 6865 6c6c 6f2e 7478 7400 22              hello.txt."`

var tv1Time = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func TestTV1DirMetaAndTrees(t *testing.T) {
	dm := DirMeta{Mode: 0o40755}
	b := mustMarshal(t, &dm)
	if want := hx(t, "00000000 00000000 000041ed"); !bytes.Equal(b, want) {
		t.Fatalf("dirmeta = %x, want %x", b, want)
	}
	if got := sha(b); got != rootMeta {
		t.Errorf("dirmeta checksum %s, want %s", got, rootMeta)
	}
	empty := mustMarshal(t, &DirTree{})
	if !bytes.Equal(empty, []byte{0}) || sha(empty) != emptyTree {
		t.Errorf("empty dirtree = %x (%s)", empty, sha(empty))
	}
	tree := DirTree{
		// Deliberately unsorted: MarshalBinary must sort.
		Files: []DirTreeFile{{"run.sh", cs(t, tv1Run)}, {"hello.txt", cs(t, tv1Hello)}, {"link", cs(t, tv1Link)}},
		Dirs:  []DirTreeDir{{"empty", cs(t, emptyTree), cs(t, rootMeta)}},
	}
	b = mustMarshal(t, &tree)
	if want := xxd(t, tv1RootTreeDump); !bytes.Equal(b, want) {
		t.Fatalf("root dirtree:\n got %x\nwant %x", b, want)
	}
	if sha(b) != tv1RootTree {
		t.Errorf("root dirtree checksum %s", sha(b))
	}
	back, err := ParseDirTree(b)
	if err != nil {
		t.Fatal(err)
	}
	if back.Files[0].Name != "hello.txt" || back.Dirs[0].MetaChecksum != cs(t, rootMeta) {
		t.Errorf("ParseDirTree = %+v", back)
	}
}

func TestTV1ContentObjects(t *testing.T) {
	tests := []struct {
		name, csum, filez string
		h                 FileHeader
		content           string
		checksumInput     string // wrapped header, hex
	}{
		{"hello.txt", tv1Hello, tv1HelloFilez, FileHeader{Mode: 0o100644, Size: 6}, "hello\n",
			"00000012 00000000 00000000 00000000 000081a4 00000000 00 11"},
		{"run.sh", tv1Run, tv1RunFilez, FileHeader{Mode: 0o100755, Size: 18}, "#!/bin/sh\necho hi\n",
			"00000012 00000000 00000000 00000000 000081ed 00000000 00 11"},
		{"link", tv1Link, tv1LinkFilez, FileHeader{Mode: 0o120777, SymlinkTarget: "hello.txt"}, "",
			"0000001b 00000000 00000000 00000000 0000a1ff 00000000 68656c6c6f2e74787400 1a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr, err := tt.h.checksumHeader()
			if err != nil {
				t.Fatal(err)
			}
			if want := hx(t, tt.checksumInput); !bytes.Equal(hdr, want) {
				t.Fatalf("checksum header %x, want %x", hdr, want)
			}
			if got := sha(append(hdr, tt.content...)); got != tt.csum {
				t.Errorf("checksum %s, want %s", got, tt.csum)
			}
			// The .filez header is byte-identical; the deflate stream need
			// not be (any raw deflate of the content is valid), so compare
			// the header and what the real stream decompresses to.
			filez := xxd(t, tt.filez)
			zh, err := tt.h.archiveHeader()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(zh, filez[:len(zh)]) {
				t.Fatalf("archive header %x, want %x", zh, filez[:len(zh)])
			}
			r := archiveRepoWith(t, cs(t, tt.csum), filez)
			h, rc, err := r.OpenContent(cs(t, tt.csum))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			data, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tt.content || h.Mode != tt.h.Mode || h.SymlinkTarget != tt.h.SymlinkTarget || h.Size != tt.h.Size {
				t.Errorf("read back %+v %q", h, data)
			}
		})
	}
}

func TestTV1Commit(t *testing.T) {
	c := Commit{
		Metadata:      map[string]any{"version": "1.0", "ostree.ref-binding": []string{"test"}},
		MetadataOrder: []string{"version", "ostree.ref-binding"},
		Subject:       "Test subject", Body: "Test body", Timestamp: tv1Time,
		RootTree: cs(t, tv1RootTree), RootMeta: cs(t, rootMeta),
	}
	b := mustMarshal(t, &c)
	want := xxd(t, tv1CommitDump)
	if !bytes.Equal(b, want) {
		t.Fatalf("commit:\n got %x\nwant %x", b, want)
	}
	if sha(b) != tv1Commit {
		t.Errorf("commit checksum %s", sha(b))
	}
	back, err := ParseCommit(want)
	if err != nil {
		t.Fatal(err)
	}
	again := mustMarshal(t, back)
	if !bytes.Equal(again, want) {
		t.Errorf("ParseCommit+MarshalBinary changed the bytes")
	}
	if got := back.ContentChecksum().String(); got != "893d6d57d01e80d82674cf49d36cd5aba9e1b4b564d3e9de195acb6c768efad1" {
		t.Errorf("ContentChecksum %s", got)
	}
	if back.Subject != "Test subject" || !back.Timestamp.Equal(tv1Time) || back.Metadata["version"] != "1.0" || back.Parent != nil {
		t.Errorf("ParseCommit = %+v", back)
	}
}

func TestTV2Xattrs(t *testing.T) {
	h := FileHeader{Mode: 0o100644, Size: 1, Xattrs: []Xattr{{"user.a", []byte("1")}, {"user.b", []byte("2")}}}
	hdr, err := h.checksumHeader()
	if err != nil {
		t.Fatal(err)
	}
	want := hx(t, "00000026 00000000 00000000 00000000 000081a4 00000000 00 757365722e61003107757365722e620032070912 11")
	if !bytes.Equal(hdr, want) {
		t.Fatalf("header %x, want %x", hdr, want)
	}
	if got := sha(append(hdr, 'x')); got != "2574b4a04f7b5364089d4e26ba0ceefd058d8fe982f729605ecb964aaac65ca1" {
		t.Errorf("content checksum %s", got)
	}
	zh, _ := h.archiveHeader()
	filez := xxd(t, `
00000000: 0000 002e 0000 0000 0000 0000 0000 0001  ................
00000010: 0000 0000 0000 0000 0000 81a4 0000 0000  ................
00000020: 0075 7365 722e 6100 3107 7573 6572 2e62  .user.a.1.user.b
00000030: 0032 0709 1219 ab00 00                   .2.......`)
	if !bytes.Equal(zh, filez[:len(zh)]) {
		t.Errorf("archive header %x, want %x", zh, filez[:len(zh)])
	}
	dm := DirMeta{Mode: 0o40755, Xattrs: []Xattr{{"user.dirattr", []byte("hi")}}}
	b := mustMarshal(t, &dm)
	if want := hx(t, "0000 0000 0000 0000 0000 41ed 7573 6572 2e64 6972 6174 7472 0068 690d 10"); !bytes.Equal(b, want) {
		t.Errorf("dirmeta %x, want %x", b, want)
	}
	if sha(b) != "69e15d72cb032deab46f17664568866e226caf8b33df4da7bac8e1056ab35748" {
		t.Errorf("dirmeta checksum %s", sha(b))
	}
	tree := DirTree{
		Files: []DirTreeFile{{"f", cs(t, "2574b4a04f7b5364089d4e26ba0ceefd058d8fe982f729605ecb964aaac65ca1")}},
		Dirs:  []DirTreeDir{{"d", cs(t, emptyTree), cs(t, "69e15d72cb032deab46f17664568866e226caf8b33df4da7bac8e1056ab35748")}},
	}
	tb := mustMarshal(t, &tree)
	if sha(tb) != "d66fa57710d0eb13f1272706c4f1c131a17fbe617f833799d1b2f4bd971e31e9" || len(tb) != 106 {
		t.Errorf("dirtree %x", tb)
	}
	c := Commit{Subject: "x", Timestamp: tv1Time, RootTree: cs(t, sha(tb)), RootMeta: cs(t, rootMeta)}
	cb := mustMarshal(t, &c)
	wantCommit := xxd(t, `
00000000: 7800 0000 0000 0000 0000 0000 6592 0080  x...........e...
00000010: d66f a577 10d0 eb13 f127 2706 c4f1 c131  .o.w.....''....1
00000020: a17f be61 7f83 3799 d1b2 f4bd 971e 31e9  ...a..7.......1.
00000030: 446a 0ef1 1b7c c167 f3b6 03e5 85c7 eeee  Dj...|.g........
00000040: b675 faa4 12d5 ec73 f629 88eb 0b6c 5488  .u.....s.)...lT.
00000050: 3003 0200 0000                           0.....`)
	if !bytes.Equal(cb, wantCommit) || sha(cb) != "87ad8a0107f61c99180c61ac4def6441b729a5c5a55d43f813142cc9805caed7" {
		t.Errorf("commit %x (%s)", cb, sha(cb))
	}
}

func TestTV3BootableAndDetached(t *testing.T) {
	want := xxd(t, `
00000000: 6f73 7472 6565 2e6c 696e 7578 0000 0000  ostree.linux....
00000010: 362e 312e 302d 7465 7374 0000 730d 0000  6.1.0-test..s...
00000020: 7665 7273 696f 6e00 3432 2e31 0000 7308  version.42.1..s.
00000030: 6f73 7472 6565 2e62 6f6f 7461 626c 6500  ostree.bootable.
00000040: 0100 6210 0000 0000 6f73 7472 6565 2e72  ..b.....ostree.r
00000050: 6566 2d62 696e 6469 6e67 0000 0000 0000  ef-binding......
00000060: 6f73 2f78 3836 5f36 342f 7465 7374 000f  os/x86_64/test..
00000070: 0061 7313 1e30 4474 626f 6f74 0000 0000  .as..0Dtboot....
00000080: 0000 0000 6592 0080 3986 a01d 5164 13fc  ....e...9...Qd..
00000090: 7a96 993d 1315 77e3 ecdc 1f74 07d6 3252  z..=..w....t..2R
000000a0: 4efb 60d3 8876 1dd5 446a 0ef1 1b7c c167  N.`+"`"+`..v..Dj...|.g
000000b0: f3b6 03e5 85c7 eeee b675 faa4 12d5 ec73  .........u.....s
000000c0: f629 88eb 0b6c 5488 a87e 7d78 7878       .)...lT..~}xxx`)
	c, err := ParseCommit(want)
	if err != nil {
		t.Fatal(err)
	}
	if c.Metadata["ostree.bootable"] != true || c.Metadata["ostree.linux"] != "6.1.0-test" || c.Subject != "boot" {
		t.Errorf("ParseCommit = %+v", c)
	}
	built := Commit{
		Metadata: map[string]any{"ostree.linux": "6.1.0-test", "version": "42.1", "ostree.bootable": true,
			"ostree.ref-binding": []string{"os/x86_64/test"}},
		MetadataOrder: []string{"ostree.linux", "version", "ostree.bootable", "ostree.ref-binding"},
		Subject:       "boot", Timestamp: tv1Time, RootTree: c.RootTree, RootMeta: c.RootMeta,
	}
	if b := mustMarshal(t, &built); !bytes.Equal(b, want) || sha(b) != "24a47308607f0cd0648971a574c67f341726e6aeb23e36520d4f40d8c4d7452a" {
		t.Errorf("commit %x", b)
	}
	md, err := MarshalMetadata(map[string]any{"detached": "yes"})
	if err != nil {
		t.Fatal(err)
	}
	if want := hx(t, "6465 7461 6368 6564 0000 0000 0000 0000 7965 7300 0073 0917"); !bytes.Equal(md, want) {
		t.Errorf("commitmeta %x, want %x", md, want)
	}
	empty := FileHeader{Mode: 0o100644}
	r, err := Init(t.Context(), t.TempDir(), ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	ec, _, err := r.WriteContent(t.Context(), &empty, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	if ec.String() != "cc700d46f407c6c5ab2d5dde474366a928b7398277e61162e7f8ec06f469f07e" {
		t.Errorf("empty file checksum %s", ec)
	}
	obj := readFile(t, r.objectPath(ObjectFile, ec))
	if want := hx(t, "0000001a 00000000 0000000000000000 00000000 00000000 000081a4 00000000 00 19 0300"); !bytes.Equal(obj, want) {
		t.Errorf("empty .filez %x, want %x", obj, want)
	}
}

func TestTV5TwoByteOffsets(t *testing.T) {
	var tree DirTree
	for i := range 10 {
		tree.Files = append(tree.Files, DirTreeFile{Name: "file" + string(rune('0'+i)), Checksum: Checksum{byte(i)}})
	}
	tree.Dirs = []DirTreeDir{{"sub", cs(t, emptyTree), cs(t, rootMeta)}}
	b := mustMarshal(t, &tree)
	if len(b) != 483 {
		t.Fatalf("dirtree is %d bytes, want 483", len(b))
	}
	// Outer offset 410 in 2 bytes; the file array's last offset (end of
	// element 10 = 390) is 2 bytes too; each element keeps 1-byte offsets.
	if !bytes.Equal(b[481:], []byte{0x9a, 0x01}) || !bytes.Equal(b[408:410], []byte{0x86, 0x01}) || b[38] != 6 {
		t.Errorf("unexpected framing: tail %x, file offsets end %x, elem0 offset %x", b[481:], b[408:410], b[38])
	}
	if !gvariant.IsNormal("(a(say)a(sayay))", b) {
		t.Error("not normal form")
	}
}
