package deb

import (
	"archive/tar"
	"bufio"
	"compress/bzip2"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz/lzma"
	xi2xz "github.com/xi2/xz"
)

// ErrFormat is wrapped by every error about a malformed .deb.
var ErrFormat = errors.New("malformed .deb")

// Member is one file of control.tar (control, md5sums, conffiles, preinst, ...).
type Member struct {
	Name    string // base name, e.g. "postinst"
	Mode    int64  // permission bits from the tar header
	ModTime time.Time
	Data    []byte
}

// Package is an opened .deb: its control data in memory and a handle on its
// data.tar that can be streamed with Data.
type Package struct {
	// Filename names the .deb in errors. OpenFile sets it to the path.
	Filename string
	// Control is DEBIAN/control with fields in file order and raw values.
	Control Control
	// Members are the files of control.tar in archive order, control included.
	Members []Member
	// Conffiles is the parsed conffiles member.
	Conffiles []Conffile
	// Triggers is the parsed triggers member.
	Triggers []Trigger

	ra       io.ReaderAt
	dataOff  int64
	dataSize int64
	dataComp string // "", ".gz", ".xz", ".zst", ".bz2", ".lzma"
	closer   io.Closer
}

// Name is the Package field.
func (p *Package) Name() string { return p.Control.Get("Package") }

// Version is the Version field.
func (p *Package) Version() string { return p.Control.Get("Version") }

// Architecture is the Architecture field.
func (p *Package) Architecture() string { return p.Control.Get("Architecture") }

// MultiArchSame reports Multi-Arch: same, which puts ":<arch>" in the names of
// the package's info files.
func (p *Package) MultiArchSame() bool { return p.Control.Get("Multi-Arch") == "same" }

// Member returns the named control.tar member.
func (p *Package) Member(name string) (Member, bool) {
	for _, m := range p.Members {
		if m.Name == name {
			return m, true
		}
	}
	return Member{}, false
}

// String names the package for messages: its file name if known, else
// name_version_arch.
func (p *Package) String() string {
	if p.Filename != "" {
		return p.Filename
	}
	return fmt.Sprintf("%s_%s_%s", p.Name(), p.Version(), p.Architecture())
}

// Close releases the file opened by OpenFile. It is a no-op for Open.
func (p *Package) Close() error {
	if p.closer == nil {
		return nil
	}
	return p.closer.Close()
}

// OpenFile opens the .deb at path. The file stays open until Close.
func OpenFile(path string) (*Package, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	p, err := open(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, err
	}
	p.closer = f
	return p, nil
}

// Open reads the ar container and control.tar of a .deb. r must stay valid
// while the Package's data is read.
func Open(r io.ReaderAt, size int64) (*Package, error) {
	return open(r, size, "")
}

func open(r io.ReaderAt, size int64, name string) (*Package, error) {
	p := &Package{Filename: name, ra: r}
	fail := func(format string, args ...any) error {
		n := name
		if n == "" {
			n = "package"
		}
		return fmt.Errorf("%s: %w: %s", n, ErrFormat, fmt.Sprintf(format, args...))
	}
	magic := make([]byte, 8)
	if n, _ := r.ReadAt(magic, 0); n < 8 || string(magic) != "!<arch>\n" {
		return nil, fail("bad ar magic %q: not an ar archive, which a Debian binary package is (it starts with \"!<arch>\\n\")", magic[:n])
	}
	var controlOff, controlSize int64 = -1, 0
	controlComp := ""
	sawBinary, sawData := false, false
	off := int64(8)
	for idx := 0; off < size; idx++ {
		var hdr [60]byte
		if _, err := r.ReadAt(hdr[:], off); err != nil {
			return nil, fail("truncated ar member header at offset %d", off)
		}
		if string(hdr[58:60]) != "`\n" {
			return nil, fail("bad ar member header at offset %d", off)
		}
		mname := strings.TrimSuffix(strings.TrimRight(string(hdr[0:16]), " "), "/")
		msize, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || msize < 0 {
			return nil, fail("ar member %q has a bad size", mname)
		}
		body := off + 60
		if body+msize > size {
			return nil, fail("ar member %q is truncated (needs %d bytes, file has %d)", mname, body+msize, size)
		}
		switch {
		case idx == 0:
			if mname != "debian-binary" {
				return nil, fail("first ar member is %q, want debian-binary", mname)
			}
			v := make([]byte, msize)
			if _, err := r.ReadAt(v, body); err != nil {
				return nil, fail("read debian-binary: %v", err)
			}
			if !strings.HasPrefix(string(v), "2.") {
				return nil, fail("unsupported format version %q", strings.TrimSpace(string(v)))
			}
			sawBinary = true
		case strings.HasPrefix(mname, "control.tar"):
			controlOff, controlSize, controlComp = body, msize, strings.TrimPrefix(mname, "control.tar")
		case strings.HasPrefix(mname, "data.tar"):
			p.dataOff, p.dataSize, p.dataComp = body, msize, strings.TrimPrefix(mname, "data.tar")
			sawData = true
		case strings.HasPrefix(mname, "_"):
			// Reserved for signatures and other extensions; dpkg ignores them.
		default:
			return nil, fail("unexpected ar member %q", mname)
		}
		off = body + msize + msize%2
	}
	switch {
	case !sawBinary:
		return nil, fail("missing debian-binary member")
	case controlOff < 0:
		return nil, fail("missing control.tar member")
	case !sawData:
		return nil, fail("missing data.tar member")
	}
	if !knownCompression(controlComp) {
		return nil, fail("control.tar%s: unknown compression", controlComp)
	}
	if !knownCompression(p.dataComp) {
		return nil, fail("data.tar%s: unknown compression", p.dataComp)
	}
	if err := p.readControl(io.NewSectionReader(r, controlOff, controlSize), controlComp); err != nil {
		return nil, fail("%s", describeMember("control.tar"+controlComp, controlComp, err))
	}
	return p, nil
}

