// Package lint checks a bootc image root (a directory, an OCI image or an OSTree commit, all seen as an io/fs.FS)
// with bootc's `container lint` checks, under bootc's names, severities and messages, plus Debian-specific ones.
// RunTarget opens what the command line names (images through package oci, which owns image bytes).
// It must not modify the tree it inspects, and it must not depend on the compose pipeline.
package lint
