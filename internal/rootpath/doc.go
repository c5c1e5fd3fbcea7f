// Package rootpath resolves a path inside a root directory the way a process chrooted into it would, so callers can act on a tree without symlinks taking them outside it.
// It must not create, change or remove anything, and never looks at a file outside the root.
// It does not cache: a tree that changes between calls is seen as it is at each call.
package rootpath
