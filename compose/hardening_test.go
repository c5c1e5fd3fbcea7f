package compose

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/apt-ostree/apt-ostree/internal/workdir"
	"golang.org/x/sys/unix"
)

// syncBuffer is a log destination safe for concurrent composes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Two composes of one ref that both built on the same previous commit:
// one commit wins, the other fails saying why, and the history keeps every
// commit (issue 10, defect 4).
func TestTreeConcurrentComposesKeepHistory(t *testing.T) {
	needTools(t, "dpkg", "bwrap", "ostree")
	tf, _ := fixture(t, "")
	ctx := context.Background()
	dir := t.TempDir()
	repoPath := filepath.Join(dir, "repo")
	opts := func(n int) TreeOptions {
		return TreeOptions{
			Options:      Options{Treefile: tf, CacheDir: filepath.Join(dir, "cache")},
			Repo:         repoPath,
			ForceNocache: true,
			AddMetadata:  []string{"test.run=" + strconv.Itoa(n)},
		}
	}
	first, err := Tree(ctx, opts(0))
	if err != nil {
		t.Fatal(err)
	}

	// Both composes have read the ref and built their tree before either
	// commits.
	var (
		mu      sync.Mutex
		arrived int
		release = make(chan struct{})
		once    sync.Once
	)
	testHookBeforeCommit = func() {
		mu.Lock()
		arrived++
		if arrived == 2 {
			once.Do(func() { close(release) })
		}
		mu.Unlock()
		<-release
	}
	t.Cleanup(func() { testHookBeforeCommit = nil })
	var wg sync.WaitGroup
	results := make([]*TreeResult, 2)
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			// One that fails before the commit must not hold the other.
			defer once.Do(func() { close(release) })
			results[i], errs[i] = Tree(ctx, opts(i+1))
		})
	}
	wg.Wait()
	testHookBeforeCommit = nil
	if (errs[0] == nil) == (errs[1] == nil) {
		t.Fatalf("want exactly one compose to fail, got errors %v and %v", errs[0], errs[1])
	}
	winner, loserErr := results[0], errs[1]
	if errs[0] != nil {
		winner, loserErr = results[1], errs[0]
	}
	if msg := loserErr.Error(); !strings.Contains(msg, "another compose moved ref "+first.Ref) || !strings.Contains(msg, "run compose tree again") || !strings.Contains(msg, winner.Commit) {
		t.Errorf("the failing compose says: %v", loserErr)
	}
	// The loser runs again, on top of the winner.
	again, err := Tree(ctx, opts(3))
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ostree", "--repo="+repoPath, "log", first.Ref).CombinedOutput()
	if err != nil {
		t.Fatalf("ostree log: %v\n%s", err, out)
	}
	var chain []string
	for _, line := range strings.Split(string(out), "\n") {
		if c, ok := strings.CutPrefix(line, "commit "); ok {
			chain = append(chain, strings.TrimSpace(c))
		}
	}
	if want := []string{again.Commit, winner.Commit, first.Commit}; strings.Join(chain, " ") != strings.Join(want, " ") {
		t.Errorf("ostree log shows %v, want %v\n%s", chain, want, out)
	}
	if out, err := exec.Command("ostree", "--repo="+repoPath, "fsck").CombinedOutput(); err != nil {
		t.Errorf("ostree fsck: %v\n%s", err, out)
	}
}

// Output files that cannot be written are refused before anything is
// built or committed, not after the ref moved (issue 10, defect 6).
func TestTreeChecksOutputPathsFirst(t *testing.T) {
	needTools(t, "dpkg", "bwrap", "ostree")
	tf, _ := fixture(t, "")
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-such-dir", "out")
	for _, tc := range []struct {
		flag string
		set  func(*TreeOptions, string)
		path string
	}{
		{"--write-commitid-to", func(o *TreeOptions, p string) { o.WriteCommitIDTo = p }, missing},
		{"--write-composejson-to", func(o *TreeOptions, p string) { o.WriteComposeJSONTo = p }, missing},
		{"--touch-if-changed", func(o *TreeOptions, p string) { o.TouchIfChanged = p }, missing},
		{"--touch-if-changed", func(o *TreeOptions, p string) { o.TouchIfChanged = p }, dir},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			repoPath := filepath.Join(t.TempDir(), "repo")
			opts := TreeOptions{Options: Options{Treefile: tf, CacheDir: filepath.Join(dir, "cache")}, Repo: repoPath}
			tc.set(&opts, tc.path)
			_, err := Tree(context.Background(), opts)
			if err == nil || !strings.Contains(err.Error(), tc.flag+" "+tc.path) {
				t.Fatalf("want an error naming %s %s, got %v", tc.flag, tc.path, err)
			}
			if _, err := os.Stat(repoPath); err == nil {
				t.Errorf("the repo was created (and maybe committed to) before the output path was refused")
			}
		})
	}
}

