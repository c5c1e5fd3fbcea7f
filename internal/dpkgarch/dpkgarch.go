package dpkgarch

import "runtime"

// fromGo maps GOARCH to dpkg architecture names for the Linux ports Debian
// builds.
var fromGo = map[string]string{
	"amd64":    "amd64",
	"arm64":    "arm64",
	"arm":      "armhf",
	"386":      "i386",
	"ppc64le":  "ppc64el",
	"s390x":    "s390x",
	"riscv64":  "riscv64",
	"loong64":  "loong64",
	"mips64le": "mips64el",
}

// FromGo returns the dpkg architecture for a GOARCH value, and false if
// Debian has no port for it.
func FromGo(goarch string) (string, bool) {
	a, ok := fromGo[goarch]
	return a, ok
}

// Host returns the dpkg architecture of the running binary, and false if
// Debian has no port for it.
func Host() (string, bool) { return FromGo(runtime.GOARCH) }
