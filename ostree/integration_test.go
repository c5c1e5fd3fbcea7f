package ostree

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apt-ostree/apt-ostree/internal/treecmp"
	"github.com/apt-ostree/apt-ostree/ostree/gvariant"
	"golang.org/x/sys/unix"
)

// needOstree returns the ostree CLI; it fails under CI=true when missing.
func needOstree(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("ostree")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ostree CLI not installed (apt-get install ostree)")
		}
		t.Skip("ostree CLI not installed")
	}
	return p
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "TZ=UTC")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// genTree writes a random tree exercising what ostree stores: sizes from
// empty to >1 MiB, symlinks, hardlinks, modes incl. setuid/sticky, owners,
// user.* and security.* xattrs, unicode names and a deep directory chain.
func genTree(t testing.TB, root string, seed uint64, nfiles int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 42))
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(root, 0o755))
	must(os.Chmod(root, 0o755))
	dirs := []string{root}
	deep := root
	for i := range 40 {
		deep = filepath.Join(deep, fmt.Sprintf("d%d", i))
	}
	must(os.MkdirAll(deep, 0o755))
	dirs = append(dirs, deep)
	names := []string{"été", "日本語.txt", "space name", "-dash", ".hidden", "a:b", "emoji😀", "x\u00a0y"}
	for i := range 12 {
		d := filepath.Join(dirs[rng.IntN(len(dirs))], fmt.Sprintf("dir%d-%s", i, names[rng.IntN(len(names))]))
		must(os.Mkdir(d, 0o755))
		mode := []os.FileMode{0o755, 0o700, 0o775, 0o1777 | os.ModeSticky}[rng.IntN(4)]
		must(unix.Chmod(d, uint32(mode.Perm())|map[bool]uint32{true: 0o1000}[mode&os.ModeSticky != 0]))
		if rng.IntN(3) == 0 {
			must(os.Lchown(d, 1000+rng.IntN(3), 100+rng.IntN(3)))
		}
		if rng.IntN(3) == 0 {
			must(unix.Lsetxattr(d, "user.dir", []byte(fmt.Sprint("v", i)), 0))
		}
		dirs = append(dirs, d)
	}
	sizes := []int{0, 1, 6, 100, 4095, 4096, 65536, 300 << 10, 1<<20 + 1, 3 << 20}
	var files []string
	for i := range nfiles {
		d := dirs[rng.IntN(len(dirs))]
		p := filepath.Join(d, fmt.Sprintf("f%03d%s", i, []string{"", ".txt", "-ü", ".bin"}[rng.IntN(4)]))
		size := sizes[rng.IntN(len(sizes))]
		if i < len(sizes) {
			size = sizes[i]
		}
		data := make([]byte, size)
		if rng.IntN(2) == 0 {
			for j := range data { // compressible text
				data[j] = "abcdefgh \n"[rng.IntN(10)]
			}
		} else {
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
		}
		must(os.WriteFile(p, data, 0o600))
		perm := []uint32{0o644, 0o755, 0o600, 0o400, 0o4755, 0o2755, 0o640, 0o1755}[rng.IntN(8)]
		if rng.IntN(4) == 0 {
			must(os.Lchown(p, 1000+rng.IntN(3), 100+rng.IntN(3)))
		}
		must(unix.Chmod(p, perm))
		if rng.IntN(3) == 0 {
			must(unix.Lsetxattr(p, "user.b", []byte("2"), 0))
			must(unix.Lsetxattr(p, "user.a", []byte{1, 0, 2}, 0))
		}
		if rng.IntN(5) == 0 {
			must(unix.Lsetxattr(p, "security.apt-ostree-test", []byte("label\x00"), 0))
		}
		files = append(files, p)
	}
	for i := range nfiles / 5 {
		src := files[rng.IntN(len(files))]
		d := dirs[rng.IntN(len(dirs))]
		must(os.Link(src, filepath.Join(d, fmt.Sprintf("hl%d", i))))
	}
	targets := []string{"f000", "../x", "/usr/bin/env", "dangling/ü", "."}
	for i := range nfiles / 5 {
		d := dirs[rng.IntN(len(dirs))]
		target := targets[rng.IntN(len(targets))]
		if i == 0 {
			target, _ = filepath.Rel(d, files[1])
		}
		must(os.Symlink(target, filepath.Join(d, fmt.Sprintf("ln%d", i))))
	}
	must(os.Mkdir(filepath.Join(root, "empty"), 0o755))
}

var fixedTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func TestCommitAgainstOstreeCLI(t *testing.T) {
	ostree := needOstree(t)
	for _, tc := range []struct {
		mode  RepoMode
		owner int // -1 keeps on-disk owners
		seed  uint64
	}{
		{ModeArchive, -1, 1},
		{ModeArchive, 0, 2},
		{ModeBareUser, -1, 3},
		{ModeBare, -1, 4},
	} {
		t.Run(fmt.Sprintf("%s/owner%d", tc.mode, tc.owner), func(t *testing.T) {
			if tc.mode == ModeBare && os.Geteuid() != 0 {
				t.Skip("bare mode needs root")
			}
			tmp := t.TempDir()
			tree := filepath.Join(tmp, "tree")
			genTree(t, tree, tc.seed, 60)
			ours := filepath.Join(tmp, "ours")
			r, err := Init(t.Context(), ours, tc.mode)
			if err != nil {
				t.Fatal(err)
			}
			opts := CommitOptions{Ref: "test/x86_64/base", WriteRef: true, Subject: "Test subject", Body: "Test body",
				Timestamp: fixedTime, Metadata: map[string]any{"version": "1.0"}, OwnerUID: tc.owner, OwnerGID: tc.owner,
				DetachedMetadata: map[string]any{"detached": "yes"}, Jobs: 3}
			c, stats, err := r.CommitDir(t.Context(), tree, opts)
			if err != nil {
				t.Fatal(err)
			}
			if stats.ContentObjectsWritten == 0 || stats.ContentObjectsWritten > stats.ContentObjectsTotal || stats.ContentBytesWritten == 0 {
				t.Errorf("stats %+v", stats)
			}
			run(t, ostree, "fsck", "--repo="+ours)

			// The real CLI commits the same tree to the same commit id.
			theirs := filepath.Join(tmp, "theirs")
			run(t, ostree, "init", "--repo="+theirs, "--mode="+tc.mode.String())
			args := []string{"commit", "--repo=" + theirs, "--branch=test/x86_64/base", "--no-bindings", "--subject=Test subject",
				"--body=Test body", "--add-metadata-string=version=1.0", "--timestamp=2024-01-01T00:00:00Z"}
			if tc.owner >= 0 {
				args = append(args, fmt.Sprintf("--owner-uid=%d", tc.owner), fmt.Sprintf("--owner-gid=%d", tc.owner))
			}
			theirC := strings.TrimSpace(run(t, ostree, append(args, tree)...))
			if theirC != c.String() {
				t.Errorf("commit id: ours %s, ostree commit %s", c, theirC)
				t.Log(run(t, ostree, "ls", "-R", "-C", "-X", "--repo="+ours, c.String()))
				t.Log(run(t, ostree, "ls", "-R", "-C", "-X", "--repo="+theirs, theirC))
			}

			show := run(t, ostree, "show", "--repo="+ours, "test/x86_64/base")
			for _, want := range []string{"Version: 1.0", "Test subject", "Test body", "Date:  2024-01-01"} {
				if !strings.Contains(show, want) {
					t.Errorf("ostree show lacks %q:\n%s", want, show)
				}
			}
			if log := run(t, ostree, "log", "--repo="+ours, "test/x86_64/base"); !strings.Contains(log, c.String()) {
				t.Errorf("ostree log:\n%s", log)
			}
			if d := run(t, ostree, "show", "--repo="+ours, "--print-detached-metadata-key=detached", c.String()); strings.TrimSpace(d) != "'yes'" {
				t.Errorf("detached metadata: %q", d)
			}

			// ostree checkout reproduces the input.
			owners := tc.owner < 0
			co := filepath.Join(tmp, "co")
			run(t, ostree, "checkout", "--repo="+ours, "test/x86_64/base", co)
			treecmp.Compare(t, tree, co, treecmp.Options{Owners: owners, Xattrs: true, Special: true})
			if tc.mode == ModeBareUser {
				coU := filepath.Join(tmp, "co-user")
				run(t, ostree, "checkout", "-U", "--repo="+ours, "test/x86_64/base", coU)
				treecmp.Compare(t, tree, coU, treecmp.Options{})
			}

			// pull-local from our repo.
			mirror := filepath.Join(tmp, "mirror")
			run(t, ostree, "init", "--repo="+mirror, "--mode=archive")
			run(t, ostree, "pull-local", "--repo="+mirror, ours, "test/x86_64/base")
			run(t, ostree, "fsck", "--repo="+mirror)

			// Our reader on the repo the real ostree wrote.
			tr, err := Open(theirs)
			if err != nil {
				t.Fatal(err)
			}
			tc2, err := tr.ResolveRev("test/x86_64/base")
			if err != nil {
				t.Fatal(err)
			}
			cm, err := tr.ReadCommit(tc2)
			if err != nil {
				t.Fatal(err)
			}
			if cm.Subject != "Test subject" || cm.Metadata["version"] != "1.0" || !cm.Timestamp.Equal(fixedTime) {
				t.Errorf("ReadCommit: %+v", cm)
			}
			ourCo := filepath.Join(tmp, "our-co")
			if err := tr.Checkout(t.Context(), "test/x86_64/base", ourCo, CheckoutOptions{}); err != nil {
				t.Fatal(err)
			}
			treecmp.Compare(t, tree, ourCo, treecmp.Options{Owners: owners, Xattrs: true, Special: true})
			checkFS(t, tr, "test/x86_64/base", tree, owners)
			checkFS(t, r, c.String(), tree, owners)

			// A second commit of the same tree writes no content and gets the first as parent.
			c2, stats2, err := r.CommitDir(t.Context(), tree, opts)
			if err != nil {
				t.Fatal(err)
			}
			if stats2.ContentObjectsWritten != 0 || c2 == c {
				t.Errorf("recommit: %s stats %+v", c2, stats2)
			}
			if cm2, err := r.ReadCommit(c2); err != nil || cm2.Parent == nil || *cm2.Parent != c {
				t.Errorf("recommit parent: %v %v", cm2, err)
			}
			run(t, ostree, "fsck", "--repo="+ours)

			// Summary: byte-identical to `ostree summary -u`.
			run(t, ostree, "summary", "-u", "--repo="+theirs)
			compareSummary(t, tr)
		})
	}
}

