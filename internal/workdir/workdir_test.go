package workdir

import (
	"bufio"
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

const helperEnv = "APT_OSTREE_WORKDIR_HELPER"

// TestHelperOwner is the child process of the tests below: it creates a
// work directory in $APT_OSTREE_WORKDIR_HELPER, prints its path and waits
// to be killed.
func TestHelperOwner(t *testing.T) {
	parent := os.Getenv(helperEnv)
	if parent == "" {
		t.Skip("helper process")
	}
	d, err := Create(parent, "rootfs-*")
	if err != nil {
		t.Fatal(err)
	}
	// Something of a root inside, as a compose leaves it.
	os.MkdirAll(filepath.Join(d.Path(), "root/usr/bin"), 0o755)
	os.WriteFile(filepath.Join(d.Path(), "root/usr/bin/sh"), []byte("x"), 0o755)
	os.Stdout.WriteString(d.Path() + "\n")
	select {}
}

// startOwner runs TestHelperOwner and returns it with its work directory.
func startOwner(t *testing.T, parent string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOwner$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+parent)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	return cmd, strings.TrimSpace(line)
}

func logTo(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, nil))
}

func exists(t *testing.T, p string) bool {
	t.Helper()
	_, err := os.Lstat(p)
	return err == nil
}

func TestCreateRemove(t *testing.T) {
	parent := t.TempDir()
	d, err := Create(parent, "rootfs-*")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(d.Path()), "rootfs-") {
		t.Errorf("name %s", d.Path())
	}
	data, err := os.ReadFile(filepath.Join(d.Path(), OwnerFile))
	if err != nil || strings.TrimSpace(string(data)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("owner file: %q, %v", data, err)
	}
	// Our own live directory is not stale.
	var log bytes.Buffer
	if err := RemoveStale(parent, "rootfs-*", CleanOptions{Unmarked: true, Logger: logTo(&log)}); err != nil {
		t.Fatal(err)
	}
	if !exists(t, d.Path()) {
		t.Fatal("RemoveStale removed a directory whose owner is running")
	}
	if err := os.MkdirAll(filepath.Join(d.Path(), "root/ro"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(d.Path(), "root/ro"), 0o555)
	if err := d.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := d.Remove(); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("left: %v", ents)
	}
}

// A run killed with SIGKILL leaves its directory; the next RemoveStale
// removes it and says so, while a live owner's directory is kept.
func TestRemoveStaleKilledOwner(t *testing.T) {
	parent := t.TempDir()
	dead, deadDir := startOwner(t, parent)
	_, liveDir := startOwner(t, parent)
	dead.Process.Signal(syscall.SIGKILL)
	dead.Wait()
	// A root as a compose leaves it: read-only directories, files of
	// other users.
	ro := filepath.Join(deadDir, "root/usr/lib/ro")
	if err := os.MkdirAll(filepath.Join(ro, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ro, "sub/f"), nil, 0o400); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Lchown(filepath.Join(ro, "sub/f"), 12345, 12345); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(filepath.Join(ro, "sub"), 23456, 23456); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(ro, "sub"), 0)
	os.Chmod(ro, 0o555)
	other := filepath.Join(parent, "keep-me")
	os.Mkdir(other, 0o755)

	var log bytes.Buffer
	if err := RemoveStale(parent, "rootfs-*", CleanOptions{Unmarked: true, Logger: logTo(&log)}); err != nil {
		t.Fatal(err)
	}
	if exists(t, deadDir) {
		t.Errorf("stale %s is still there (log: %s)", deadDir, log.String())
	}
	if !exists(t, liveDir) {
		t.Errorf("%s of a running owner was removed", liveDir)
	}
	if !exists(t, other) {
		t.Errorf("%s does not match the pattern but was removed", other)
	}
	if want := "dir=" + deadDir + " pid=" + strconv.Itoa(dead.Process.Pid); !strings.Contains(log.String(), want) {
		t.Errorf("log does not name the directory and pid (%s):\n%s", want, log.String())
	}
}

