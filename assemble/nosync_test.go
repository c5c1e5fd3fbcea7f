package assemble

import (
	"context"
	"encoding/binary"
	"runtime"
	"strings"
	"testing"
)

// runFilter interprets the classic BPF seccomp program for one system call
// (only the instructions noSyncFilter uses).
func runFilter(t *testing.T, prog []byte, arch, nr uint32) uint32 {
	t.Helper()
	if len(prog)%8 != 0 || len(prog) == 0 {
		t.Fatalf("program of %d bytes is not a sock_filter array", len(prog))
	}
	var acc uint32
	for pc := 0; pc < len(prog)/8; pc++ {
		in := prog[8*pc:]
		code, jt, jf, k := binary.NativeEndian.Uint16(in), in[2], in[3], binary.NativeEndian.Uint32(in[4:])
		switch code {
		case 0x20: // ld [k]
			switch k {
			case 0:
				acc = nr
			case 4:
				acc = arch
			default:
				t.Fatalf("pc %d: load of seccomp_data offset %d", pc, k)
			}
		case 0x15: // jeq #k
			if acc == k {
				pc += int(jt)
			} else {
				pc += int(jf)
			}
		case 0x06: // ret #k
			return k
		default:
			t.Fatalf("pc %d: unexpected instruction %#x", pc, code)
		}
	}
	t.Fatal("program runs off its end")
	return 0
}

func TestNoSyncFilter(t *testing.T) {
	arch, ok := noSyncSyscalls[runtime.GOARCH]
	if !ok {
		if noSyncFilter() != nil {
			t.Fatal("a filter for an architecture without a syscall table")
		}
		t.Skipf("no sync syscall numbers for %s", runtime.GOARCH)
	}
	prog := noSyncFilter()
	const allow, noop = 0x7fff0000, 0x00050000
	for _, nr := range arch.nrs {
		if got := runFilter(t, prog, arch.audit, nr); got != noop {
			t.Errorf("syscall %d: filter returns %#x, want %#x (succeed without doing anything)", nr, got, noop)
		}
		// Another ABI (i386 on amd64) numbers its calls differently.
		if got := runFilter(t, prog, 0x40000003, nr); got != allow {
			t.Errorf("syscall %d of another architecture: %#x, want allow", nr, got)
		}
	}
	for nr := uint32(0); nr < 460; nr++ {
		want := uint32(allow)
		for _, s := range arch.nrs {
			if s == nr {
				want = noop
			}
		}
		if got := runFilter(t, prog, arch.audit, nr); got != want {
			t.Errorf("syscall %d: filter returns %#x, want %#x", nr, got, want)
		}
	}
}

func TestBwrapSandboxHasNoSyncFilter(t *testing.T) {
	if _, ok := noSyncSyscalls[runtime.GOARCH]; !ok {
		t.Skipf("no sync syscall numbers for %s", runtime.GOARCH)
	}
	root := newRoot(t)
	if !bwrapWorks(context.Background()) {
		if inCI() {
			t.Fatal("bwrap does not work here")
		}
		t.Skip("bwrap does not work here")
	}
	sb, err := OpenSandbox(context.Background(), root, Options{Sandbox: SandboxBwrap})
	if err != nil {
		t.Fatal(err)
	}
	defer sb.Close()
	out, err := sb.Run(context.Background(), Cmd{Args: []string{"grep", "^Seccomp", "/proc/self/status"}})
	if err != nil {
		t.Fatal(err)
	}
	if !noSyncWorks(context.Background()) {
		t.Fatal("bwrap cannot load the no-sync filter here")
	}
	// Mode 2 is a filter; bwrap sets none of its own.
	if !strings.Contains(string(out), "Seccomp:\t2") {
		t.Errorf("no seccomp filter in the sandbox:\n%s", out)
	}
}
