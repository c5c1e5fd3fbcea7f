package assemble

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/apt-ostree/apt-ostree/internal/rootpath"
)

// SandboxMode chooses how commands are confined to the root.
type SandboxMode int

const (
	// SandboxAuto uses bubblewrap when it works on this host, else chroot.
	SandboxAuto SandboxMode = iota
	// SandboxBwrap requires bubblewrap.
	SandboxBwrap
	// SandboxChroot uses chroot(2) in private mount, PID and network
	// namespaces, with a proc of the command's own PID namespace.
	SandboxChroot
	// SandboxDirect runs commands on this system itself, unconfined: only
	// for the root "/", as inside a container build's RUN step, where no
	// namespace can be made and the container is the confinement.
	SandboxDirect
)

func (m SandboxMode) String() string {
	switch m {
	case SandboxBwrap:
		return "bwrap"
	case SandboxChroot:
		return "chroot"
	case SandboxDirect:
		return "direct"
	default:
		return "auto"
	}
}

// ParseSandboxMode reads a --sandbox value: auto (or ""), bwrap, chroot or direct.
func ParseSandboxMode(s string) (SandboxMode, error) {
	for _, m := range []SandboxMode{SandboxAuto, SandboxBwrap, SandboxChroot, SandboxDirect} {
		if s == m.String() {
			return m, nil
		}
	}
	if s == "" {
		return SandboxAuto, nil
	}
	return SandboxAuto, fmt.Errorf("sandbox %q: use auto, bwrap, chroot or direct", s)
}

// Set and Type make *SandboxMode a command-line flag value (pflag.Value).
func (m *SandboxMode) Set(s string) error {
	v, err := ParseSandboxMode(s)
	if err == nil {
		*m = v
	}
	return err
}

// Type is the flag's value name in help output.
func (m *SandboxMode) Type() string { return "bwrap|chroot|direct|auto" }

// chooseSandbox resolves SandboxAuto for root (an absolute path): "/" is
// direct (there is nothing to confine to: a container build step), else
// bwrap when it works here, else chroot, announced once with the reason.
func chooseSandbox(ctx context.Context, root string, want SandboxMode, log *slog.Logger) (SandboxMode, error) {
	switch want {
	case SandboxAuto:
		if root == "/" {
			return SandboxDirect, nil
		}
		if err := probeBwrap(ctx); err != nil {
			chrootWarning.Do(func() {
				log.Warn("sandbox: bubblewrap is not usable, maintainer scripts run with the chroot sandbox instead (use --sandbox to choose)", "reason", err)
			})
			return SandboxChroot, nil
		}
		return SandboxBwrap, nil
	case SandboxBwrap:
		if err := probeBwrap(ctx); err != nil {
			return 0, fmt.Errorf("sandbox bwrap: %w; install bubblewrap or choose --sandbox chroot", err)
		}
	case SandboxDirect:
		if root != "/" {
			return 0, fmt.Errorf("sandbox direct runs commands on this system itself, so the root must be /, not %s; use bwrap or chroot", root)
		}
	case SandboxChroot:
	default:
		return 0, fmt.Errorf("sandbox: unknown mode %d", want)
	}
	return want, nil
}

var (
	chrootWarning sync.Once
	probeBwrap    = bwrapCheck // replaced by tests
)

// baseEnv is the whole environment of every sandboxed command: nothing of
// the host's (TMPDIR, APT_CONFIG, locale) leaks in.
var baseEnv = []string{
	"DEBIAN_FRONTEND=noninteractive",
	"DEBCONF_NONINTERACTIVE_SEEN=true",
	"LC_ALL=C.UTF-8",
	"LANG=C.UTF-8",
	"LANGUAGE=C.UTF-8",
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root",
	// systemctl then edits unit symlinks instead of asking a manager,
	// even where it cannot tell it is in a chroot (bwrap's PID namespace).
	"SYSTEMD_OFFLINE=1",
}

// Helpers placed in the root for the sandbox's lifetime (spec §4).
const (
	policyRcD       = "usr/sbin/policy-rc.d"
	policyRcDBody   = "#!/bin/sh\n# apt-ostree: no service starts while the image is built\nexit 101\n"
	ssdPath         = "usr/sbin/start-stop-daemon"
	ssdBody         = "#!/bin/sh\necho \"apt-ostree: start-stop-daemon $* ignored while the image is built\" >&2\nexit 0\n"
	dpkgCfg         = "etc/dpkg/dpkg.cfg.d/zz-apt-ostree-sandbox"
	dpkgCfgBody     = "# apt-ostree: only while the image is built\nforce-unsafe-io\nforce-confdef\nforce-confold\n"
	savedSuffix     = ".apt-ostree-saved"
	tailLines       = 20
	postprocessName = "usr/bin/apt-ostree-postprocess"
)

// Sandbox runs commands with a root as "/": no network, fresh /proc, /dev,
// /run and /tmp, read-only /sys, and policy-rc.d, a start-stop-daemon stub
// and a dpkg.cfg.d fragment in place until Close.
type Sandbox struct {
	root   string
	mode   SandboxMode
	output io.Writer
	undo   []func() error
	worker *chrootWorker
	mu     sync.Mutex
	closed bool
}

