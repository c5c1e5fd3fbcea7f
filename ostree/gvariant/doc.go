// Package gvariant encodes and decodes GLib GVariant serialized data in normal form,
// limited to the types OSTree objects use (no maybe types, no GVariant header).
// It must not know anything about OSTree object semantics or byte-swapped fields.
package gvariant
