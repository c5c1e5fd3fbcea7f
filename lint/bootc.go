package lint

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// baseimageRef is where bootc's docs ship a reference base image root.
const baseimageRef = "usr/share/doc/bootc/baseimage/base"

// bootcLints are bootc's lints, in its registration order and with its texts.
var bootcLints = []lintDef{
	{Info{Name: "var-run", Type: Fatal, Bootc: true,
		Description: "Check for /var/run being a physical directory; this is always a bug."}, checkVarRun},
	{Info{Name: "buildah-injected", Type: Warning, Bootc: true, RootType: AlternativeRoot,
		Description: "Check for an invalid /etc/hostname or /etc/resolv.conf that may have been injected by\na container build system."}, checkBuildahInjected},
	{Info{Name: "etc-usretc", Type: Fatal, Bootc: true,
		Description: "Verify that only one of /etc or /usr/etc exist. You should only have /etc\nin a container image. It will cause undefined behavior to have both /etc\nand /usr/etc.\n"}, checkUsrEtc},
	{Info{Name: "bootc-kargs", Type: Fatal, Bootc: true,
		Description: "Verify syntax of /usr/lib/bootc/kargs.d."}, checkKargs},
	{Info{Name: "kernel", Type: Fatal, Bootc: true,
		Description: "Check for multiple kernels, i.e. multiple directories of the form /usr/lib/modules/$kver.\nOnly one kernel is supported in an image.\n"}, checkKernel},
	{Info{Name: "utf8", Type: Fatal, Bootc: true,
		Description: "Check for non-UTF8 filenames. Currently, the ostree backend of bootc only supports\nUTF-8 filenames. Non-UTF8 filenames will cause a fatal error.\n"}, checkUTF8},
	{Info{Name: "api-base-directories", Type: Fatal, Bootc: true,
		Description: "Verify that expected base API directories exist. For more information\non these, see <https://systemd.io/API_FILE_SYSTEMS/>.\n\nNote that in addition, bootc requires that `/var` exist as a directory.\n"}, checkAPIDirs},
	{Info{Name: "baseimage-composefs", Type: Warning, Bootc: true,
		Description: "Check that composefs is enabled for ostree. More in\n<https://ostreedev.github.io/ostree/composefs/>.\n"}, checkComposefs},
	{Info{Name: "baseimage-root", Type: Fatal, Bootc: true,
		Description: "Check that expected files are present in the root of the filesystem; such\nas /sysroot and a composefs configuration for ostree. More in\n<https://bootc.dev/bootc/bootc-images.html#standard-image-content>.\n"}, checkBaseimageRoot},
	{Info{Name: "var-log", Type: Warning, Bootc: true,
		Description: "Check for non-empty regular files in `/var/log`. It is often undesired\nto ship log files in container images. Log files in general are usually\nper-machine state in `/var`. Additionally, log files often include\ntimestamps, causing unreproducible container images, and may contain\nsensitive build system information.\n"}, checkVarLog},
	{Info{Name: "var-tmpfiles", Type: Warning, Bootc: true,
		Description: "Check for content in /var that does not have corresponding systemd tmpfiles.d entries.\nThis can cause a problem across upgrades because content in /var from the container\nimage will only be applied on the initial provisioning.\n\nInstead, it's recommended to have /var effectively empty in the container image,\nand use systemd tmpfiles.d to generate empty directories and compatibility symbolic links\nas part of each boot.\n"}, checkVarTmpfiles},
	{Info{Name: "sysusers", Type: Warning, Bootc: true,
		Description: "Check for users in /etc/passwd and groups in /etc/group that do not have corresponding\nsystemd sysusers.d entries in /usr/lib/sysusers.d.\nThis can cause a problem across upgrades because if /etc is not transient and is locally\nmodified (commonly due to local user additions), then the contents of /etc/passwd in the new container\nimage may not be visible.\n\nUsing systemd-sysusers to allocate users and groups will ensure that these are allocated\non system startup alongside other users.\n\nMore on this topic in <https://bootc.dev/bootc/building/users-and-groups.html>\n"}, checkSysusers},
	{Info{Name: "nonempty-boot", Type: Warning, Bootc: true,
		Description: "The `/boot` directory should be present, but empty. The kernel\ncontent should be in /usr/lib/modules instead in the container image.\nAny content here in the container image will be masked at runtime.\n"}, checkBoot},
	{Info{Name: "nonempty-run-tmp", Type: Warning, Bootc: true,
		Description: "The `/run` and `/tmp` directories should be empty in container images.\nThese directories are normally mounted as `tmpfs` at runtime\n(masking any content in the underlying image) and any content here is typically build-time\nartifacts that serve no purpose in the final image.\n"}, checkRuntimeOnlyDirs},
}

func isSymlink(fi fs.FileInfo) bool { return fi.Mode()&fs.ModeSymlink != 0 }

func checkVarRun(t *tree, _ *config) ([]string, error) {
	fi, ok, err := t.lstat("var/run")
	if err != nil || !ok {
		return nil, err
	}
	if !isSymlink(fi) {
		return fail("Not a symlink: var/run")
	}
	return nil, nil
}

