package testelf

import (
	"bytes"
	"debug/elf"
	"slices"
	"testing"
)

func TestSharedObjectReadsBack(t *testing.T) {
	data := SharedObject([]string{"libc.so.6", "libcomposefs.so.1"}, []string{"hello", "inode64 composefs"})
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(libs, []string{"libc.so.6", "libcomposefs.so.1"}) {
		t.Errorf("DT_NEEDED %q", libs)
	}
	ro := f.Section(".rodata")
	if ro == nil {
		t.Fatal("no .rodata")
	}
	got, err := ro.Data()
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "hello\x00inode64 composefs\x00" {
		t.Errorf(".rodata %q", got)
	}
	if f.Type != elf.ET_DYN || f.Machine != elf.EM_X86_64 {
		t.Errorf("type %v machine %v", f.Type, f.Machine)
	}
}
