package assemble

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"

	"github.com/klauspost/pgzip"
)

// dracut compresses the initramfs with a single-threaded `gzip -9`, which
// took a third of a whole compose. When neither the treefile's
// initramfs-args nor the root's dracut configuration choose a compressor,
// dracut writes the image uncompressed and it is gzip-compressed here on
// every CPU: the same format the kernel reads, about 3% larger than -9,
// ten times faster on two cores.

// dracutCompressFlags are dracut options that choose the compression.
var dracutCompressFlags = regexp.MustCompile(`^--(compress|no-compress|gzip|bzip2|lzma|xz|lzo|lz4|zstd)(=|$)`)

// dracutChoosesCompression reports whether args or the root's dracut
// configuration set the compression, which must then be left to dracut.
func dracutChoosesCompression(root string, args []string) bool {
	for _, a := range args {
		if dracutCompressFlags.MatchString(a) {
			return true
		}
	}
	var confs []string
	for _, pattern := range []string{"etc/dracut.conf", "etc/dracut.conf.d/*.conf", "usr/lib/dracut/dracut.conf.d/*.conf"} {
		m, _ := filepath.Glob(filepath.Join(root, pattern))
		confs = append(confs, m...)
	}
	setting := regexp.MustCompile(`(?m)^\s*compress\s*=`)
	for _, c := range confs {
		if data, err := os.ReadFile(c); err == nil && setting.Match(data) {
			return true
		}
	}
	return false
}

// compressInitramfs writes the gzip-compressed form of the uncompressed
// image raw to dst (through a temporary file), leaving a leading early
// cpio archive (CPU microcode, which the kernel reads before decompressing
// anything) uncompressed as dracut does.
func compressInitramfs(raw, dst string) error {
	in, err := os.Open(raw)
	if err != nil {
		return err
	}
	defer in.Close()
	early, err := earlyCpioLength(in)
	if err != nil {
		return fmt.Errorf("initramfs %s: %w", raw, err)
	}
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return err
	}
	out, err := os.CreateTemp(filepath.Dir(dst), ".initramfs-*")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	bw := bufio.NewWriterSize(out, 1<<20)
	err = func() error {
		if _, err := io.CopyN(bw, in, early); err != nil {
			return err
		}
		zw, err := pgzip.NewWriterLevel(bw, pgzip.DefaultCompression)
		if err != nil {
			return err
		}
		if err := zw.SetConcurrency(1<<20, 2*runtime.NumCPU()); err != nil {
			return err
		}
		if _, err := io.Copy(zw, in); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return err
		}
		return bw.Flush()
	}()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("compress initramfs %s: %w", dst, err)
	}
	if err := os.Chmod(out.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(out.Name(), dst)
}

// earlyCpioLength returns the length of the leading uncompressed cpio
// archive when it is dracut's early one (it holds the file "early_cpio"),
// or 0. newc format: a 110-byte ASCII header, the NUL-terminated name
// padded to 4 bytes, the data padded to 4 bytes, "TRAILER!!!" last.
func earlyCpioLength(r io.Reader) (int64, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	var off int64
	hdr := make([]byte, 110)
	isEarly := false
	for {
		if _, err := io.ReadFull(br, hdr); err != nil {
			if off == 0 || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return 0, nil
			}
			return 0, err
		}
		if !bytes.HasPrefix(hdr, []byte("07070")) {
			return 0, nil // not a cpio archive: compress everything
		}
		field := func(i int) (int64, error) {
			return strconv.ParseInt(string(hdr[6+8*i:14+8*i]), 16, 64)
		}
		size, err1 := field(6)
		nameSize, err2 := field(11)
		if err1 != nil || err2 != nil || nameSize < 1 {
			return 0, nil
		}
		name := make([]byte, nameSize)
		if _, err := io.ReadFull(br, name); err != nil {
			return 0, nil
		}
		off += 110 + nameSize
		pad := (4 - off%4) % 4
		dataLen := size + (4-size%4)%4
		if _, err := br.Discard(int(pad + dataLen)); err != nil {
			return 0, nil
		}
		off += pad + dataLen
		n := string(bytes.TrimRight(name, "\x00"))
		if n == "early_cpio" {
			isEarly = true
		}
		if n == "TRAILER!!!" {
			if !isEarly {
				return 0, nil
			}
			// dracut pads the early archive with zeros to a 512-byte block.
			for {
				b, err := br.Peek(1)
				if err != nil || b[0] != 0 {
					return off, nil
				}
				br.Discard(1)
				off++
			}
		}
	}
}