// OpenSandbox prepares root for running commands. Close undoes every change
// it made to root, also after a failed command; a crashed earlier run's
// helpers are cleaned up here first.
func OpenSandbox(ctx context.Context, root string, opts Options) (_ *Sandbox, err error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(abs); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("sandbox root %s: not a directory (unpack the packages first)", abs)
	}
	mode, err := chooseSandbox(ctx, abs, opts.Sandbox, opts.logger())
	if err != nil {
		return nil, err
	}
	s := &Sandbox{root: abs, mode: mode, output: opts.Output}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	for _, d := range []struct {
		path string
		mode fs.FileMode
	}{{"proc", 0o755}, {"sys", 0o755}, {"dev", 0o755}, {"run", 0o755}, {"tmp", 0o1777}} {
		if err := s.mkdirTemp(d.path, d.mode); err != nil {
			return nil, err
		}
	}
	if err := s.shadow(policyRcD, policyRcDBody, 0o755, false); err != nil {
		return nil, err
	}
	if err := s.shadow(ssdPath, ssdBody, 0o755, true); err != nil {
		return nil, err
	}
	if err := s.shadow(dpkgCfg, dpkgCfgBody, 0o644, false); err != nil {
		return nil, err
	}
	if mode == SandboxChroot {
		w, err := startChrootWorker(abs)
		if err != nil {
			return nil, fmt.Errorf("sandbox %s: %w", abs, err)
		}
		s.worker = w
		s.undo = append(s.undo, w.stop)
	}
	return s, nil
}

// Root is the absolute path of the sandbox's root on the host.
func (s *Sandbox) Root() string { return s.root }

// Mode is the confinement in use (never SandboxAuto).
func (s *Sandbox) Mode() SandboxMode { return s.mode }

// Close removes the helpers, restores what they replaced, and releases the
// mounts. It is safe to call more than once.
func (s *Sandbox) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for i := len(s.undo) - 1; i >= 0; i-- {
		if err := s.undo[i](); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sandbox %s: cleanup: %w", s.root, err)
	}
	return nil
}

// mkdirTemp creates a mount point that the root lacks, and removes it on
// Close if it is still empty.
func (s *Sandbox) mkdirTemp(rel string, mode fs.FileMode) error {
	p, err := rootpath.Resolve(s.root, rel)
	if err != nil {
		return err
	}
	if _, err := os.Lstat(p); err == nil {
		return nil
	}
	if err := os.Mkdir(p, mode); err != nil {
		return fmt.Errorf("sandbox: create %s: %w", p, err)
	}
	if err := os.Chmod(p, mode); err != nil {
		return err
	}
	s.undo = append(s.undo, func() error {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) && !isNotEmpty(err) {
			return err
		}
		return nil
	})
	return nil
}

func isNotEmpty(err error) bool {
	return errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST)
}

// shadow puts body at rel (moving an existing file aside) and registers the
// restore. With onlyIfExists, nothing happens when rel is absent.
func (s *Sandbox) shadow(rel, body string, mode fs.FileMode, onlyIfExists bool) error {
	p, err := rootpath.Resolve(s.root, rel)
	if err != nil {
		return err
	}
	saved := p + savedSuffix
	// Leftovers of a run that was killed before Close.
	if _, err := os.Lstat(saved); err == nil {
		if err := os.Rename(saved, p); err != nil {
			return fmt.Errorf("sandbox: restore %s left by an interrupted run: %w", saved, err)
		}
	} else if b, err := os.ReadFile(p); err == nil && string(b) == body {
		if err := os.Remove(p); err != nil {
			return err
		}
	}
	_, statErr := os.Lstat(p)
	exists := statErr == nil
	if !exists && onlyIfExists {
		return nil
	}
	if exists {
		if err := os.Rename(p, saved); err != nil {
			return fmt.Errorf("sandbox: move %s aside: %w", p, err)
		}
	}
	created, err := mkdirAllRecord(filepath.Dir(p), 0o755)
	if err == nil {
		err = os.WriteFile(p, []byte(body), mode)
	}
	if err == nil {
		err = os.Chmod(p, mode)
	}
	s.undo = append(s.undo, func() error {
		var errs []error
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		if exists {
			if err := os.Rename(saved, p); err != nil {
				errs = append(errs, err)
			}
		}
		for i := len(created) - 1; i >= 0; i-- {
			os.Remove(created[i]) // only succeeds if still empty, which is what we want
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return fmt.Errorf("sandbox: write %s: %w", p, err)
	}
	return nil
}

// mkdirAllRecord is os.MkdirAll that reports the directories it created,
// outermost first.
func mkdirAllRecord(dir string, mode fs.FileMode) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if d == filepath.Dir(d) {
			break
		}
	}
	var created []string
	for i := len(missing) - 1; i >= 0; i-- {
		if err := os.Mkdir(missing[i], mode); err != nil {
			return created, err
		}
		created = append(created, missing[i])
	}
	return created, nil
}

