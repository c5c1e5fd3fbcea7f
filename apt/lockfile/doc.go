// Package lockfile reads and writes apt-ostree lockfiles: the exact package
// versions and SHA256s of a resolution, as rpm-ostree-shaped JSON that diffs
// well. It must not resolve or download anything.
package lockfile