func TestRemoveStaleCases(t *testing.T) {
	sleeper := exec.Command("sleep", "600")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sleeper.Process.Kill(); sleeper.Wait() })
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		owner     string // owner file content; "-" for no owner file
		lock      bool   // hold the owner file's lock
		unmarked  bool   // CleanOptions.Unmarked
		wantStale bool
	}{
		{"dead pid, lock free", strconv.Itoa(gone.Process.Pid), false, false, true},
		{"no owner file (older version)", "-", false, true, true},
		{"no owner file, not ours to remove", "-", false, false, false},
		{"empty owner file (killed while creating)", "", false, false, true},
		{"lock held", strconv.Itoa(gone.Process.Pid), true, true, false},
		{"running pid, lock free", strconv.Itoa(sleeper.Process.Pid), false, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, ".dest.tmp-123")
			if err := os.MkdirAll(filepath.Join(dir, "root/etc"), 0o755); err != nil {
				t.Fatal(err)
			}
			if tc.owner != "-" {
				if err := os.WriteFile(filepath.Join(dir, OwnerFile), []byte(tc.owner+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.lock {
				f, err := os.Open(filepath.Join(dir, OwnerFile))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
					t.Fatal(err)
				}
			}
			var log bytes.Buffer
			if err := RemoveStale(parent, ".dest.tmp-*", CleanOptions{Unmarked: tc.unmarked, Logger: logTo(&log)}); err != nil {
				t.Fatal(err)
			}
			if got := !exists(t, dir); got != tc.wantStale {
				t.Errorf("removed=%v, want %v (log: %s)", got, tc.wantStale, log.String())
			}
			if tc.wantStale != strings.Contains(log.String(), "removed work directory") {
				t.Errorf("log: %s", log.String())
			}
		})
	}
}

func TestRemoveStaleMissingParent(t *testing.T) {
	if err := RemoveStale(filepath.Join(t.TempDir(), "none"), "rootfs-*", CleanOptions{}); err != nil {
		t.Error(err)
	}
}

const removeHelperEnv = "APT_OSTREE_WORKDIR_REMOVE"

// TestHelperRemoveAll is the child of TestRemoveAllUnprivileged: as an
// unprivileged user, it removes $APT_OSTREE_WORKDIR_REMOVE.
func TestHelperRemoveAll(t *testing.T) {
	p := os.Getenv(removeHelperEnv)
	if p == "" {
		t.Skip("helper process")
	}
	if err := os.RemoveAll(p); err == nil {
		t.Fatal("os.RemoveAll succeeded: the tree does not need the chmods")
	}
	if err := RemoveAll(p); err != nil {
		t.Fatal(err)
	}
}

// A user without root's powers removes its own tree even when it holds
// directories without write or search permission.
func TestRemoveAllUnprivileged(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to switch to an unprivileged user")
	}
	const nobody = 65534
	base, err := os.MkdirTemp("", "workdir-remove-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	os.Chmod(base, 0o755)
	bin := filepath.Join(base, "workdir.test")
	data, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	tree := filepath.Join(base, "tree")
	for _, d := range []string{"usr/lib/ro/sub", "noperm/x"} {
		if err := os.MkdirAll(filepath.Join(tree, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(tree, "usr/lib/ro/sub/f"), []byte("x"), 0o400)
	os.WriteFile(filepath.Join(tree, "noperm/x/f"), []byte("x"), 0o400)
	filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
		return os.Lchown(p, nobody, nobody)
	})
	os.Chmod(filepath.Join(tree, "usr/lib/ro/sub"), 0o555)
	os.Chmod(filepath.Join(tree, "usr/lib/ro"), 0o555)
	os.Chmod(filepath.Join(tree, "noperm"), 0)
	os.Chmod(base, 0o777)
	cmd := exec.Command(bin, "-test.run=^TestHelperRemoveAll$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), removeHelperEnv+"="+tree)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Lstat(tree); err == nil {
		t.Error("the tree is still there")
	}
}
