package ostree

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashHelperEnv = "APT_OSTREE_CRASH_HELPER"

// TestCrashHelper is the child process of TestCrashSafety: it commits
// $APT_OSTREE_CRASH_TREE into $APT_OSTREE_CRASH_REPO and gets SIGKILLed.
func TestCrashHelper(t *testing.T) {
	if os.Getenv(crashHelperEnv) != "1" {
		t.Skip("helper process for TestCrashSafety")
	}
	r, err := Open(os.Getenv("APT_OSTREE_CRASH_REPO"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.CommitDir(t.Context(), os.Getenv("APT_OSTREE_CRASH_TREE"), CommitOptions{
		Ref: "crash/test", WriteRef: true, OwnerUID: -1, OwnerGID: -1, Subject: "crash", Jobs: 2}); err != nil {
		t.Fatal(err)
	}
}

func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	ostree := needOstree(t)
	for _, mode := range []RepoMode{ModeArchive, ModeBareUser} {
		t.Run(mode.String(), func(t *testing.T) { crashTrials(t, ostree, mode, 10) })
	}
}

func crashTrials(t *testing.T, ostree string, mode RepoMode, trials int) {
	tmp := t.TempDir()
	tree := filepath.Join(tmp, "tree")
	genTree(t, tree, 7, 150)
	r, err := Init(t.Context(), filepath.Join(tmp, "repo"), mode)
	if err != nil {
		t.Fatal(err)
	}
	prev, _, err := r.CommitDir(t.Context(), tree, CommitOptions{Ref: "crash/test", WriteRef: true, OwnerUID: -1, OwnerGID: -1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(mode), 9))
	addContent := func(i int) {
		d := filepath.Join(tree, fmt.Sprintf("trial%d", i))
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for j := range 150 {
			data := make([]byte, 1000+rng.IntN(60000))
			for k := range data {
				data[k] = byte(rng.Uint32() % 7)
			}
			if j == 0 {
				data = make([]byte, 3<<20)
				for k := range data {
					data[k] = byte(rng.Uint32())
				}
			}
			if err := os.WriteFile(filepath.Join(d, fmt.Sprint(j)), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	helper := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashHelperEnv+"=1", "APT_OSTREE_CRASH_REPO="+r.Path(), "APT_OSTREE_CRASH_TREE="+tree)
		return cmd
	}
	// Calibrate: how long does an uninterrupted commit take?
	addContent(0)
	start := time.Now()
	if out, err := helper().CombinedOutput(); err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	full := time.Since(start)
	if prev, err = r.ReadRef("crash/test"); err != nil {
		t.Fatal(err)
	}
	changed := 0
	for i := 1; i <= trials; i++ {
		addContent(i)
		cmd := helper()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill points spread over the whole commit, sometimes after it ended.
		time.Sleep(time.Duration(rng.Int64N(int64(full) * 2)))
		cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		killed := err != nil
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		run(t, ostree, "fsck", "--repo="+r.Path())
		now, err := r.ReadRef("crash/test")
		if err != nil {
			t.Fatalf("trial %d: ref unreadable after kill: %v", i, err)
		}
		moved := now != prev
		if moved {
			changed++
			cm, err := r.ReadCommit(now)
			if err != nil {
				t.Fatalf("trial %d: ref points at unreadable commit: %v", i, err)
			}
			if cm.Parent == nil || *cm.Parent != prev {
				t.Fatalf("trial %d: new commit's parent %v, want %s", i, cm.Parent, prev)
			}
			// The whole new tree must be readable.
			co := filepath.Join(tmp, fmt.Sprintf("co%d", i))
			if err := r.Checkout(t.Context(), now.String(), co, CheckoutOptions{UserMode: true}); err != nil {
				t.Fatalf("trial %d: %v", i, err)
			}
			os.RemoveAll(co)
			prev = now
		}
		t.Logf("trial %d: killed=%v ref moved=%v", i, killed, moved)
	}
	t.Logf("%d/%d trials completed their commit before the kill", changed, trials)
	// A later writer cleans up and commits normally.
	if _, _, err := r.CommitDir(t.Context(), tree, CommitOptions{Ref: "crash/test", WriteRef: true, OwnerUID: -1, OwnerGID: -1}); err != nil {
		t.Fatal(err)
	}
	run(t, ostree, "fsck", "--repo="+r.Path())
	ents, _ := os.ReadDir(filepath.Join(r.Path(), "tmp"))
	for _, e := range ents {
		if e.Name() != "cache" {
			t.Errorf("left in tmp/: %s", e.Name())
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(r.Path(), "refs/heads/crash")); len(ents) != 1 {
		t.Errorf("refs/heads/crash holds %v, want only the ref", ents)
	}
}

const killHelperEnv = "APT_OSTREE_KILL_AT_TEMP"

// TestKillHelper is the child process of TestKilledWriterLeavesNothing: it
// commits $APT_OSTREE_CRASH_TREE and, when it creates the first temp file
// whose name starts with $APT_OSTREE_KILL_AT_TEMP, prints its path and
// waits to be killed.
func TestKillHelper(t *testing.T) {
	prefix := os.Getenv(killHelperEnv)
	if prefix == "" {
		t.Skip("helper process for TestKilledWriterLeavesNothing")
	}
	var once sync.Once
	testHookTemp = func(p string) {
		if strings.HasPrefix(filepath.Base(p), prefix) {
			once.Do(func() {
				fmt.Println(p)
				time.Sleep(time.Hour)
			})
		}
	}
	r, err := Open(os.Getenv("APT_OSTREE_CRASH_REPO"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.CommitDir(t.Context(), os.Getenv("APT_OSTREE_CRASH_TREE"), CommitOptions{
		Ref: "kill/test", WriteRef: true, OwnerUID: -1, OwnerGID: -1, Jobs: 1,
		DetachedMetadata: map[string]any{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
}

// A writer killed while any of its temp files exists (a content object,
// a metadata object, the new ref) leaves nothing that the next commit
// does not remove: tmp/ and refs/ hold no stray file afterwards.
func TestKilledWriterLeavesNothing(t *testing.T) {
	ostree := needOstree(t)
	for _, mode := range []RepoMode{ModeArchive, ModeBareUser} {
		for _, kind := range []struct{ name, prefix string }{
			{"content object", "obj-"},
			{"metadata object", "tmpobject-"},
			{"ref", ".test.tmp-"},
		} {
			t.Run(mode.String()+"/"+kind.name, func(t *testing.T) {
				tmp := t.TempDir()
				tree := filepath.Join(tmp, "tree")
				genTree(t, tree, 3, 20)
				r, err := Init(t.Context(), filepath.Join(tmp, "repo"), mode)
				if err != nil {
					t.Fatal(err)
				}
				cmd := exec.Command(os.Args[0], "-test.run=^TestKillHelper$", "-test.count=1")
				cmd.Env = append(os.Environ(), killHelperEnv+"="+kind.prefix, "APT_OSTREE_CRASH_REPO="+r.Path(), "APT_OSTREE_CRASH_TREE="+tree)
				out, err := cmd.StdoutPipe()
				if err != nil {
					t.Fatal(err)
				}
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				line, err := bufio.NewReader(out).ReadString('\n')
				if err != nil {
					cmd.Wait()
					t.Fatalf("helper never created a %s temp file: %v", kind.name, err)
				}
				left := strings.TrimSpace(line)
				if _, err := os.Lstat(left); err != nil {
					t.Fatalf("helper's temp file: %v", err)
				}
				cmd.Process.Signal(syscall.SIGKILL)
				cmd.Wait()
				if _, err := os.Lstat(left); err != nil {
					t.Fatalf("the kill removed %s: %v", left, err)
				}

				if _, _, err := r.CommitDir(t.Context(), tree, CommitOptions{Ref: "kill/test", WriteRef: true, OwnerUID: -1, OwnerGID: -1}); err != nil {
					t.Fatal(err)
				}
				run(t, ostree, "fsck", "--repo="+r.Path())
				if _, err := os.Lstat(left); err == nil {
					t.Errorf("%s (written when the writer was killed) is still there", left)
				}
				ents, _ := os.ReadDir(filepath.Join(r.Path(), "tmp"))
				for _, e := range ents {
					if e.Name() != "cache" { // ostree fsck's
						t.Errorf("left in tmp/: %s", e.Name())
					}
				}
				if ents, _ := os.ReadDir(filepath.Join(r.Path(), "refs/heads/kill")); len(ents) != 1 || ents[0].Name() != "test" {
					t.Errorf("refs/heads/kill holds %v, want only test", ents)
				}
			})
		}
	}
}
