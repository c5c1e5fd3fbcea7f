// Package assemble turns a root that package deb has unpacked into a configured Debian system (preinsts, dpkg --configure, one initramfs) and applies the treefile steps, all inside a network-less sandbox.
// It runs the root's own tools (dpkg, systemctl, dracut or update-initramfs), never the host's, and leaves no helper, mount or start-stop-daemon stub behind.
// It must not import treefile, compose, ostree or bootc: callers translate their configuration into Options and Steps.
package assemble
