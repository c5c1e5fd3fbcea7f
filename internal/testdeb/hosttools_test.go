package testdeb

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestHostToolFiles(t *testing.T) {
	files, err := HostToolFiles([]string{"sh", "ldconfig", "sh", "ls"})
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]HostFile{}
	var libc bool
	for _, f := range files {
		if _, dup := byPath[f.Path]; dup {
			t.Errorf("%s listed twice", f.Path)
		}
		byPath[f.Path] = f
		if !strings.HasPrefix(f.Path, "usr/") {
			t.Errorf("%s (from %s) is not under usr/", f.Path, f.Src)
		}
		if strings.HasPrefix(strings.TrimPrefix(f.Path, "usr/"), "lib") && strings.Contains(f.Path, "libc.so") {
			libc = true
		}
	}
	for _, want := range []string{"usr/bin/sh", "usr/sbin/ldconfig", "usr/bin/ls"} {
		if _, ok := byPath[want]; !ok {
			t.Errorf("no %s in %v", want, files)
		}
	}
	if !libc {
		t.Errorf("ls's libc is not listed: %v", files)
	}
	b, mode, err := byPath["usr/bin/ls"].Read()
	if err != nil {
		t.Fatal(err)
	}
	host, err := os.ReadFile(byPath["usr/bin/ls"].Src)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, host) || mode&0o111 == 0 {
		t.Errorf("ls read as %d bytes mode %v; host has %d bytes", len(b), mode, len(host))
	}
}

func TestHostToolFilesMissingTool(t *testing.T) {
	_, err := HostToolFiles([]string{"sh", "apt-ostree-no-such-tool"})
	if err == nil || !strings.Contains(err.Error(), "apt-ostree-no-such-tool") {
		t.Fatalf("got %v, want an error naming the missing tool", err)
	}
}
