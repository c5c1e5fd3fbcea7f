package assemble

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// initEnv marks a process started by the chroot sandbox to become its init
// (see chrootWorker.run); it is removed before the command runs.
const initEnv = "_APT_OSTREE_SANDBOX_INIT"

// Every program that links this package can be the chroot sandbox's init:
// the worker starts os.Executable() with initEnv set, in new PID, mount,
// network, IPC and UTS namespaces. This runs before main.
func init() {
	if os.Getenv(initEnv) == "" {
		return
	}
	os.Exit(sandboxInit(os.Args[1:]))
}

// sandboxInit runs as PID 1 of the command's own PID namespace, in its own
// mount namespace. args: root, the host path of root/proc, the working
// directory inside the root, the executable inside the root, then argv.
// It mounts a proc of this PID namespace (so only the sandbox's processes
// are visible and every /proc/N/root is the root), chroots into the root
// and executes the command, which stays PID 1: when it exits, the kernel
// kills anything it left behind. It returns only on failure.
func sandboxInit(args []string) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(os.Stderr, "apt-ostree sandbox: "+format+"\n", a...)
		return 127
	}
	if len(args) < 5 {
		return fail("init: bad arguments %q", args)
	}
	root, proc, dir, bin, argv := args[0], args[1], args[2], args[3], args[4:]
	if os.Getpid() != 1 {
		return fail("init is PID %d, not 1 of a new PID namespace; refusing to mount proc", os.Getpid())
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fail("make mounts private: %v", err)
	}
	if err := unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fail("mount proc on %s: %v", proc, err)
	}
	if err := unix.Chroot(root); err != nil {
		return fail("chroot %s: %v", root, err)
	}
	if err := unix.Chdir(dir); err != nil {
		return fail("chdir %s in %s: %v", dir, root, err)
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, initEnv+"=") {
			env = append(env, kv)
		}
	}
	err := unix.Exec(bin, argv, env)
	return fail("exec %s in %s: %v", bin, root, err)
}
