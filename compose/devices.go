package compose

import (
	"fmt"

	"github.com/apt-ostree/apt-ostree/deb"
)

// packagedDevices honours ignore-devices for the device nodes packages
// ship, which deb.Unpack records (with a warning) but never creates: with
// ignore-devices true (the default) they stay out of the tree, as
// rpm-ostree's importer drops them; with false the first one is an error.
// Nodes that maintainer scripts create are bootc's (Options.FailOnDevices).
func packagedDevices(unpacked []*deb.Unpacked, ignore *bool) error {
	if ignore == nil || *ignore {
		return nil
	}
	for _, u := range unpacked {
		for _, d := range u.Devices {
			return fmt.Errorf("package %s ships the device node %s (%s): ostree cannot store devices; set ignore-devices: true to leave it out", u.Package.Name(), d.Path, d.TmpfilesLine())
		}
	}
	return nil
}
