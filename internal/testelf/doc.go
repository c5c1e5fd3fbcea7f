// Package testelf builds tiny ELF shared objects for tests that inspect binaries in a tree without running them (which libraries a library needs, which strings it carries).
// The files only have to satisfy debug/elf: no code, no program headers; never run them.
// It is for tests only and must not grow into an ELF writer for real use.
package testelf
