// Package apt talks to Debian apt repositories: it fetches and verifies
// InRelease and Packages indexes, parses them into Package records and
// downloads .debs into a checksummed cache. It must not unpack packages or
// decide which packages to install (that is apt/resolve).
package apt
