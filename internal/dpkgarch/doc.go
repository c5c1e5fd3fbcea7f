// Package dpkgarch names Go architectures (GOARCH) the way dpkg does (arm -> armhf, 386 -> i386, ppc64le -> ppc64el).
// It is the one place that mapping lives; it must not validate treefile keys or filter package indexes itself.
// It has no state and does no I/O.
package dpkgarch