func checkBuildahInjected(t *tree, _ *config) ([]string, error) {
	for _, name := range []string{"etc/hostname", "etc/resolv.conf"} {
		fi, ok, err := t.lstat(name)
		if err != nil {
			return nil, err
		}
		if ok && fi.Mode().IsRegular() && fi.Size() == 0 {
			return fail("/%s is an empty file; this may have been synthesized by a container runtime.", name)
		}
	}
	return nil, nil
}

func checkUsrEtc(t *tree, _ *config) ([]string, error) {
	_, etc, err := t.lstat("etc")
	if err != nil || !etc {
		return nil, err
	}
	_, usrEtc, err := t.lstat("usr/etc")
	if err != nil {
		return nil, err
	}
	if usrEtc {
		return fail("Found /usr/etc - this is a bootc implementation detail and not supported to use in containers")
	}
	return nil, nil
}

const kargsDir = "usr/lib/bootc/kargs.d"

// checkKargs parses every kargs.d/*.toml. bootc aborts the run on the first
// bad file; we report it (and any further bad files) as a lint failure.
func checkKargs(t *tree, _ *config) ([]string, error) {
	fi, ok, err := t.stat(kargsDir)
	if err != nil || !ok {
		return nil, err
	}
	if !fi.IsDir() {
		return fail("Reading %s: not a directory", kargsDir)
	}
	ents, err := t.readDir(kargsDir)
	if err != nil {
		return nil, err
	}
	var msg []string
	for _, e := range ents {
		if path.Ext(e.Name()) != ".toml" || e.Name() == ".toml" {
			continue
		}
		p := kargsDir + "/" + e.Name()
		data, _, err := t.readFile(p)
		if err != nil {
			return nil, err
		}
		if _, err := parseKargs(data); err != nil {
			msg = append(msg, fmt.Sprintf("Parsing %s: %s", p, oneLine(err.Error())))
		}
	}
	return msg, nil
}

// oneLine folds a multi-line parser error into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// kernelDirs returns the names of the usr/lib/modules children that are real
// directories (not symlinks) with a UTF-8 name, split by whether they hold a
// vmlinuz (following symlinks).
func kernelDirs(t *tree) (withVmlinuz, without []string, err error) {
	ok, err := t.isDir("usr/lib/modules")
	if err != nil || !ok {
		return nil, nil, err
	}
	ents, err := t.readDir("usr/lib/modules")
	if err != nil {
		return nil, nil, err
	}
	for _, e := range ents {
		if !e.IsDir() || !utf8.ValidString(e.Name()) {
			continue
		}
		_, has, err := t.stat("usr/lib/modules/" + e.Name() + "/vmlinuz")
		if err != nil {
			return nil, nil, err
		}
		if has {
			withVmlinuz = append(withVmlinuz, e.Name())
		} else {
			without = append(without, e.Name())
		}
	}
	return withVmlinuz, without, nil
}

func checkKernel(t *tree, _ *config) ([]string, error) {
	kernels, _, err := kernelDirs(t)
	if err != nil {
		return nil, err
	}
	if len(kernels) > 1 {
		return fail("Found multiple subdirectories in usr/lib/modules: %s", strings.Join(kernels, ", "))
	}
	return nil, nil
}

// checkUTF8 walks the whole tree and stops at the first non-UTF-8 file name
// or symlink target.
func checkUTF8(t *tree, _ *config) ([]string, error) {
	var msg []string
	errFound := fmt.Errorf("found")
	err := t.walk(".", func(p string, d fs.DirEntry) error {
		if !utf8.ValidString(d.Name()) {
			dir := "/" + path.Dir(p)
			if dir == "/." {
				dir = "/"
			}
			msg = []string{fmt.Sprintf("%s: Found non-utf8 filename %s", quotePath(dir), debugName(d.Name()))}
			return errFound
		}
		if d.Type()&fs.ModeSymlink != 0 {
			target, err := t.readLink(p)
			if err != nil {
				return err
			}
			if !utf8.ValidString(target) {
				msg = []string{fmt.Sprintf("%s: Found non-utf8 symlink target", quotePath("/"+p))}
				return errFound
			}
		}
		return nil
	})
	if err != nil && err != errFound {
		return nil, err
	}
	return msg, nil
}

func checkAPIDirs(t *tree, _ *config) ([]string, error) {
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "var"} {
		fi, ok, err := t.lstat(d)
		if err != nil {
			return nil, err
		}
		if !ok {
			return fail("Missing API filesystem base directory: /%s", d)
		}
		if !fi.IsDir() {
			return fail("Expected directory for API filesystem base directory: /%s", d)
		}
	}
	return nil, nil
}

