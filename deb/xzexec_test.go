package deb

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
)

// xzTestPackage has a data.tar.xz well above xzExecMinSize: one file of
// incompressible bytes, and small text files.
func xzTestPackage() testdeb.Package {
	rnd := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, 3*xzExecMinSize)
	for i := range noise {
		noise[i] = byte(rnd.Uint32())
	}
	p := testdeb.Package{Name: "xzdata", Compression: "xz", Files: []testdeb.File{
		{Path: "usr/share/xzdata/noise", Body: string(noise)},
	}}
	for i := range 20 {
		p.Files = append(p.Files, testdeb.File{Path: fmt.Sprintf("usr/share/xzdata/f%d", i), Body: strings.Repeat("text ", 100*i)})
	}
	return p
}

// readData lists every member of the package's data.tar with a hash of its
// body, and says whether the host's xz decoded it.
func readData(t *testing.T, p *Package) (string, bool, error) {
	t.Helper()
	d, err := p.Data()
	if err != nil {
		return "", false, err
	}
	defer d.Close()
	_, viaExec := d.zr.(*xzProcess)
	var out strings.Builder
	for {
		h, err := d.Next()
		if err == io.EOF {
			return out.String(), viaExec, nil
		}
		if err != nil {
			return out.String(), viaExec, err
		}
		hw := sha256.New()
		if _, err := io.Copy(hw, d); err != nil {
			return out.String(), viaExec, err
		}
		fmt.Fprintf(&out, "%s %c %d %x\n", h.Name, h.Typeflag, h.Size, hw.Sum(nil))
	}
}

func needXZ(t *testing.T) string {
	t.Helper()
	needTool(t, "xz")
	p, _ := exec.LookPath("xz")
	return p
}

func TestDataXZDecodersAgree(t *testing.T) {
	xz := needXZ(t)
	single := testdeb.Package(xzTestPackage())
	deb, err := testdeb.Build(single)
	if err != nil {
		t.Fatal(err)
	}
	// The same tar as a multi-block stream, as linux-image is compressed
	// (xz -T): the host's xz decodes its blocks in parallel.
	plain := single
	plain.Compression = "none"
	raw, err := testdeb.Build(plain)
	if err != nil {
		t.Fatal(err)
	}
	tarBytes := arMemberData(t, raw, "data.tar")
	cmd := exec.Command(xz, "--compress", "--stdout", "--threads=2", "--block-size="+strconv.Itoa(xzExecMinSize))
	cmd.Stdin = bytes.NewReader(tarBytes)
	multi, err := cmd.Output()
	if err != nil {
		t.Fatalf("xz --block-size: %v", err)
	}
	multiDeb := replaceArMember(t, deb, "data.tar.xz", multi)

	for _, tc := range []struct {
		name string
		deb  []byte
	}{{"single-block", deb}, {"multi-block", multiDeb}} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Open(bytes.NewReader(tc.deb), int64(len(tc.deb)))
			if err != nil {
				t.Fatal(err)
			}
			if p.dataSize < xzExecMinSize {
				t.Fatalf("data.tar.xz is %d bytes, want at least %d for the test", p.dataSize, xzExecMinSize)
			}
			withXZCommand(t, xz)
			got, viaExec, err := readData(t, p)
			if err != nil {
				t.Fatalf("with %s: %v", xz, err)
			}
			if !viaExec {
				t.Fatalf("data.tar.xz of %d bytes was not decoded by %s", p.dataSize, xz)
			}
			withXZCommand(t, "")
			want, viaExec, err := readData(t, p)
			if err != nil {
				t.Fatalf("in process: %v", err)
			}
			if viaExec {
				t.Fatal("decoded by the xz program with none configured")
			}
			if got != want {
				t.Errorf("the xz program and the in-process decoder disagree:\n%s\nvs\n%s", got, want)
			}
			if !strings.Contains(got, "./usr/share/xzdata/noise 0 196608 ") {
				t.Errorf("noise file missing or wrong size:\n%s", got)
			}
		})
	}
}

func TestDataXZCorrupt(t *testing.T) {
	xz := needXZ(t)
	deb, err := testdeb.Build(xzTestPackage())
	if err != nil {
		t.Fatal(err)
	}
	data := arMemberData(t, deb, "data.tar.xz")
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0x55
	p, err := Open(bytes.NewReader(replaceArMember(t, deb, "data.tar.xz", bad)), int64(len(deb)))
	if err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{xz, ""} {
		withXZCommand(t, cmd)
		if _, _, err := readData(t, p); err == nil {
			t.Errorf("xz command %q: a corrupt data.tar.xz was read without error", cmd)
		}
	}
	// Truncated: the stream ends early.
	short := replaceArMember(t, deb, "data.tar.xz", data[:len(data)*3/4])
	p, err = Open(bytes.NewReader(short), int64(len(short)))
	if err != nil {
		t.Fatal(err)
	}
	withXZCommand(t, xz)
	if _, _, err := readData(t, p); err == nil {
		t.Error("a truncated data.tar.xz was read without error")
	}
}

