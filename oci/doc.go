// Package oci reads and writes OCI images: the layout directory or
// archive, the index, manifest and config, and the layer blobs, each
// verified against its digest (and each layer's uncompressed stream
// against its diff_id) while it is streamed. Image bytes live here and
// nowhere else. It converts between images and OSTree commits
// (Encapsulate, Import: the ostree-ext format, ostree-format.md §6) but
// knows nothing of lints or treefiles.
package oci
