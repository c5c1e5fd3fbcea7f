// Package bootc turns a configured Debian root directory into the OSTree/bootc layout in place, as named steps that mirror rpm-ostree's composepost.
// It must not download or resolve packages, run maintainer scripts or write OSTree objects, and it never follows a symlink out of the root.
// Every step is idempotent, so a compose can be re-run on a half-processed root.
package bootc
