// Package workdir makes work directories that record their owning process
// (a flock'ed owner file inside, with the pid), so that a later run can
// remove the ones a killed run left behind. It does not decide where work
// directories go or what is built in them.
package workdir
