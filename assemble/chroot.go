package assemble

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/apt-ostree/apt-ostree/internal/rootpath"
)

// chrootWorker owns an OS thread that has its own mount namespace with
// sys, dev, run and tmp mounted under the root. Commands are forked from
// that thread, so they see those mounts; the host never does. When the
// worker stops (or the process dies) the thread exits and the kernel drops
// the namespace and every mount in it: nothing can be left mounted.
//
// No proc is mounted there: a proc mounted from the host's PID namespace
// shows the host's processes, and /proc/1/root is the host's "/" (issue 10,
// defect 1). Each command instead starts as PID 1 of a new PID and mount
// namespace, running this program's sandboxInit, which mounts a proc of
// that namespace, chroots and executes the command (see initsandbox.go).
type chrootWorker struct {
	root string
	reqs chan func()
	done chan struct{}
}

func startChrootWorker(root string) (*chrootWorker, error) {
	w := &chrootWorker{root: root, reqs: make(chan func()), done: make(chan struct{})}
	ready := make(chan error, 1)
	go func() {
		defer close(w.done)
		// Never unlocked: when this goroutine returns, the runtime ends the
		// thread, and the namespace with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
			ready <- fmt.Errorf("unshare mount namespace: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			ready <- fmt.Errorf("make mounts private: %w", err)
			return
		}
		if err := mountChrootFS(root); err != nil {
			ready <- err
			return
		}
		ready <- nil
		for f := range w.reqs {
			f()
		}
	}()
	if err := <-ready; err != nil {
		return nil, err
	}
	return w, nil
}

func (w *chrootWorker) stop() error {
	close(w.reqs)
	<-w.done
	return nil
}

func mountChrootFS(root string) error {
	at := func(rel string) (string, error) { return rootpath.ResolveFollow(root, rel) }
	type m struct {
		rel, src, fstype string
		flags            uintptr
		data             string
	}
	const nsx = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	for _, mt := range []m{
		{"sys", "sysfs", "sysfs", nsx | unix.MS_RDONLY, ""},
		{"dev", "tmpfs", "tmpfs", unix.MS_NOSUID, "mode=0755"},
		{"run", "tmpfs", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
		{"tmp", "tmpfs", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
	} {
		p, err := at(mt.rel)
		if err != nil {
			return err
		}
		if err := unix.Mount(mt.src, p, mt.fstype, mt.flags, mt.data); err != nil {
			if mt.rel != "sys" {
				return fmt.Errorf("mount %s on %s: %w", mt.fstype, p, err)
			}
			// sysfs cannot be mounted in some containers; a read-only bind will do.
			if err := unix.Mount("/sys", p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
				return fmt.Errorf("bind /sys on %s: %w", p, err)
			}
			if err := unix.Mount("", p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				return fmt.Errorf("remount %s read-only: %w", p, err)
			}
		}
	}
	dev, err := at("dev")
	if err != nil {
		return err
	}
	return populateDev(dev)
}

// populateDev fills a fresh tmpfs /dev the way bwrap --dev does (spec §5
// pitfall 13: device nodes never come from packages).
func populateDev(dev string) error {
	nodes := []struct {
		name         string
		major, minor uint32
	}{{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}}
	for _, n := range nodes {
		p := filepath.Join(dev, n.name)
		err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(n.major, n.minor)))
		if err == nil {
			err = unix.Chmod(p, 0o666)
		}
		if err != nil {
			// No CAP_MKNOD: bind the host's node instead.
			f, cerr := os.Create(p)
			if cerr != nil {
				return cerr
			}
			f.Close()
			if err := unix.Mount("/dev/"+n.name, p, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("create /dev/%s: %w", n.name, err)
			}
		}
	}
	for _, d := range []struct {
		name string
		mode uint32
	}{{"pts", 0o755}, {"shm", 0o1777}} {
		if err := unix.Mkdir(filepath.Join(dev, d.name), d.mode); err != nil {
			return err
		}
		if err := unix.Chmod(filepath.Join(dev, d.name), d.mode); err != nil {
			return err
		}
	}
	for name, target := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx", "core": "/proc/kcore"} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return err
		}
	}
	if err := unix.Mount("devpts", filepath.Join(dev, "pts"), "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620"); err != nil {
		return fmt.Errorf("mount devpts: %w", err)
	}
	return nil
}

// run starts c from the worker thread, chrooted into the root and in new
// network, PID, IPC and UTS namespaces: when the command exits, PID 1 of
// its namespace is gone and any daemon it left is killed.
func (w *chrootWorker) run(ctx context.Context, c Cmd, env []string, dir string, out io.Writer) error {
	bin, err := lookPathIn(w.root, c.Args[0], env)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("sandbox chroot: find this program to start the sandbox's init: %w", err)
	}
	proc, err := rootpath.ResolveFollow(w.root, "proc")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Args = append([]string{"apt-ostree-sandbox-init", w.root, proc, dir, bin}, c.Args...)
	cmd.Env = append(env, initEnv+"=1")
	cmd.Stdin = c.Stdin
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWNET | unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS,
		Pdeathsig:  syscall.SIGKILL,
	}
	started := make(chan error, 1)
	select {
	case w.reqs <- func() { started <- cmd.Start() }:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := <-started; err != nil {
		return err
	}
	return cmd.Wait()
}

// lookPathIn finds name in the PATH of env as the root sees it and returns
// the path inside the root.
func lookPathIn(root, name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathVar := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range filepath.SplitList(pathVar) {
		inRoot := path.Join(dir, name)
		p, err := rootpath.ResolveFollow(root, inRoot)
		if err != nil {
			continue
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return inRoot, nil
		}
	}
	return "", fmt.Errorf("%s: %w in the root's PATH %s", name, errors.New("executable not found"), pathVar)
}
