package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestComposeContainerEncapsulate: a committed bootc tree becomes an image
// that skopeo reads with our labels and that our own lint passes.
func TestComposeContainerEncapsulate(t *testing.T) {
	root := bootcTree(t)
	// What systemd ships: the image's /var/tmp (which ostree-ext adds) has its entry.
	if err := os.WriteFile(filepath.Join(root, "usr/lib/tmpfiles.d/tmp.conf"), []byte("q /var/tmp 1777 root root 30d\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	repo := filepath.Join(work, "repo")
	md := filepath.Join(work, "md.json")
	if err := os.WriteFile(md, []byte(`{"ostree.bootable": true, "ostree.linux": "6.1.0-1-amd64", "version": "1.2"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1704067200")
	if out, err := runCLI(t, "compose", "commit", "--repo", repo, "--branch", "os", "--add-metadata-from-json", md, root); err != nil {
		t.Fatalf("compose commit: %v\n%s", err, out)
	}
	cfg := filepath.Join(work, "config.json")
	if err := os.WriteFile(cfg, []byte(`{"Env": ["A=b"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	dest := "oci:" + filepath.Join(work, "img") + ":latest"
	out, err := runCLI(t, "compose", "container-encapsulate", "--repo", repo, "--label", "x.y=z", "--image-config", cfg, "--cmd", "/sbin/init", "os", dest)
	if err != nil {
		t.Fatalf("container-encapsulate: %v\n%s", err, out)
	}
	if !strings.Contains(out, "sha256:") {
		t.Errorf("output %q has no digest", out)
	}
	if out, err := runCLI(t, "lint", "--fatal-warnings", dest); err != nil {
		t.Errorf("lint of the image: %v\n%s", err, out)
	}
	zdest := "oci-archive:" + filepath.Join(work, "img.tar") + ":z"
	if out, err := runCLI(t, "compose", "container-encapsulate", "--repo", repo, "--compression", "zstd", "os", zdest); err != nil {
		t.Fatalf("container-encapsulate --compression zstd: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "lint", "--fatal-warnings", zdest); err != nil {
		t.Errorf("lint of the zstd image: %v\n%s", err, out)
	}
	if _, err := exec.LookPath("skopeo"); err == nil {
		raw, err := exec.Command("skopeo", "inspect", "--config", dest).Output()
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Config struct {
				Env    []string
				Cmd    []string
				Labels map[string]string
			}
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			t.Fatal(err)
		}
		if c.Config.Labels["x.y"] != "z" || c.Config.Labels["containers.bootc"] != "1" || c.Config.Labels["org.opencontainers.image.version"] != "1.2" {
			t.Errorf("labels %v", c.Config.Labels)
		}
		if strings.Join(c.Config.Env, " ") != "A=b" || strings.Join(c.Config.Cmd, " ") != "/sbin/init" {
			t.Errorf("config %+v", c.Config)
		}
	}
	for _, tc := range []struct{ label, dest, want string }{
		{"a=b", "docker://127.0.0.1:5000/x:y", "oci:DIR[:TAG] or oci-archive:FILE[:TAG]"},
		{"novalue", "oci:" + work + "/img2", "KEY=VALUE"},
	} {
		_, err := runCLI(t, "compose", "container-encapsulate", "--repo", repo, "--label", tc.label, "os", tc.dest)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.dest, err, tc.want)
		}
	}
}
