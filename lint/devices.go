package lint

import (
	"io/fs"
)

// devicesLint flags block and character devices outside /dev. OSTree
// cannot store device nodes, so such an image fails to install with bootc;
// and a device shipped in a package (a world-writable copy of /dev/mem in
// /usr, say) is a hole on the build host and on every system.
var devicesLint = lintDef{Info{Name: "nonstandard-devices", Type: Fatal,
	Description: "Check for block and character device nodes outside /dev. OSTree cannot store\ndevice nodes, so the image cannot be installed with bootc; devices belong in /dev,\nwhich is a devtmpfs at runtime, or should be created at boot (tmpfiles.d).\n"}, checkDevices}

func checkDevices(t *tree, cfg *config) ([]string, error) {
	var found []string
	visit := func(p string, d fs.DirEntry) error {
		if d.Type()&fs.ModeDevice != 0 {
			kind := "block device"
			if d.Type()&fs.ModeCharDevice != 0 {
				kind = "character device"
			}
			found = append(found, quotePath("/"+p)+" ("+kind+")")
		}
		return nil
	}
	top, err := t.readDir(".")
	if err != nil {
		return nil, err
	}
	for _, e := range top {
		if e.Name() == "dev" {
			continue
		}
		if err := visit(e.Name(), e); err != nil {
			return nil, err
		}
		if !e.IsDir() {
			continue
		}
		if mp, err := t.isMount(e.Name()); err != nil || mp {
			if err != nil {
				return nil, err
			}
			continue
		}
		if err := t.walk(e.Name(), visit); err != nil {
			return nil, err
		}
	}
	return cfg.items("Found device nodes outside /dev", found), nil
}