// checkFS compares the commit's fs.FS view with the input tree.
func checkFS(t *testing.T, r *Repo, rev, tree string, owners bool) {
	t.Helper()
	fsys, err := r.FS(t.Context(), rev)
	if err != nil {
		t.Fatal(err)
	}
	want, err := treecmp.Scan(tree, treecmp.Options{Owners: owners, Xattrs: true, Special: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]treecmp.Entry{}
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*FileStat)
		e := treecmp.Entry{Perm: st.Mode & 0o7777}
		if owners {
			e.UID, e.GID = st.Uid, st.Gid
		}
		switch {
		case d.IsDir():
			e.Kind = "dir"
		case d.Type()&fs.ModeSymlink != 0:
			e.Kind, e.Perm = "link", 0
			if e.Target, err = fs.ReadLink(fsys, p); err != nil {
				return err
			}
		default:
			e.Kind = "file"
			data, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			if int64(len(data)) != fi.Size() {
				return fmt.Errorf("%s: size %d, read %d", p, fi.Size(), len(data))
			}
			sum := sha256.Sum256(data)
			e.Hash = hex.EncodeToString(sum[:])
		}
		e.Xattrs = treecmp.XattrString(st.Xattrs)
		got[filepath.FromSlash(p)] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for k, w := range want {
		if got[k] != w {
			if bad++; bad < 10 {
				t.Errorf("FS %s: got %+v, want %+v", k, got[k], w)
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("FS has %d entries, tree %d", len(got), len(want))
	}
	if _, ok := fsys.(fs.ReadLinkFS); !ok {
		t.Error("commit FS does not implement fs.ReadLinkFS")
	}
}

func compareSummary(t *testing.T, r *Repo) {
	t.Helper()
	theirs := readFile(t, filepath.Join(r.Path(), "summary"))
	v, err := gvariant.Unmarshal("(a(s(taya{sv}))a{sv})", theirs)
	if err != nil {
		t.Fatal(err)
	}
	var lm uint64
	for _, e := range v.([]any)[1].([]any) {
		kv := e.([]any)
		if kv[0] == "ostree.summary.last-modified" {
			lm = be64(kv[1].(gvariant.Variant).Value.(uint64))
		}
	}
	ours, err := r.summaryBytes(time.Unix(int64(lm), 0))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, theirs) {
		t.Errorf("summary differs:\n ours %x\ntheir %x", ours, theirs)
	}
}

// TestTV1TV4TV6 rebuilds the spec's TV1 tree: the real CLI's commit, our
// commit of the same tree, the bare-user xattrs of TV4 and the summary of TV6.
func TestTV1TV4TV6(t *testing.T) {
	ostree := needOstree(t)
	tmp := t.TempDir()
	tree := filepath.Join(tmp, "tree")
	writeTV1Tree(t, tree)
	archive := filepath.Join(tmp, "r-archive")
	run(t, ostree, "init", "--mode=archive", "--repo="+archive)
	c := strings.TrimSpace(run(t, ostree, "commit", "--repo="+archive, "--branch=test", "--owner-uid=0", "--owner-gid=0",
		"--subject=Test subject", "--body=Test body", "--add-metadata-string=version=1.0", "--timestamp=2024-01-01T00:00:00Z", tree))
	if c != tv1Commit {
		t.Fatalf("ostree commit gave %s, want TV1 %s", c, tv1Commit)
	}
	r, err := Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	run(t, ostree, "summary", "-u", "--repo="+archive)
	if got := len(readFile(t, filepath.Join(archive, "summary"))); got != 298 {
		t.Errorf("summary is %d bytes, want 298", got)
	}
	compareSummary(t, r)

	// Our writer: same objects, in archive and in bare-user.
	for _, mode := range []RepoMode{ModeArchive, ModeBareUser} {
		ours, err := Init(t.Context(), filepath.Join(tmp, mode.String()), mode)
		if err != nil {
			t.Fatal(err)
		}
		oc, _, err := ours.CommitDir(t.Context(), tree, CommitOptions{Ref: "test", WriteRef: true, OwnerUID: 0, OwnerGID: 0,
			Subject: "Test subject", Body: "Test body", Timestamp: fixedTime,
			Metadata: map[string]any{"version": "1.0", "ostree.ref-binding": []string{"test"}}})
		if err != nil {
			t.Fatal(err)
		}
		cm, err := ours.ReadCommit(oc)
		if err != nil {
			t.Fatal(err)
		}
		if cm.RootTree.String() != tv1RootTree || cm.RootMeta.String() != rootMeta {
			t.Errorf("%v: root %s/%s", mode, cm.RootTree, cm.RootMeta)
		}
		run(t, ostree, "fsck", "--repo="+ours.Path())
		if mode == ModeBareUser {
			for csum, want := range map[string]string{tv1Hello: "00000000 00000000 000081a4", tv1Run: "00000000 00000000 000081ed", tv1Link: "00000000 00000000 0000a1ff"} {
				p := ours.objectPath(ObjectFile, cs(t, csum))
				buf := make([]byte, 64)
				n, err := unix.Lgetxattr(p, "user.ostreemeta", buf)
				if err != nil || !bytes.Equal(buf[:n], hx(t, want)) {
					t.Errorf("%s user.ostreemeta = %x (%v), want %s", csum, buf[:n], err, want)
				}
				var st unix.Stat_t
				unix.Stat(p, &st)
				if st.Mtim.Sec != 0 {
					t.Errorf("%s mtime %d", csum, st.Mtim.Sec)
				}
			}
			if data := readFile(t, ours.objectPath(ObjectFile, cs(t, tv1Link))); string(data) != "hello.txt\x00" {
				t.Errorf("bare-user symlink object %q", data)
			}
		}
	}
}

func writeTV1Tree(t *testing.T, tree string) {
	t.Helper()
	for _, step := range []error{
		os.MkdirAll(filepath.Join(tree, "empty"), 0o755),
		os.WriteFile(filepath.Join(tree, "hello.txt"), []byte("hello\n"), 0o644),
		os.WriteFile(filepath.Join(tree, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755),
		os.Symlink("hello.txt", filepath.Join(tree, "link")),
		os.Chmod(tree, 0o755), os.Chmod(filepath.Join(tree, "empty"), 0o755),
		os.Chmod(filepath.Join(tree, "hello.txt"), 0o644), os.Chmod(filepath.Join(tree, "run.sh"), 0o755),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
}

// TestTV5CommitDir commits the spec's TV5 tree and checks the exact ids.
func TestTV5CommitDir(t *testing.T) {
	tree := filepath.Join(t.TempDir(), "tree")
	if err := os.MkdirAll(filepath.Join(tree, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(tree, 0o755)
	os.Chmod(filepath.Join(tree, "sub"), 0o755)
	for i := range 10 {
		p := filepath.Join(tree, fmt.Sprintf("file%d", i))
		os.WriteFile(p, fmt.Appendf(nil, "content %d\n", i), 0o644)
		os.Chmod(p, 0o644)
	}
	os.WriteFile(filepath.Join(tree, "sub", "x"), []byte("x\n"), 0o644)
	os.Chmod(filepath.Join(tree, "sub", "x"), 0o644)
	r, err := Init(t.Context(), filepath.Join(t.TempDir(), "repo"), ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := r.CommitDir(t.Context(), tree, CommitOptions{OwnerUID: 0, OwnerGID: 0, Subject: "Test subject", Body: "Test body",
		Timestamp: fixedTime, Metadata: map[string]any{"version": "1.0"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.String() != "c65cf89850b9ca0b8873adf3a09cdde310ffd1c245e9ae87060501bb57c5ff8e" {
		t.Errorf("commit %s, want TV5 c65cf898…", c)
	}
	cm, _ := r.ReadCommit(c)
	if cm.RootTree.String() != "92d963bb8765c54423ba542bbb43fbcf22b656d3ad9926c211fb0e5fff01b497" {
		t.Errorf("root tree %s", cm.RootTree)
	}
	data, _ := r.ReadObject(ObjectDirTree, cm.RootTree)
	if len(data) != 483 || !bytes.Equal(data[481:], []byte{0x9a, 0x01}) {
		t.Errorf("root dirtree %d bytes, tail %x", len(data), data[len(data)-2:])
	}
}

func TestCommitRejectsSpecialFiles(t *testing.T) {
	tree := t.TempDir()
	fifo := filepath.Join(tree, "sub", "pipe")
	os.Mkdir(filepath.Join(tree, "sub"), 0o755)
	if err := unix.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Init(t.Context(), filepath.Join(t.TempDir(), "repo"), ModeArchive)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = r.CommitDir(t.Context(), tree, CommitOptions{Ref: "x", WriteRef: true, OwnerUID: -1, OwnerGID: -1})
	if err == nil || !strings.Contains(err.Error(), fifo) || !strings.Contains(err.Error(), "fifo") {
		t.Fatalf("err = %v, want one naming %s as a fifo", err, fifo)
	}
	if _, err := r.ReadRef("x"); err == nil {
		t.Error("a failed commit wrote the ref")
	}
}
