// Package treefile parses, merges (include), substitutes (${var}) and validates apt-ostree treefiles, YAML or JSON, rpm-ostree compatible where a key exists.
// Every error names file:line and the key; all referenced local files are checked before anything is downloaded.
// It must not download, resolve packages or touch a root filesystem: it only reads the treefile and the files it names.
package treefile