// composefsProblem checks ostree/prepare-root.conf below root ("" or baseimageRef).
func composefsProblem(t *tree, root string) ([]string, error) {
	const conf = "ostree/prepare-root.conf"
	for _, dir := range []string{"etc", "usr/lib"} {
		p := path.Join(root, dir, conf)
		data, ok, err := t.readFile(p)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		kf, err := parseKeyFile(data)
		if err != nil {
			return fail("Parsing %s: %v", p, err)
		}
		transient, err := kf.boolean("root", "transient")
		if err != nil {
			return fail("Parsing %s: %v", p, err)
		}
		enabled, _, err := kf.str("composefs", "enabled")
		if err != nil {
			return fail("Parsing %s: %v", p, err)
		}
		switch {
		case transient:
		case slices.Contains([]string{"yes", "true", "1", "maybe", "signed", "verity"}, enabled):
		default:
			return fail("%s does not have composefs enabled", conf)
		}
		return nil, nil
	}
	return fail("%s is not present to enable composefs", conf)
}

func checkComposefs(t *tree, _ *config) ([]string, error) {
	if msg, err := composefsProblem(t, ""); msg != nil || err != nil {
		return msg, err
	}
	return inBaseimageRef(t, func() ([]string, error) { return composefsProblem(t, baseimageRef) })
}

// inBaseimageRef repeats a check inside bootc's docs copy of the base image.
// Images built without docs keep the empty directory tree (bootc#1351), so
// like bootc after its fix, only a directory with content is checked.
func inBaseimageRef(t *tree, check func() ([]string, error)) ([]string, error) {
	ok, err := t.isDir(baseimageRef)
	if err != nil || !ok {
		return nil, err
	}
	files := false
	err = t.walk(baseimageRef, func(p string, d fs.DirEntry) error {
		if !d.IsDir() {
			files = true
		}
		return nil
	})
	if err != nil || !files {
		return nil, err
	}
	return check()
}

func baseimageRootProblem(t *tree, root string) ([]string, error) {
	fi, ok, err := t.lstat(path.Join(root, "sysroot"))
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return fail("Missing /sysroot")
	case !fi.IsDir():
		return fail("Expected a directory for /sysroot")
	}
	link := path.Join(root, "ostree")
	fi, ok, err = t.lstat(link)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return fail("Missing ostree -> sysroot/ostree link")
	case !isSymlink(fi):
		return fail("/ostree should be a symlink")
	}
	target, err := t.readLink(link)
	if err != nil {
		return nil, err
	}
	if target != "sysroot/ostree" {
		return fail("Expected /ostree -> sysroot/ostree, not %s", debugName(target))
	}
	return nil, nil
}

func checkBaseimageRoot(t *tree, _ *config) ([]string, error) {
	if msg, err := baseimageRootProblem(t, ""); msg != nil || err != nil {
		return msg, err
	}
	return inBaseimageRef(t, func() ([]string, error) { return baseimageRootProblem(t, baseimageRef) })
}

func checkVarLog(t *tree, cfg *config) ([]string, error) {
	ok, err := t.isDir("var/log")
	if err != nil || !ok {
		return nil, err
	}
	var found []string
	err = t.walk("var/log", func(p string, d fs.DirEntry) error {
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("stat /%s: %w", p, err)
		}
		if fi.Size() > 0 {
			found = append(found, "/"+p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(found)
	return cfg.items("Found non-empty logfiles", quoteAll(found)), nil
}

func quoteAll(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = quotePath(p)
	}
	return out
}

func checkBoot(t *tree, cfg *config) ([]string, error) {
	fi, ok, err := t.stat("boot")
	if err != nil {
		return nil, err
	}
	if !ok {
		return fail("Missing /boot directory")
	}
	if !fi.IsDir() {
		return fail("Expected a directory for /boot")
	}
	ents, err := t.readDir("boot")
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range ents {
		// Sealed UKIs live in /boot/EFI/Linux.
		if e.Name() != "EFI" {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return cfg.items("Found non-empty /boot", quoteAll(names)), nil
}

// containerRuntimeFiles are injected by podman/buildah and ignored (bootc#2050).
var containerRuntimeFiles = []string{"/run/systemd/resolve/stub-resolv.conf"}

func checkRuntimeOnlyDirs(t *tree, cfg *config) ([]string, error) {
	found := map[string]bool{}
	for _, dir := range []string{"run", "tmp"} {
		ok, err := t.isDir(dir)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if mp, err := t.isMount(dir); err != nil || mp {
			if err != nil {
				return nil, err
			}
			continue
		}
		err = t.walk(dir, func(p string, d fs.DirEntry) error {
			mp, err := t.isMount(p)
			if err != nil || mp {
				return err
			}
			found["/"+p] = true
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	pruneKnownRunPaths(found)
	var paths []string
	for p := range found {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	return cfg.items("Found content in runtime-only directories (/run, /tmp)", quoteAll(paths)), nil
}

// pruneKnownRunPaths drops runtime-injected files and then each parent below
// /run that has nothing else collected under it.
func pruneKnownRunPaths(found map[string]bool) {
next:
	for _, known := range containerRuntimeFiles {
		delete(found, known)
		for d := path.Dir(known); d != "/run" && strings.HasPrefix(d, "/run/"); d = path.Dir(d) {
			for p := range found {
				if strings.HasPrefix(p, d+"/") {
					continue next
				}
			}
			delete(found, d)
		}
	}
}
