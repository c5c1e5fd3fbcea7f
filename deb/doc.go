// Package deb reads Debian binary packages, unpacks their data.tar into a root in parallel, and writes the dpkg database as dpkg would after unpacking.
// It confines every write to the target root (no path may escape it) and decides file conflicts by Replaces, deterministically.
// It must not fetch or resolve packages (apt), run maintainer scripts (assemble), or know about OSTree.
package deb