func knownCompression(ext string) bool {
	switch ext {
	case "", ".gz", ".xz", ".zst", ".bz2", ".lzma":
		return true
	}
	return false
}

// maxDictionary bounds the dictionary (xz, lzma; twice that for a zstd
// window) a member may declare: 64 MiB, what xz -9 uses.
const maxDictionary = 64 << 20

// decompress wraps r in the decompressor for a member suffix.
func decompress(ext string, r io.Reader) (io.ReadCloser, error) {
	switch ext {
	case "":
		return io.NopCloser(r), nil
	case ".gz":
		zr, err := gzip.NewReader(bufio.NewReaderSize(r, 64*1024))
		if err != nil {
			return nil, err
		}
		return zr, nil
	case ".xz":
		// xi2/xz is the module's one xz decoder: BenchmarkXZ measured
		// it at about 1.3x less CPU than ulikunitz/xz on real
		// data.tar.xz members (coreutils, libc6, systemd).
		return newXi2Reader(bufio.NewReaderSize(r, 64*1024))
	case ".zst":
		// One goroutine per stream: packages are already decoded in parallel.
		// The window is allocated as the frame header declares it: cap
		// it at libzstd's default limit (window log 27), which dpkg has
		// too, so that a 13-byte member cannot make us allocate 2 GiB.
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxDictionary*2))
		if err != nil {
			return nil, err
		}
		return zr.IOReadCloser(), nil
	case ".bz2":
		return io.NopCloser(bzip2.NewReader(r)), nil
	case ".lzma":
		// The dictionary is allocated as the header declares it: cap it
		// like xz's.
		lr, err := lzma.ReaderConfig{DictCap: maxDictionary}.NewReader(bufio.NewReaderSize(r, 64*1024))
		if err != nil {
			return nil, err
		}
		return io.NopCloser(lr), nil
	}
	return nil, fmt.Errorf("unknown compression %q", ext)
}

// An xi2/xz reader allocates the stream's whole dictionary, 8 MiB even for
// a control.tar.xz of a few KiB, and zeroing it cost more than decoding
// such a member (BenchmarkOpen: 0.54 s -> 0.14 s CPU for the example's
// 151 .debs); so readers are reused.
var xi2Readers sync.Pool // of *xi2xz.Reader

func newXi2Reader(r io.Reader) (io.ReadCloser, error) {
	xr, _ := xi2Readers.Get().(*xi2xz.Reader)
	var err error
	if xr == nil {
		xr, err = xi2xz.NewReader(r, maxDictionary)
	} else {
		err = xr.Reset(r)
	}
	if err != nil {
		return nil, err
	}
	return &xi2Reader{xr}, nil
}

// xi2Reader returns its decoder to xi2Readers on Close.
type xi2Reader struct{ xr *xi2xz.Reader }

func (x *xi2Reader) Read(b []byte) (int, error) {
	if x.xr == nil {
		return 0, errors.New("xz: read after close")
	}
	return x.xr.Read(b)
}

func (x *xi2Reader) Close() error {
	if x.xr != nil {
		xi2Readers.Put(x.xr)
		x.xr = nil
	}
	return nil
}