func TestDataXZCloseEarly(t *testing.T) {
	xz := needXZ(t)
	withXZCommand(t, xz)
	p := build(t, xzTestPackage())
	d, err := p.Data()
	if err != nil {
		t.Fatal(err)
	}
	x, ok := d.zr.(*xzProcess)
	if !ok {
		t.Fatal("not decoded by the xz program")
	}
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("close before the end: %v", err)
	}
	if x.cmd.ProcessState == nil {
		t.Fatal("the xz process was not waited for")
	}
	if _, err := x.Read(make([]byte, 1)); err == nil || errors.Is(err, io.EOF) {
		t.Errorf("read after close: %v, want an error", err)
	}
}

// arMemberData returns the body of the named member of an ar archive.
func arMemberData(t *testing.T, ar []byte, name string) []byte {
	t.Helper()
	for off := 8; off+60 <= len(ar); {
		n := strings.TrimRight(string(ar[off:off+16]), " /")
		size, err := strconv.Atoi(strings.TrimSpace(string(ar[off+48 : off+58])))
		if err != nil {
			t.Fatal(err)
		}
		if n == name {
			return ar[off+60 : off+60+size]
		}
		off += 60 + size + size%2
	}
	t.Fatalf("no ar member %s", name)
	return nil
}

// replaceArMember returns the ar archive with the named member's body
// replaced.
func replaceArMember(t *testing.T, ar []byte, name string, body []byte) []byte {
	t.Helper()
	out := bytes.NewBuffer(bytes.Clone(ar[:8]))
	found := false
	for off := 8; off+60 <= len(ar); {
		hdr := ar[off : off+60]
		size, err := strconv.Atoi(strings.TrimSpace(string(hdr[48:58])))
		if err != nil {
			t.Fatal(err)
		}
		b := ar[off+60 : off+60+size]
		if strings.TrimRight(string(hdr[:16]), " /") == name {
			found = true
			b = body
			hdr = append(bytes.Clone(hdr[:48]), []byte(fmt.Sprintf("%-10d`\n", len(b)))...)
		}
		out.Write(hdr)
		out.Write(b)
		if len(b)%2 == 1 {
			out.WriteByte('\n')
		}
		off += 60 + size + size%2
	}
	if !found {
		t.Fatalf("no ar member %s", name)
	}
	return out.Bytes()
}

// TestXi2ReadersReused reads xz streams interleaved and after a corrupt
// one: decoders taken from the pool must never be shared or carry state.
func TestXi2ReadersReused(t *testing.T) {
	withXZCommand(t, "")
	a := xzTestPackage()
	b := testdeb.Package{Name: "other", Compression: "xz", Files: []testdeb.File{{Path: "usr/share/other/x", Body: strings.Repeat("other ", 5000)}}}
	debA, err := testdeb.Build(a)
	if err != nil {
		t.Fatal(err)
	}
	debB, err := testdeb.Build(b)
	if err != nil {
		t.Fatal(err)
	}
	data := arMemberData(t, debA, "data.tar.xz")
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0x55
	debBad := replaceArMember(t, debA, "data.tar.xz", bad)
	open := func(b []byte) *Package {
		p, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	pa, pb, pbad := open(debA), open(debB), open(debBad)
	wantA, _, err := readData(t, pa)
	if err != nil {
		t.Fatal(err)
	}
	wantB, _, err := readData(t, pb)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, _, err := readData(t, pbad); err == nil {
			t.Fatal("corrupt stream read without error")
		}
		// Two streams open at once, read in turns.
		da, err := pa.Data()
		if err != nil {
			t.Fatal(err)
		}
		db, err := pb.Data()
		if err != nil {
			t.Fatal(err)
		}
		var gotA, gotB strings.Builder
		for doneA, doneB := false, false; !doneA || !doneB; {
			for _, s := range []struct {
				d    *Data
				out  *strings.Builder
				done *bool
			}{{da, &gotA, &doneA}, {db, &gotB, &doneB}} {
				if *s.done {
					continue
				}
				h, err := s.d.Next()
				if err == io.EOF {
					*s.done = true
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				hw := sha256.New()
				if _, err := io.Copy(hw, s.d); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(s.out, "%s %c %d %x\n", h.Name, h.Typeflag, h.Size, hw.Sum(nil))
			}
		}
		da.Close()
		db.Close()
		if gotA.String() != wantA || gotB.String() != wantB {
			t.Fatalf("round %d: interleaved reads differ from single reads", i)
		}
	}
}

// TestDataXZProgramUnusable falls back to the in-process decoder when the
// configured xz program cannot be started.
func TestDataXZProgramUnusable(t *testing.T) {
	withXZCommand(t, filepath.Join(t.TempDir(), "no-such-xz"))
	p := build(t, xzTestPackage())
	got, viaExec, err := readData(t, p)
	if err != nil {
		t.Fatal(err)
	}
	if viaExec || !strings.Contains(got, "./usr/share/xzdata/noise ") {
		t.Errorf("viaExec %v, members:\n%s", viaExec, got)
	}
}
