package compose

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/lint"
	"github.com/apt-ostree/apt-ostree/ostree"
)

// TestE2EServerTreefile composes the example as a server treefile as a
// new user writes one: openssh-server and network-manager added, units
// named the way users name them (sshd.service, which on Debian is only an
// Alias= of ssh.service, and NetworkManager.service, whose Also= units
// bring an Alias= and another target), documentation: false and
// install-langs: [en_US]. The units are enabled; the commit has no
// documentation but copyright files (and the doc symlinks dpkg keeps), no
// manual or info pages, no translations but English, and records the
// filter for dpkg. A forced recompose, which seeds the accounts of the
// first commit (preserve-passwd), gives the same tree.
func TestE2EServerTreefile(t *testing.T) {
	cache := e2eCache(t)
	needTools(t, "bwrap", "ostree")
	ctx := context.Background()
	dir := t.TempDir()
	example, err := filepath.Abs(exampleTreefile)
	if err != nil {
		t.Fatal(err)
	}
	tf := filepath.Join(dir, "server.yaml")
	if err := os.WriteFile(tf, []byte("include: "+example+"\n"+
		"ref: debian/13/${basearch}/server\n"+
		"packages: [openssh-server, network-manager]\n"+
		"units: [sshd.service, NetworkManager.service]\n"+
		"documentation: false\ninstall-langs: [en_US]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	repoPath := filepath.Join(dir, "repo")
	// A fixed version: the automatic one would differ between the two
	// composes, and mutate-os-release writes it into the tree.
	opts := TreeOptions{Options: Options{Treefile: tf, CacheDir: cache}, Repo: repoPath, AddMetadata: []string{"version=13.test"}}
	res, err := Tree(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("compose tree: %s: %s", res.Commit, res.Summary)
	fsys := mustFS(t, repoPath, res.Commit)
	checkServerUnits(t, fsys)
	// openssh-server's postinst made host keys; each machine makes its own.
	if keys, _ := fs.Glob(fsys, "usr/etc/ssh/ssh_host_*"); len(keys) > 0 {
		t.Errorf("SSH host keys in the image: %v", keys)
	}
	if _, err := fs.Stat(fsys, "usr/lib/systemd/system/ssh.service.d/50-apt-ostree-host-keys.conf"); err != nil {
		t.Errorf("ssh.service does not generate the host keys: %v", err)
	}

	englishOnly := func(lang string) bool {
		for _, keep := range []string{"en", "en_US"} {
			if lang == keep || strings.HasPrefix(lang, keep+".") || strings.HasPrefix(lang, keep+"@") {
				return true
			}
		}
		return false
	}
	counts := map[string]int{}
	err = fs.WalkDir(fsys, "usr/share", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		parts := strings.Split(p, "/")
		switch parts[2] {
		case "doc":
			if d.Type().IsRegular() && path.Base(p) != "copyright" {
				t.Errorf("documentation left: /%s", p)
			}
			counts[parts[2]+" "+d.Type().String()]++
		case "man", "info":
			// info/dir is the index install-info's trigger writes, not a package's file.
			if d.Type().IsRegular() && p != "usr/share/info/dir" {
				t.Errorf("%s page left: /%s", parts[2], p)
			}
			counts[parts[2]+" "+d.Type().String()]++
		case "locale":
			if len(parts) > 4 && !englishOnly(parts[3]) {
				t.Errorf("translation left: /%s", p)
			}
			if len(parts) > 4 {
				counts["locale "+parts[3]]++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("what is left under /usr/share (kind: entries): %v", counts)
	if counts["doc ----------"] == 0 {
		t.Error("no copyright file kept")
	}
	cfg, err := fs.ReadFile(fsys, "usr/etc/dpkg/dpkg.cfg.d/apt-ostree-excludes")
	if err != nil || !strings.Contains(string(cfg), "path-include=/usr/share/doc/*/copyright\n") {
		t.Errorf("dpkg.cfg.d record: %v\n%s", err, cfg)
	}
	report, err := lint.Run(ctx, fsys, lint.Options{FatalWarnings: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Err(); err != nil {
		var b strings.Builder
		report.WriteText(&b)
		t.Errorf("lint of the commit: %v\n%s", err, b.String())
	}

	opts.ForceNocache = true
	again, err := Tree(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := ostree.Open(repoPath)
	if err != nil {
		t.Fatal(err)
	}
	content := func(rev string) string {
		c, err := repo.ResolveRev(rev)
		if err != nil {
			t.Fatal(err)
		}
		cm, err := repo.ReadCommit(c)
		if err != nil {
			t.Fatal(err)
		}
		return cm.ContentChecksum().String()
	}
	if a, b := content(res.Commit), content(again.Commit); a != b {
		out, _ := exec.Command("ostree", "--repo="+repoPath, "diff", res.Commit, again.Commit).CombinedOutput()
		t.Errorf("the recompose seeded with the first commit's accounts differs: content %s, then %s; ostree diff:\n%s", a, b, out)
	}
}

// checkServerUnits checks the links that units: [sshd.service,
// NetworkManager.service] (plus the example's remote-fs.target) enable.
func checkServerUnits(t *testing.T, fsys fs.FS) {
	t.Helper()
	const sys = "usr/etc/systemd/system/"
	for link, want := range map[string]string{
		sys + "multi-user.target.wants/ssh.service":                            "/usr/lib/systemd/system/ssh.service",
		sys + "sshd.service":                                                   "/usr/lib/systemd/system/ssh.service",
		sys + "multi-user.target.wants/NetworkManager.service":                 "/usr/lib/systemd/system/NetworkManager.service",
		sys + "dbus-org.freedesktop.nm-dispatcher.service":                     "/usr/lib/systemd/system/NetworkManager-dispatcher.service",
		sys + "network-online.target.wants/NetworkManager-wait-online.service": "/usr/lib/systemd/system/NetworkManager-wait-online.service",
		// example's common.yaml
		sys + "multi-user.target.wants/remote-fs.target": "/usr/lib/systemd/system/remote-fs.target",
	} {
		got, err := fs.ReadLink(fsys, link)
		// The packages' postinsts (deb-systemd-helper) may have made
		// the link first, pointing into /lib.
		if err != nil || (got != want && got != strings.TrimPrefix(want, "/usr")) {
			t.Errorf("%s -> %q (%v), want %s", link, got, err, want)
		}
	}
}
