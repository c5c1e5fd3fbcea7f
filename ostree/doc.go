// Package ostree reads and writes OSTree repositories (archive, bare-user, bare) in pure Go,
// byte-compatible with libostree: objects, refs, commits, summary, checkout and an io/fs view.
// It must not know about Debian, packages or composes; callers pass directories and metadata.
package ostree