func (p *Package) readControl(r io.Reader, comp string) error {
	zr, err := decompress(comp, r)
	if err != nil {
		return decodeError{err}
	}
	defer zr.Close()
	tr := tar.NewReader(decodeReader{zr})
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if strings.Contains(name, "/") || name == "." || name == ".." {
			return fmt.Errorf("unexpected member %q", h.Name)
		}
		// Everything in control.tar is held in memory.
		if total += h.Size; h.Size > 64<<20 || total > 128<<20 {
			return fmt.Errorf("member %s is too large (%d bytes, %d in all)", name, h.Size, total)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		p.Members = append(p.Members, Member{Name: name, Mode: h.Mode & 0o7777, ModTime: h.ModTime, Data: b})
	}
	ctl, ok := p.Member("control")
	if !ok {
		return fmt.Errorf("no control file")
	}
	if p.Control, err = ParseControl(ctl.Data); err != nil {
		return fmt.Errorf("control: %w", err)
	}
	for _, f := range []string{"Package", "Version", "Architecture"} {
		if strings.TrimSpace(p.Control.Get(f)) == "" {
			return fmt.Errorf("control: missing %s field", f)
		}
	}
	if m, ok := p.Member("conffiles"); ok {
		if p.Conffiles, err = parseConffiles(m.Data); err != nil {
			return err
		}
	}
	if m, ok := p.Member("triggers"); ok {
		if p.Triggers, err = parseTriggers(m.Data); err != nil {
			return err
		}
	}
	return nil
}

// Data streams data.tar. Close the result when done; every call starts
// from the beginning.
func (p *Package) Data() (*Data, error) {
	var zr io.ReadCloser
	var err error
	if xz := xzCommand(); p.dataComp == ".xz" && xz != "" && p.dataSize >= xzExecMinSize {
		zr, _ = execXZ(xz, io.NewSectionReader(p.ra, p.dataOff, p.dataSize))
	}
	if zr == nil {
		// No xz program, or it could not be started: decode in process.
		zr, err = decompress(p.dataComp, io.NewSectionReader(p.ra, p.dataOff, p.dataSize))
	}
	if err != nil {
		return nil, p.dataError(decodeError{err})
	}
	return &Data{Reader: tar.NewReader(decodeReader{zr}), zr: zr}, nil
}

// dataError describes an error met while reading data.tar: the .deb, the
// member, and what it should have been.
func (p *Package) dataError(err error) error {
	if errors.Is(err, ErrFormat) {
		return err
	}
	return fmt.Errorf("%s: %w: %s", p, ErrFormat, describeMember("data.tar"+p.dataComp, p.dataComp, err))
}

// decodeError marks an error of the decompressor, as opposed to one of
// the tar reader above it.
type decodeError struct{ err error }

func (e decodeError) Error() string { return e.err.Error() }
func (e decodeError) Unwrap() error { return e.err }

// decodeReader tags the decompressor's errors as decodeError.
type decodeReader struct{ r io.Reader }

func (d decodeReader) Read(b []byte) (int, error) {
	n, err := d.r.Read(b)
	if err != nil && err != io.EOF {
		err = decodeError{err}
	}
	return n, err
}

var compressionNames = map[string]string{"": "uncompressed", ".gz": "gzip", ".xz": "xz", ".zst": "zstd", ".bz2": "bzip2", ".lzma": "lzma"}

// describeMember says what is wrong with a compressed tar member (err came
// from its decompressor or its tar reader) and what was expected.
func describeMember(member, comp string, err error) string {
	var de decodeError
	name := compressionNames[comp]
	want := "an uncompressed tar archive"
	switch comp {
	case "":
	case ".xz", ".lzma":
		want = "an " + name + "-compressed tar archive"
	default:
		want = "a " + name + "-compressed tar archive"
	}
	switch {
	case errors.As(err, &de) && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)):
		return fmt.Sprintf("%s is truncated: its %s data ends early, want %s (%v)", member, name, want, de.err)
	case errors.As(err, &de):
		return fmt.Sprintf("%s is not valid %s data, want %s (%v)", member, name, want, de.err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("%s is truncated or not a tar archive: the tar data ends early, want %s (%v)", member, want, err)
	case errors.Is(err, tar.ErrHeader) && comp == "":
		return fmt.Sprintf("%s is not a tar archive, want %s (%v)", member, want, err)
	case errors.Is(err, tar.ErrHeader):
		return fmt.Sprintf("%s does not hold a valid tar archive (its %s data is corrupt, or is not a tar), want %s (%v)", member, name, want, err)
	}
	return fmt.Sprintf("%s: %v", member, err)
}

// Data is a streaming reader of a package's data.tar.
type Data struct {
	*tar.Reader
	zr io.ReadCloser
}

// Next advances to the next member, like tar.Reader.Next. At the end of
// the archive it also reads the compressed stream to its end, so that the
// decompressor checks the stream's integrity (xz's CRC64 is only checked
// at the end of a block): a corrupt data.tar is an error, not a silently
// wrong file.
func (d *Data) Next() (*tar.Header, error) {
	h, err := d.Reader.Next()
	if err == io.EOF {
		if _, derr := io.Copy(io.Discard, d.zr); derr != nil {
			return nil, decodeError{fmt.Errorf("after the end of the tar archive: %w", derr)}
		}
	}
	return h, err
}

// Close releases the decompressor.
func (d *Data) Close() error { return d.zr.Close() }
