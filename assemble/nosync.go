package assemble

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"runtime"
	"sync"
)

// Commands in a bwrap sandbox run with fsync and its relatives turned into
// no-ops that succeed (a seccomp filter returning 0), as eatmydata does:
// dpkg --configure alone calls fsync about 1,200 times for the example (its
// status journal, after each package and trigger), which took about 3 s of
// a compose. Skipping them changes no file: fsync only decides when data
// reaches the disk. A root being built is not live until it is complete
// and renamed into place (and committed), so a crash leaves an unfinished
// root that is thrown away either way; sync(1) or the commit makes it
// durable. Never used for the host's own root ("/").

// noSyncSyscalls are, per GOARCH, the seccomp audit architecture and the
// numbers of fsync, fdatasync, sync, syncfs and sync_file_range.
var noSyncSyscalls = map[string]struct {
	audit uint32
	nrs   []uint32
}{
	"amd64": {0xc000003e, []uint32{74, 75, 162, 306, 277}},
	"arm64": {0xc00000b7, []uint32{82, 83, 81, 267, 84}},
}

// noSyncFilter returns a classic BPF seccomp program, as bwrap --seccomp
// reads it (an array of struct sock_filter), that makes the sync system
// calls of this architecture return 0 without doing anything and allows
// everything else; nil where the numbers are not known.
func noSyncFilter() []byte {
	arch, ok := noSyncSyscalls[runtime.GOARCH]
	if !ok {
		return nil
	}
	const (
		ldAbs    = 0x20 // BPF_LD | BPF_W | BPF_ABS
		jeq      = 0x15 // BPF_JMP | BPF_JEQ | BPF_K
		ret      = 0x06 // BPF_RET | BPF_K
		retAllow = 0x7fff0000
		retErrno = 0x00050000 // SECCOMP_RET_ERRNO with errno 0: returns 0
		offNr    = 0          // struct seccomp_data: nr
		offArch  = 4          // struct seccomp_data: arch
	)
	type insn struct {
		code   uint16
		jt, jf uint8
		k      uint32
	}
	n := len(arch.nrs)
	// 0: load arch; 1: other arch -> allow; 2: load nr; 3..3+n-1: match
	// -> no-op; 3+n: allow; 4+n: return 0.
	prog := []insn{
		{ldAbs, 0, 0, offArch},
		{jeq, 0, uint8(n + 1), arch.audit},
		{ldAbs, 0, 0, offNr},
	}
	for i, nr := range arch.nrs {
		prog = append(prog, insn{jeq, uint8(n - i), 0, nr})
	}
	prog = append(prog, insn{ret, 0, 0, retAllow}, insn{ret, 0, 0, retErrno})
	out := make([]byte, 0, 8*len(prog))
	for _, in := range prog {
		out = binary.NativeEndian.AppendUint16(out, in.code)
		out = append(out, in.jt, in.jf)
		out = binary.NativeEndian.AppendUint32(out, in.k)
	}
	return out
}

// noSyncFile returns a pipe to pass as bwrap's --seccomp FD, holding the
// filter, or nil where there is none. The caller closes it.
func noSyncFile() (*os.File, error) {
	prog := noSyncFilter()
	if prog == nil {
		return nil, nil
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	// A few dozen bytes: the pipe buffer holds them without a reader.
	_, err = w.Write(prog)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

var noSyncProbe struct {
	once sync.Once
	ok   bool
}

// noSyncWorks checks once per process that bwrap can load the filter (a
// kernel without seccomp filters cannot); without it, commands run with
// their real fsync.
func noSyncWorks(ctx context.Context) bool {
	noSyncProbe.once.Do(func() {
		truePath, err := exec.LookPath("true")
		if err != nil {
			return
		}
		f, err := noSyncFile()
		if err != nil || f == nil {
			return
		}
		defer f.Close()
		cmd := exec.CommandContext(ctx, "bwrap", "--ro-bind", "/", "/", "--seccomp", "3", "--", truePath)
		cmd.ExtraFiles = []*os.File{f}
		noSyncProbe.ok = cmd.Run() == nil
	})
	return noSyncProbe.ok
}