// Cmd is one command to run in the sandbox.
type Cmd struct {
	Args  []string // Args[0] is looked up in the sandbox's PATH
	Env   []string // KEY=VALUE added to (or overriding) the base environment
	Stdin io.Reader
	Dir   string // working directory inside the root; default "/"
}

// CommandError is a sandboxed command that failed. Output holds its
// combined stdout and stderr.
type CommandError struct {
	Root   string
	Args   []string
	Err    error
	Output []byte
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%s (in %s): %v%s", strings.Join(e.Args, " "), e.Root, e.Err, formatTail(lastLines(e.Output, tailLines)))
}

func (e *CommandError) Unwrap() error { return e.Err }

// Run runs c inside the root and returns its combined output. A non-zero
// exit is a *CommandError carrying the output.
func (s *Sandbox) Run(ctx context.Context, c Cmd) ([]byte, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, errors.New("sandbox: Run after Close")
	}
	if len(c.Args) == 0 {
		return nil, errors.New("sandbox: empty command")
	}
	env := mergeEnv(baseEnv, c.Env)
	dir := c.Dir
	if dir == "" {
		dir = "/"
	}
	var out bytes.Buffer
	var w io.Writer = &out
	if s.output != nil {
		w = io.MultiWriter(&out, s.output)
	}
	var err error
	switch s.mode {
	case SandboxBwrap:
		err = s.runBwrap(ctx, c, env, dir, w)
	case SandboxDirect:
		err = runDirect(ctx, c, env, dir, w)
	default:
		err = s.worker.run(ctx, c, env, dir, w)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return out.Bytes(), &CommandError{Root: s.root, Args: c.Args, Err: err, Output: out.Bytes()}
	}
	return out.Bytes(), nil
}

func (s *Sandbox) runBwrap(ctx context.Context, c Cmd, env []string, dir string, w io.Writer) error {
	args := []string{
		"--bind", s.root, "/",
		"--proc", "/proc",
		"--dev", "/dev",
		"--ro-bind", "/sys", "/sys",
		"--tmpfs", "/run",
		"--perms", "1777", "--tmpfs", "/tmp",
		"--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
		"--die-with-parent",
		"--chdir", dir,
	}
	var extra []*os.File
	if s.root != "/" && noSyncWorks(ctx) {
		f, err := noSyncFile()
		if err != nil {
			return fmt.Errorf("sandbox: seccomp filter: %w", err)
		}
		if f != nil {
			defer f.Close()
			extra = append(extra, f)
			args = append(args, "--seccomp", "3") // ExtraFiles[0]
		}
	}
	args = append(args, "--")
	cmd := exec.CommandContext(ctx, "bwrap", append(args, c.Args...)...)
	cmd.ExtraFiles = extra
	cmd.Env = env
	cmd.Stdin = c.Stdin
	cmd.Stdout, cmd.Stderr = w, w
	return cmd.Run()
}

// runDirect runs c on this system, the root being "/".
func runDirect(ctx context.Context, c Cmd, env []string, dir string, w io.Writer) error {
	bin, err := lookPathIn("/", c.Args[0], env)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin)
	cmd.Args = c.Args
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdin = c.Stdin
	cmd.Stdout, cmd.Stderr = w, w
	return cmd.Run()
}

var bwrapProbe struct {
	once sync.Once
	err  error
}

// bwrapCheck checks once per process that bwrap can set up the namespaces
// Run uses (it cannot in some unprivileged containers), and says why not.
func bwrapCheck(ctx context.Context) error {
	bwrapProbe.once.Do(func() {
		path, err := exec.LookPath("bwrap")
		if err != nil {
			bwrapProbe.err = errors.New("bwrap is not installed")
			return
		}
		truePath, err := exec.LookPath("true")
		if err != nil {
			bwrapProbe.err = err
			return
		}
		cmd := exec.CommandContext(ctx, path, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev",
			"--tmpfs", "/run", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--", truePath)
		if out, err := cmd.CombinedOutput(); err != nil {
			bwrapProbe.err = fmt.Errorf("%s cannot create its namespaces here: %v: %s", path, err, strings.TrimSpace(string(out)))
		}
	})
	return bwrapProbe.err
}

// bwrapWorks reports whether bwrapCheck passes.
func bwrapWorks(ctx context.Context) bool { return bwrapCheck(ctx) == nil }

// mergeEnv returns base with extra's KEY=VALUE entries added or replacing.
func mergeEnv(base, extra []string) []string {
	out := append([]string(nil), base...)
	for _, kv := range extra {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, b := range out {
			if bk, _, _ := strings.Cut(b, "="); bk == k {
				out[i], replaced = kv, true
				break
			}
		}
		if !replaced {
			out = append(out, kv)
		}
	}
	return out
}

// lastLines returns up to n final non-empty-trailing lines of b.
func lastLines(b []byte, n int) []string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}

func formatTail(lines []string) string {
	if len(lines) == 0 {
		return " (no output)"
	}
	return "; last output:\n    " + strings.Join(lines, "\n    ")
}
