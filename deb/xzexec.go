package deb

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Decoding data.tar.xz is most of the CPU time of an unpack (the kernel
// package alone is 108 MB of xz). The host's xz (liblzma) decodes Debian's
// data.tar.xz about 1.4 times faster than xi2/xz, and decodes the blocks of
// a multi-block stream (linux-image is compressed with xz -T, in 24 MiB
// blocks) on several threads. So a data.tar.xz of at least
// xzExecMinSize bytes is decoded by the host's xz when there is one; the
// output is the same bytes, and without an xz on PATH xi2/xz is used.
// Control archives are small and always decoded in process.

// xzExecMinSize is the smallest data.tar.xz handed to the host's xz:
// below it, starting a process costs about what it saves.
const xzExecMinSize = 64 << 10

// xzCommand is the host's xz, "" when there is none. A variable so that
// tests can force either decoder.
var xzCommand = sync.OnceValue(func() string {
	p, err := exec.LookPath("xz")
	if err != nil {
		return ""
	}
	return p
})

// execXZ decodes the xz stream r with the program at path. The result's
// Read reports the program's failure (a corrupt stream) instead of a clean
// EOF; Close stops the program if the stream was not read to the end.
func execXZ(path string, r io.Reader) (io.ReadCloser, error) {
	// --threads: liblzma decodes the blocks of a multi-block stream in
	// parallel; a single-block stream uses one thread whatever is asked.
	cmd := exec.Command(path, "--decompress", "--stdout", "--quiet", "--threads="+strconv.Itoa(runtime.NumCPU()))
	// No XZ_OPT or XZ_DEFAULTS from the environment (a memory limit there
	// could make decoding fail).
	cmd.Env = []string{}
	if f, ok := r.(*os.File); ok {
		cmd.Stdin = f
	} else {
		cmd.Stdin = r
	}
	var stderr strings.Builder
	cmd.Stderr = &limitedWriter{w: &stderr, n: 4096}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// A 1 MiB pipe lets xz decode ahead while the unpacker creates files.
	// (Best effort: a smaller pipe is only slower.)
	if f, ok := out.(*os.File); ok {
		if rc, err := f.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { unix.FcntlInt(fd, unix.F_SETPIPE_SZ, 1<<20) })
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	return &xzProcess{cmd: cmd, out: out, stderr: &stderr}, nil
}

type xzProcess struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *strings.Builder
	done   bool
	err    error
}

func (x *xzProcess) Read(b []byte) (int, error) {
	if x.done {
		return 0, x.err
	}
	n, err := x.out.Read(b)
	if err == io.EOF {
		x.done = true
		x.err = io.EOF
		if werr := x.cmd.Wait(); werr != nil {
			x.err = fmt.Errorf("xz: %v: %s", werr, strings.TrimSpace(x.stderr.String()))
		}
		return n, x.err
	}
	return n, err
}

func (x *xzProcess) Close() error {
	if x.done {
		return nil
	}
	x.done = true
	x.err = errors.New("xz: read after close")
	// Not read to the end (tar stops at its end-of-archive blocks, or an
	// error stopped the unpack): the output is not wanted any more.
	x.out.Close()
	x.cmd.Process.Kill()
	x.cmd.Wait()
	return nil
}

// limitedWriter keeps the first n bytes written to it.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.n > 0 {
		k := min(len(b), l.n)
		l.w.Write(b[:k])
		l.n -= k
	}
	return len(b), nil
}
