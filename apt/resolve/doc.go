// Package resolve chooses a complete, consistent set of Debian packages from
// an in-memory universe of apt.Package records (dependencies, provides,
// conflicts, multi-arch, pins, excludes, lockfiles). It must not do I/O.
package resolve
