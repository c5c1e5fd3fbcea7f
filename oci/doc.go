// Package oci reads (and will write, for compose image) OCI images: the
// layout directory or archive, the index, manifest and config, and the
// layer blobs, each verified against its digest (and each layer's
// uncompressed stream against its diff_id) while it is streamed. Image
// bytes live here and nowhere else; this package knows nothing of lints,
// treefiles or OSTree.
package oci
