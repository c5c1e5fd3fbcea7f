package ostree

import "testing"

// Test helpers shared with the external test package (composed_test.go).

func NeedOstree(t testing.TB) string { return needOstree(t) }

func Run(t testing.TB, name string, args ...string) string { return run(t, name, args...) }

// CompareTreesFully fails t unless the two directories hold the same
// paths with the same content, permission bits (setuid included),
// owners, symlink targets and xattrs.
func CompareTreesFully(t testing.TB, want, got string) {
	compareTrees(t, want, got, compareOpts{owners: true, xattrs: true, special: true})
}
