package treefile

import "github.com/apt-ostree/apt-ostree/internal/dpkgarch"

// dpkgArches are the architectures accepted in packages-<arch> and
// arch-include keys; anything else is most likely a typo (x86_64, aarch64).
var dpkgArches = map[string]bool{
	"amd64": true, "arm64": true, "armhf": true, "armel": true, "i386": true, "ppc64el": true,
	"s390x": true, "riscv64": true, "loong64": true, "mips64el": true, "mipsel": true,
	"alpha": true, "hppa": true, "m68k": true, "powerpc": true, "ppc64": true, "sh4": true, "sparc64": true,
	"hurd-amd64": true, "hurd-i386": true, "x32": true,
}

// rpmArchHint suggests the dpkg name for an RPM/kernel architecture name.
var rpmArchHint = map[string]string{
	"x86_64": "amd64", "aarch64": "arm64", "ppc64le": "ppc64el", "i686": "i386", "i586": "i386",
	"armv7hl": "armhf", "armhfp": "armhf", "noarch": "all",
}

// HostArch returns the dpkg architecture of the running binary (amd64,
// arm64, armhf, i386, ppc64el, s390x, riscv64, ...), or "" if Debian has no
// port for it.
func HostArch() string {
	a, _ := dpkgarch.Host()
	return a
}
