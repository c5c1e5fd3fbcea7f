// Package deb reads Debian binary packages, unpacks their data.tar into a root in parallel, and owns the dpkg database: Database finds, reads and writes it (as dpkg does) wherever a root or image keeps it; ParseParagraphs is the module's one deb822 reader.
// It confines every write to the target root (no path may escape it), decides file conflicts by Replaces, deterministically, also against an installed base, and never creates device nodes.
// It must not fetch or resolve packages (apt), run maintainer scripts (assemble), or know about OSTree beyond where a commit keeps the database.
package deb
