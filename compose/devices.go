package compose

import (
	"fmt"
	"log/slog"

	"github.com/apt-ostree/apt-ostree/deb"
)

// packagedDevices honours ignore-devices for the device nodes packages
// ship, which deb.Unpack records but never creates: with ignore-devices
// true (the default) they are left out with a warning, as rpm-ostree's
// importer drops them; with false the first one is an error. Nodes that
// maintainer scripts create are bootc's (Options.FailOnDevices).
func packagedDevices(unpacked []*deb.Unpacked, ignore *bool, log *slog.Logger) error {
	for _, u := range unpacked {
		for _, d := range u.Devices {
			if ignore != nil && !*ignore {
				return fmt.Errorf("package %s ships the device node %s (%s): ostree cannot store devices; set ignore-devices: true to leave it out", u.Package.Name(), d.Path, d.TmpfilesLine())
			}
			log.Warn("leaving out a device node a package ships: ostree cannot store devices (ignore-devices)", "package", u.Package.Name(), "path", d.Path, "node", d.TmpfilesLine())
		}
	}
	return nil
}
