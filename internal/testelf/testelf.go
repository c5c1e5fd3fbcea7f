package testelf

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"strings"
)

// SharedObject returns an x86-64 ELF shared object whose dynamic section
// lists needed as DT_NEEDED entries and whose .rodata holds the strings
// in rodata, each NUL-terminated.
func SharedObject(needed, rodata []string) []byte {
	var dynstr strtab
	dynstr.add("")
	var dynamic bytes.Buffer
	for _, n := range needed {
		binary.Write(&dynamic, binary.LittleEndian, elf.Dyn64{Tag: int64(elf.DT_NEEDED), Val: uint64(dynstr.add(n))})
	}
	binary.Write(&dynamic, binary.LittleEndian, elf.Dyn64{Tag: int64(elf.DT_NULL)})
	var ro bytes.Buffer
	for _, s := range rodata {
		ro.WriteString(s)
		ro.WriteByte(0)
	}

	var shstr strtab
	shstr.add("")
	type section struct {
		name  string
		typ   elf.SectionType
		flags elf.SectionFlag
		link  uint32
		ent   uint64
		data  []byte
	}
	sections := []section{
		{name: ".dynstr", typ: elf.SHT_STRTAB, flags: elf.SHF_ALLOC, data: dynstr.Bytes()},
		{name: ".dynamic", typ: elf.SHT_DYNAMIC, flags: elf.SHF_ALLOC | elf.SHF_WRITE, link: 1, ent: 16, data: dynamic.Bytes()},
		{name: ".rodata", typ: elf.SHT_PROGBITS, flags: elf.SHF_ALLOC, data: ro.Bytes()},
		{name: ".shstrtab", typ: elf.SHT_STRTAB},
	}
	names := make([]uint32, len(sections))
	for i, s := range sections {
		names[i] = uint32(shstr.add(s.name))
	}
	sections[len(sections)-1].data = shstr.Bytes()

	const ehsize, shentsize = 64, 64
	var body bytes.Buffer
	offsets := make([]uint64, len(sections))
	for i, s := range sections {
		for body.Len()%8 != 0 {
			body.WriteByte(0)
		}
		offsets[i] = uint64(ehsize + body.Len())
		body.Write(s.data)
	}
	for body.Len()%8 != 0 {
		body.WriteByte(0)
	}
	shoff := uint64(ehsize + body.Len())

	var out bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_DYN), Machine: uint16(elf.EM_X86_64), Version: uint32(elf.EV_CURRENT),
		Shoff: shoff, Ehsize: ehsize, Shentsize: shentsize,
		Shnum: uint16(len(sections) + 1), Shstrndx: uint16(len(sections)),
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	binary.Write(&out, binary.LittleEndian, hdr)
	out.Write(body.Bytes())
	binary.Write(&out, binary.LittleEndian, elf.Section64{}) // SHN_UNDEF
	for i, s := range sections {
		binary.Write(&out, binary.LittleEndian, elf.Section64{
			Name: names[i], Type: uint32(s.typ), Flags: uint64(s.flags), Off: offsets[i],
			Size: uint64(len(s.data)), Link: s.link, Addralign: 1, Entsize: s.ent,
		})
	}
	return out.Bytes()
}

// strtab is an ELF string table being built.
type strtab struct{ b strings.Builder }

func (t *strtab) add(s string) int {
	off := t.b.Len()
	t.b.WriteString(s)
	t.b.WriteByte(0)
	return off
}

func (t *strtab) Bytes() []byte { return []byte(t.b.String()) }
