package bootc

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const testKver = "6.12.9+deb13-amd64"

// debianLikeRoot is a small root laid out as an assembled Debian root
// (usr merged, kernel still in /boot) with the leftovers a bootstrap leaves.
func debianLikeRoot(t testing.TB) string {
	return mkTree(t, append(ostreeWithout[2:], // trixie's ostree, without composefs
		link("bin", "usr/bin"), link("sbin", "usr/sbin"), link("lib", "usr/lib"), link("lib64", "usr/lib64"),
		file("usr/bin/sh", "#!"), dir("usr/lib64", 0), dir("usr/sbin", 0),
		file("usr/lib/os-release", "ID=debian\nVERSION_ID=13\n"),
		file("usr/lib/modules/"+testKver+"/modules.dep", ""),
		file("boot/vmlinuz-"+testKver, "kernel"),
		file("boot/initrd.img-"+testKver, "initrd"),
		file("boot/config-"+testKver, "CONFIG_X=y"),
		link("vmlinuz", "boot/vmlinuz-"+testKver),
		link("initrd.img", "boot/initrd.img-"+testKver),
		file(unitDir+"multi-user.target", "[Unit]\n"),
		file(unitDir+"graphical.target", "[Unit]\n"),
		file(unitDir+"ssh.service", "[Install]\nWantedBy=multi-user.target\n"),
		file("usr/lib/tmpfiles.d/var.conf", "q /var 0755 - - -\nL /var/run - - - - ../run\nd /var/log 0755 - - -\n"),
		file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n"),
		file("etc/passwd-", "root:x:0:0:root:/root:/bin/bash\n"),
		file("etc/group", "root:x:0:\nmail:x:8:\n"),
		file("etc/shadow", "root:*:20000:0:99999:7:::\n"),
		file("etc/machine-id", "uninitialized\n"),
		file("etc/default/useradd", "# HOME=/home\n"),
		link("etc/os-release", "../usr/lib/os-release"),
		dir("home", 0), dir("srv", 0), dir("mnt", 0), dir("media", 0),
		dir("root", 0o700), file("root/.bashrc", "# bashrc"),
		file("opt/vendor/bin/tool", "tool"),
		dir("usr/local/bin", 0), link("usr/local/man", "share/man"), dir("usr/local/share/man", 0),
		file("var/lib/dpkg/status", "Package: bash\nStatus: install ok installed\n"),
		file("var/lib/dpkg/lock", ""), file("var/lib/dpkg/status-old", ""),
		file("var/lib/dpkg/alternatives/awk", "auto\n"),
		file("var/lib/dpkg/info/bash.list", "/usr/bin/bash\n"),
		dir("var/lib/dpkg/updates", 0),
		file("var/lib/apt/lists/lock", ""), dir("var/lib/apt/lists/partial", 0o755),
		dir("var/cache/apt/archives/partial", 0o755), // as the apt package ships them
		file("var/cache/apt/pkgcache.bin", ""),
		file("var/cache/debconf/config.dat", "Name: x\n"),
		file("var/log/dpkg.log", "installed"),
		link("var/run", "/run"), link("var/lock", "/run/lock"),
		dir("var/mail", 0o2775), dir("var/tmp", 0o1777),
		dir("dev/pts", 0), file("run/lock/x", ""), dir("proc", 0), dir("sys", 0), dir("tmp", 0o1777),
		file("usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n"),
	)...)
}

