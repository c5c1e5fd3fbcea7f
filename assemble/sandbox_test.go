package assemble

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
)

// Issue 10, defect 1: a maintainer script walking /proc/*/root must not
// reach the host's file system, in every sandbox mode. The old chroot
// sandbox mounted a proc of the host's PID namespace, where /proc/1/root is
// the host's "/".
func TestScriptCannotReachHostThroughProc(t *testing.T) {
	for _, mode := range sandboxModes(t) {
		t.Run(mode.String(), func(t *testing.T) {
			hostDir := t.TempDir()
			marker := filepath.Join(hostDir, "escaped")
			root := newRoot(t, testdeb.Package{
				Name: "escape",
				Scripts: map[string]string{"postinst": "#!/bin/sh\n" +
					"test -e /proc/self/status || { echo no proc; exit 1; }\n" +
					"n=0\n" +
					"for d in /proc/[0-9]*; do n=$((n+1)); echo x > \"$d/root" + marker + "\" 2>/dev/null; done\n" +
					"echo \"$n\" > /var/seen-processes\n"},
			})
			if err := Configure(context.Background(), root, Options{Sandbox: mode}); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("the postinst wrote %s on the host through /proc/N/root", marker)
			}
			seen := strings.TrimSpace(readFile(t, filepath.Join(root, "var/seen-processes")))
			if seen == "0" || seen == "" {
				t.Errorf("the postinst saw no process in /proc (%q): proc is not mounted", seen)
			}
			t.Logf("processes visible to the postinst: %s", seen)
		})
	}
}

func TestChooseSandbox(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(&strings.Builder{}, nil))
	auto := SandboxChroot
	if bwrapWorks(ctx) {
		auto = SandboxBwrap
	}
	for _, tc := range []struct {
		root    string
		want    SandboxMode
		got     SandboxMode
		wantErr string
	}{
		{"/", SandboxAuto, SandboxDirect, ""},
		{"/srv/root", SandboxAuto, auto, ""},
		{"/srv/root", SandboxChroot, SandboxChroot, ""},
		{"/", SandboxChroot, SandboxChroot, ""},
		{"/srv/root", SandboxDirect, 0, "the root must be /"},
		{"/", SandboxDirect, SandboxDirect, ""},
	} {
		got, err := chooseSandbox(ctx, tc.root, tc.want, log)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s %s: err %v, want %q", tc.root, tc.want, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.got {
			t.Errorf("%s %s: got %s, %v; want %s", tc.root, tc.want, got, err, tc.got)
		}
	}
	for _, s := range []string{"auto", "bwrap", "chroot", "direct"} {
		var m SandboxMode
		if err := m.Set(s); err != nil || m.String() != s {
			t.Errorf("Set(%q): %s, %v", s, m, err)
		}
	}
	var m SandboxMode
	if err := m.Set("docker"); err == nil {
		t.Error("Set(docker) accepted")
	}
}

// Without a working bwrap, auto falls back to chroot and says so once, at
// warning level, with the reason; asking for bwrap then fails with it.
func TestChrootFallbackAnnounced(t *testing.T) {
	ctx := context.Background()
	saved := probeBwrap
	t.Cleanup(func() { probeBwrap = saved; chrootWarning = sync.Once{} })
	probeBwrap = func(context.Context) error { return errors.New("bwrap: No permissions to create new namespace") }
	chrootWarning = sync.Once{}
	var logged strings.Builder
	log := slog.New(slog.NewTextHandler(&logged, nil))
	for i := 0; i < 3; i++ {
		if mode, err := chooseSandbox(ctx, "/srv/root", SandboxAuto, log); err != nil || mode != SandboxChroot {
			t.Fatalf("got %s, %v", mode, err)
		}
	}
	if n := strings.Count(logged.String(), "level=WARN"); n != 1 || !strings.Contains(logged.String(), "No permissions to create new namespace") {
		t.Errorf("want one warning with the reason, got:\n%s", logged.String())
	}
	if _, err := chooseSandbox(ctx, "/srv/root", SandboxBwrap, log); err == nil || !strings.Contains(err.Error(), "No permissions") {
		t.Errorf("bwrap insisted on: %v", err)
	}
}
