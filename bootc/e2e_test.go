package bootc

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// e2eMirror returns APT_OSTREE_MIRROR, else the first archive URI of the
// host's apt sources (deb822 files first, then sources.list).
func e2eMirror(t *testing.T) string {
	if m := os.Getenv("APT_OSTREE_MIRROR"); m != "" {
		return m
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, stanza := range strings.Split(string(data), "\n\n") {
			var uri string
			archive := false
			for _, line := range strings.Split(stanza, "\n") {
				k, v, _ := strings.Cut(line, ":")
				switch strings.TrimSpace(k) {
				case "URIs":
					if f := strings.Fields(v); len(f) > 0 {
						uri = f[0]
					}
				case "Suites":
					for _, s := range strings.Fields(v) {
						archive = archive || !strings.Contains(s, "-")
					}
				}
			}
			if uri != "" && archive {
				return uri
			}
		}
	}
	if f, err := os.Open("/etc/apt/sources.list"); err == nil {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			fields := strings.Fields(s.Text())
			if len(fields) >= 3 && fields[0] == "deb" && !strings.HasPrefix(fields[1], "[") && !strings.Contains(fields[2], "-") {
				return fields[1]
			}
		}
	}
	t.Fatal("no mirror: set APT_OSTREE_MIRROR or configure apt sources on the host")
	return ""
}

// TestE2EMmdebstrapRoot post-processes a real trixie root made by
// mmdebstrap (no kernel: a container tree) and commits it with ostree.
func TestE2EMmdebstrapRoot(t *testing.T) {
	if os.Getenv("APT_OSTREE_E2E") != "1" {
		t.Skip("set APT_OSTREE_E2E=1 to build a real Debian root with mmdebstrap")
	}
	mmdebstrap := needTool(t, "mmdebstrap")
	needTool(t, "ostree")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	root := filepath.Join(t.TempDir(), "root")
	cmd := exec.CommandContext(ctx, mmdebstrap, "--variant=minbase", "--include=systemd,systemd-sysv",
		"trixie", root, e2eMirror(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mmdebstrap: %v\n%s", err, out)
	}

	var log bytes.Buffer
	opts := testOptions(&log)
	opts.Container = true
	opts.DefaultTarget = "multi-user.target"
	opts.Units = []string{"systemd-networkd.service"}
	if err := PostProcess(ctx, root, opts); err != nil {
		t.Fatalf("%v\nlog:\n%s", err, log.String())
	}
	t.Logf("post-processing log:\n%s", log.String())
	checkLayout(t, root, "")
	if _, err := os.Stat(filepath.Join(root, "usr/share/dpkg/database/status")); err != nil {
		t.Errorf("dpkg status not moved: %v", err)
	}
	if data := readTestFile(t, root, "usr/etc/default/useradd"); !strings.Contains(data, "\nHOME=/var/home\n") {
		t.Errorf("useradd HOME not set:\n%s", data)
	}
	// dpkg-query reads the moved database.
	if out, err := exec.CommandContext(ctx, "dpkg-query", "--admindir="+filepath.Join(root, usrDpkg), "-W", "systemd").CombinedOutput(); err != nil {
		t.Errorf("dpkg-query on the moved database: %v\n%s", err, out)
	}
	ostreeCommitAndFsck(t, root)
}