func TestPostProcessThenOstreeCommit(t *testing.T) {
	root := debianLikeRoot(t)
	var log bytes.Buffer
	opts := testOptions(&log)
	opts.Units = []string{"ssh.service"}
	opts.DefaultTarget = "multi-user.target"
	opts.TreefileJSON = []byte(`{"ref":"test"}`)
	opts.Kargs = []string{"console=ttyS0"}
	if err := PostProcess(context.Background(), root, opts); err != nil {
		t.Fatalf("%v\nlog:\n%s", err, log.String())
	}
	checkLayout(t, root, testKver)
	wantTree(t, root, map[string]string{
		"usr/lib/modules/" + testKver + "/vmlinuz":       "f 0644 kernel",
		"usr/lib/modules/" + testKver + "/initramfs.img": "f 0644 initrd",
		"usr/lib/modules/" + testKver + "/config":        "f 0644 CONFIG_X=y",
		"vmlinuz": "", "initrd.img": "",
		"usr/etc/passwd-":      "",
		"usr/sbin/policy-rc.d": "",
		"usr/etc/systemd/system/multi-user.target.wants/ssh.service": "l /usr/lib/systemd/system/ssh.service",
		unitDir + "default.target":                                   "l /usr/lib/systemd/system/multi-user.target",
		"usr/etc/default/useradd":                                    "f 0644 # HOME=/home\nHOME=/var/home\n",
		"usr/share/apt-ostree/treefile.json":                         `f 0644 {"ref":"test"}`,
		"usr/lib/opt/vendor/bin/tool":                                "f 0644 tool",
		"usr/share/factory/var/roothome/.bashrc":                     "f 0644 # bashrc",
		"usr/share/dpkg/database/status":                             "f 0644 Package: bash\nStatus: install ok installed\n",
		"usr/share/dpkg/database/alternatives/awk":                   "f 0644 auto\n",
		"usr/share/dpkg/database/lock":                               "",
		"usr/share/dpkg/database/status-old":                         "",
	})
	autovar := readTestFile(t, root, AutovarConf)
	for _, want := range []string{
		"L /var/opt/vendor - - - - ../../usr/lib/opt/vendor",
		"L /var/usrlocal/man - - - - share/man",
		"C /var/roothome/.bashrc 0644 root root - /usr/share/factory/var/roothome/.bashrc",
		"d /var/lib/apt/lists/partial 0700 root root - -",
		"d /var/cache/apt/archives/partial 0700 root root - -",
		"d /var/mail 2775 root root - -",
		"L /var/lock - - - - /run/lock",
	} {
		if !strings.Contains(autovar, want+"\n") {
			t.Errorf("autovar lacks %q:\n%s", want, autovar)
		}
	}
	for _, absent := range []string{"/var/run ", "/var/log ", "/var/roothome ", "/var/lib/dpkg", "/var/usrlocal/bin "} {
		if strings.Contains(autovar, absent) {
			t.Errorf("autovar should leave %q to another file:\n%s", absent, autovar)
		}
	}
	if !strings.Contains(readTestFile(t, root, KargsDir+"/10-apt-ostree.toml"), `kargs = ["console=ttyS0"]`) {
		t.Error("kargs file not written")
	}

	// A second run over the output changes nothing.
	before := listTree(t, root)
	if err := PostProcess(context.Background(), root, opts); err != nil {
		t.Fatalf("second run: %v", err)
	}
	after := listTree(t, root)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("second run changed %s: %q -> %q", k, v, after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("second run added %s", k)
		}
	}

	ostreeCommitAndFsck(t, root)
}

// checkLayout asserts what bootc and ostree require of a post-processed root.
func checkLayout(t *testing.T, root, kver string) {
	t.Helper()
	want := map[string]string{
		"etc": "", "usr/etc": "d 0755",
		"usr/etc/machine-id": "f 0444 ",
		"dev":                "d 0755", "proc": "d 0755", "sys": "d 0755", "run": "d 0755",
		"tmp": "d 1777", "var": "d 0755", "boot": "d 0755", "sysroot": "d 0755",
		"ostree": "l sysroot/ostree",
		"home":   "l var/home", "root": "l var/roothome", "opt": "l var/opt", "srv": "l var/srv",
		"mnt": "l var/mnt", "media": "l run/media", "usr/local": "l ../var/usrlocal",
		// Neither test root carries an ostree built with composefs.
		PrepareRootConfPath: "f 0644 [composefs]\nenabled = maybe\n\n[sysroot]\nreadonly = true\n",
	}
	wantTree(t, root, want)
	for _, d := range []string{"dev", "proc", "sys", "run", "tmp", "var", "boot", "sysroot"} {
		if names, err := os.ReadDir(filepath.Join(root, d)); err != nil || len(names) != 0 {
			t.Errorf("/%s not empty: %v %v", d, names, err)
		}
	}
	integ := readTestFile(t, root, IntegrationConf)
	for _, l := range append(integrationLines, dpkgTmpfilesLine) {
		if !strings.Contains(integ, l+"\n") {
			t.Errorf("integration conf lacks %q", l)
		}
	}
	if kver != "" {
		if got, err := KernelVersion(root); err != nil || got != kver {
			t.Errorf("KernelVersion = %q, %v; want %q", got, err, kver)
		}
	}
}