// staleWorkDirs makes, in parent, the work directories a killed run leaves
// (marked with a dead pid, and one from a version without marks), with
// read-only directories and files of other users inside, and one whose
// owner is alive (its lock held). It returns the stale ones and the live
// one.
func staleWorkDirs(t *testing.T, parent, prefix string) (stale []string, live string) {
	t.Helper()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	mk := func(name, owner string) string {
		d := filepath.Join(parent, prefix+name)
		ro := filepath.Join(d, "root/usr/lib/ro")
		if err := os.MkdirAll(filepath.Join(ro, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ro, "sub/f"), []byte("x"), 0o400); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{filepath.Join(ro, "sub/f"), filepath.Join(ro, "sub")} {
			if err := os.Lchown(p, 12345, 12345); err != nil {
				t.Fatal(err)
			}
		}
		os.Chmod(filepath.Join(ro, "sub"), 0o500)
		os.Chmod(ro, 0o555)
		if owner != "" {
			if err := os.WriteFile(filepath.Join(d, workdir.OwnerFile), []byte(owner+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	stale = []string{mk("killed", strconv.Itoa(gone.Process.Pid)), mk("unmarked", "")}
	live = mk("running", strconv.Itoa(os.Getpid()))
	f, err := os.Open(filepath.Join(live, workdir.OwnerFile))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return stale, live
}

func checkStaleRemoved(t *testing.T, log string, stale []string, keep ...string) {
	t.Helper()
	for _, d := range stale {
		if _, err := os.Lstat(d); err == nil {
			t.Errorf("stale %s is still there", d)
		}
		if !strings.Contains(log, "removed work directory left by an earlier run") || !strings.Contains(log, d) {
			t.Errorf("no log line for removing %s:\n%s", d, log)
		}
	}
	for _, d := range keep {
		if _, err := os.Lstat(d); err != nil {
			t.Errorf("%s must be kept: %v", d, err)
		}
	}
}

// A killed compose tree leaves its root in CACHEDIR/tmp; the next run
// removes it, and leaves a running compose's root alone (issue 10,
// defect 9). In a --workdir, which may hold the user's own directories,
// only roots marked by a compose go.
func TestTreeRemovesStaleRoots(t *testing.T) {
	needTools(t, "dpkg", "bwrap", "ostree")
	tf, _ := fixture(t, "")
	for _, explicit := range []bool{false, true} {
		t.Run(map[bool]string{false: "cachedir", true: "workdir"}[explicit], func(t *testing.T) {
			dir := t.TempDir()
			opts := TreeOptions{Options: Options{Treefile: tf, CacheDir: filepath.Join(dir, "cache")}, Repo: filepath.Join(dir, "repo")}
			work := filepath.Join(opts.CacheDir, "tmp")
			if explicit {
				work = filepath.Join(dir, "work")
				opts.Workdir = work
			}
			stale, live := staleWorkDirs(t, work, "rootfs-")
			keep := []string{live}
			if explicit {
				stale, keep = stale[:1], append(keep, stale[1])
			}
			var log syncBuffer
			opts.Logger = slog.New(slog.NewTextHandler(&log, nil))
			if _, err := Tree(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			checkStaleRemoved(t, log.String(), stale, keep...)
			if ents, _ := os.ReadDir(work); len(ents) != len(keep) {
				t.Errorf("%s holds %v, want only %v", work, ents, keep)
			}
		})
	}
}

// The same beside compose rootfs's destination.
func TestRootfsRemovesStaleRoots(t *testing.T) {
	needTools(t, "dpkg", "bwrap")
	tf, _ := fixture(t, "")
	parent := t.TempDir()
	dest := filepath.Join(parent, "rootfs")
	stale, live := staleWorkDirs(t, parent, ".rootfs.tmp-")
	var log syncBuffer
	if _, err := Rootfs(context.Background(), dest, Options{Treefile: tf, CacheDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(&log, nil))}); err != nil {
		t.Fatal(err)
	}
	checkStaleRemoved(t, log.String(), stale, live)
	if _, err := os.Stat(filepath.Join(dest, "usr/share/world/data")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dest, workdir.OwnerFile)); err == nil {
		t.Errorf("the owner mark ended up in the root")
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 2 {
		t.Errorf("beside %s: %v, want only it and the running compose's directory", dest, ents)
	}
}