// needTool returns the path of an external tool, skipping the test when
// it is missing unless CI=true.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func ostreeCommitAndFsck(t *testing.T, root string) {
	t.Helper()
	ostree := needTool(t, "ostree")
	repo := filepath.Join(t.TempDir(), "repo")
	for _, args := range [][]string{
		{"init", "--repo", repo, "--mode", "archive"},
		{"commit", "--repo", repo, "--tree=dir=" + root, "-b", "test", "--no-xattrs"},
		{"fsck", "--repo", repo},
	} {
		out, err := exec.Command(ostree, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ostree %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, err := exec.Command(ostree, "ls", "--repo", repo, "test", "/usr/etc/machine-id", "/ostree").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "/ostree -> sysroot/ostree") {
		t.Errorf("ostree ls: %v\n%s", err, out)
	}
}

func BenchmarkPostProcess(b *testing.B) {
	opts := DefaultOptions()
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	opts.Units = []string{"ssh.service"}
	for b.Loop() {
		b.StopTimer()
		root := debianLikeRoot(b)
		b.StartTimer()
		if err := PostProcess(context.Background(), root, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConfigureSystem runs the System steps on a plain root, as compose
// rootfs does: /etc stays where it is and nothing is laid out for OSTree.
func TestConfigureSystem(t *testing.T) {
	for _, compat := range []bool{true, false} {
		t.Run(fmt.Sprint("machineid-compat=", compat), func(t *testing.T) {
			root := mkTree(t, unitTree(
				dir("etc/systemd/system", 0),
				link("etc/systemd/system/default.target", "/usr/lib/systemd/system/graphical.target"),
				file("etc/machine-id", "0123456789abcdef0123456789abcdef\n"),
				file("var/lib/dbus/machine-id", "0123456789abcdef0123456789abcdef\n"),
				dir("var/cache/apt/archives/partial", 0o755), dir("var/lib/apt/lists/partial", 0o755),
				file("var/cache/apt/pkgcache.bin", "cache"),
				file("boot/vmlinuz-"+testKver, "kernel"),
			)[1:]...) // without usr/etc
			var log bytes.Buffer
			opts := testOptions(&log)
			opts.MachineIDCompat = compat
			if compat {
				opts.Units = []string{"sshd.service"}
			}
			opts.DefaultTarget = "multi-user.target"
			if err := ConfigureSystem(context.Background(), root, opts); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"usr/etc":                           "",
				"etc/machine-id":                    "f 0444 ",
				"var/lib/dbus/machine-id":           "",
				"etc/systemd/system/default.target": "",
				unitDir + "default.target":          "l /usr/lib/systemd/system/multi-user.target",
				"var/cache/apt/archives/partial":    "d 0700",
				"var/lib/apt/lists/partial":         "d 0700",
				// Not ConfigureSystem's business: the OSTree layout.
				"var/cache/apt/pkgcache.bin": "f 0644 cache",
				"boot/vmlinuz-" + testKver:   "f 0644 kernel",
				"sysroot":                    "",
			}
			if compat {
				want["etc/systemd/system/multi-user.target.wants/ssh.service"] = "l /usr/lib/systemd/system/ssh.service"
				want["etc/systemd/system/sshd.service"] = "l /usr/lib/systemd/system/ssh.service"
			} else {
				want["etc/machine-id"] = ""
			}
			wantTree(t, root, want)
		})
	}
}
