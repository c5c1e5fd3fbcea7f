package bootc

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestTmpfilesQuoteRoundTrip(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/var/lib/apt", "/var/lib/apt"},
		{"/var/lib/a b", `"/var/lib/a b"`},
		{`/var/lib/q"uote`, `"/var/lib/q\x22uote"`},
		{`/var/lib/back\slash`, `"/var/lib/back\\slash"`},
		{"/var/lib/100%", `"/var/lib/100%%"`},
		{"/var/lib/tab\there", `"/var/lib/tab\x09here"`},
		{"/var/lib/café", `"/var/lib/café"`},
		{"/var/lib/x;rm", `"/var/lib/x;rm"`},
	}
	for _, tc := range tests {
		got := tmpfilesQuote(tc.in)
		if got != tc.want {
			t.Errorf("tmpfilesQuote(%q) = %s, want %s", tc.in, got, tc.want)
		}
		typ, p, ok := parseTmpfilesLine("d " + got + " 0755 root root - -")
		if !ok || typ != "d" || p != tc.in {
			t.Errorf("parse back %s: got %q %q %v", got, typ, p, ok)
		}
	}
}

func TestParseTmpfilesLine(t *testing.T) {
	tests := []struct{ line, typ, path string }{
		{"d /var/log 0755 - - -", "d", "/var/log"},
		{"  L+ /var/run - - - - ../run", "L+", "/var/run"},
		{"d %S/private 0700", "d", "/var/lib/private"},
		{"d %C/x", "d", "/var/cache/x"},
		{"d '/var/a b' 0755", "d", "/var/a b"},
		{"# comment", "", ""},
		{"", "", ""},
		{"d", "", ""},
	}
	for _, tc := range tests {
		typ, p, _ := parseTmpfilesLine(tc.line)
		if typ != tc.typ || p != tc.path {
			t.Errorf("%q: got %q %q, want %q %q", tc.line, typ, p, tc.typ, tc.path)
		}
	}
}

func TestWriteIntegrationTmpfiles(t *testing.T) {
	for _, withDpkg := range []bool{false, true} {
		ents := []entry{dir("usr/lib", 0)}
		if withDpkg {
			ents = append(ents, file("usr/share/dpkg/database/status", ""))
		}
		root := mkTree(t, ents...)
		var log bytes.Buffer
		if err := writeIntegrationTmpfiles(context.Background(), root, testOptions(&log)); err != nil {
			t.Fatal(err)
		}
		got := readTestFile(t, root, IntegrationConf)
		for _, want := range []string{
			"d /var/home 0755 root root - -", "d /var/roothome 0700 root root - -", "d /var/srv 0755 root root - -",
			"d /var/mnt 0755 root root - -", "d /var/opt 0755 root root - -", "d /var/usrlocal 0755 root root - -",
			"d /var/usrlocal/src 0755 root root - -", "d /run/media 0755 root root - -",
		} {
			if !strings.Contains(got, want+"\n") {
				t.Errorf("missing %q in\n%s", want, got)
			}
		}
		if strings.Contains(got, dpkgTmpfilesLine) != withDpkg {
			t.Errorf("dpkg line present = %v, want %v:\n%s", !withDpkg, withDpkg, got)
		}
	}
}

func TestConvertVarToTmpfilesD(t *testing.T) {
	root := mkTree(t,
		file("usr/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n_apt:x:42:65534::/nonexistent:/usr/sbin/nologin\n"),
		file("usr/etc/group", "root:x:0:\nmail:x:8:\n"),
		file("usr/lib/tmpfiles.d/var.conf", "q /var 0755 - - -\nL /var/run - - - - ../run\nd /var/log 0755 - - -\nz /var/cache 0755 - - -\n"),
		file("usr/etc/tmpfiles.d/local.conf", "d %S/private 0700\n"),
		file("usr/lib/tmpfiles.d/home.conf", "d /root/.ssh 0700\n"),
		file(IntegrationConf, strings.Join(integrationLines, "\n")+"\n"),
		link("root", "var/roothome"),
		dir("var/roothome/.ssh", 0o700),
		file("var/roothome/.bashrc", "rc"),
		file("var/usrlocal/bin/tool", "t"),
		link("var/run", "/run"),
		link("var/lock", "/run/lock"),
		file("var/log/dpkg.log", "log"),
		file("var/log/wtmp", ""),
		dir("var/lib/private", 0o700),
		dir("var/cache/apt/archives/partial", 0o700),
		dir("var/mail", 0o2775),
		dir("var/tmp", 0o1777),
		dir("var/lib/with space", 0),
		file("var/lib/nfs/etab", ""),
		file("var/lib/systemd/random-seed", "seed"),
		link("var/opt/vendor", "../../usr/lib/opt/vendor"),
	)
	chown := func(rel string, uid, gid int) {
		if err := os.Lchown(filepath.Join(root, rel), uid, gid); err != nil {
			if errors.Is(err, syscall.EPERM) && os.Getenv("CI") != "true" {
				t.Skipf("chown not permitted: %v", err)
			}
			t.Fatal(err)
		}
	}
	chown("var/cache/apt/archives/partial", 42, 0)
	chown("var/mail", 0, 8)
	chown("var/tmp", 0, 4242)

	var log bytes.Buffer
	if err := convertVarToTmpfilesD(context.Background(), root, testOptions(&log)); err != nil {
		t.Fatal(err)
	}
	want := strings.Join([]string{
		"# Written by apt-ostree from the content of /var at compose time.",
		"C /var/roothome/.bashrc 0644 root root - /usr/share/factory/var/roothome/.bashrc",
		"C /var/usrlocal/bin/tool 0644 root root - /usr/share/factory/var/usrlocal/bin/tool",
		"L /var/lock - - - - /run/lock",
		"L /var/opt/vendor - - - - ../../usr/lib/opt/vendor",
		`d "/var/lib/with space" 0755 root root - -`,
		"d /var/cache 0755 root root - -",
		"d /var/cache/apt 0755 root root - -",
		"d /var/cache/apt/archives 0755 root root - -",
		"d /var/cache/apt/archives/partial 0700 _apt root - -",
		"d /var/lib 0755 root root - -",
		"d /var/lib/nfs 0755 root root - -",
		"d /var/lib/systemd 0755 root root - -",
		"d /var/mail 2775 root mail - -",
		"d /var/tmp 1777 root 4242 - -",
		"f /var/lib/nfs/etab 0644 root root - -",
		"",
	}, "\n")
	// Not there: /var and /var/log (var.conf creates them; its z line for
	// /var/cache creates nothing), /var/run (var.conf), /var/lib/private
	// (etc/tmpfiles.d via %S), /var/roothome/.ssh (home.conf through the
	// /root link), /var/roothome, /var/usrlocal{,/bin}, /var/opt
	// (integration conf).
	if got := readTestFile(t, root, AutovarConf); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	wantTree(t, root, map[string]string{
		"var":                                    "d 0755",
		"var/log":                                "",
		"usr/share/factory/var/roothome/.bashrc": "f 0644 rc",
		"usr/share/factory/var/usrlocal/bin/tool": "f 0644 t",
	})
	if fi, err := os.Stat(filepath.Join(root, AutovarConf)); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("autovar mode %v (%v), want 0644", fi.Mode(), err)
	}
	for _, w := range []string{"path=/var/log/dpkg.log", "group=4242"} {
		if !strings.Contains(log.String(), w) {
			t.Errorf("log lacks %q:\n%s", w, log.String())
		}
	}
	if strings.Contains(log.String(), "random-seed") || strings.Contains(log.String(), "wtmp") {
		t.Errorf("known state files should go without notice:\n%s", log.String())
	}

	// A second run finds /var empty and keeps what the first one wrote.
	if err := convertVarToTmpfilesD(context.Background(), root, testOptions(&log)); err != nil {
		t.Fatal(err)
	}
	if got := readTestFile(t, root, AutovarConf); got != want {
		t.Errorf("second run changed the file to\n%s", got)
	}
}

func TestConvertVarRunDirectory(t *testing.T) {
	root := mkTree(t, file("usr/etc/passwd", "root:x:0:0::/root:/bin/sh\n"), file("usr/etc/group", "root:x:0:\n"),
		file("var/run/daemon.pid", "1"))
	var log bytes.Buffer
	if err := convertVarToTmpfilesD(context.Background(), root, testOptions(&log)); err != nil {
		t.Fatal(err)
	}
	if got := readTestFile(t, root, AutovarConf); !strings.Contains(got, "L /var/run - - - - ../run\n") || strings.Contains(got, "daemon") {
		t.Errorf("got\n%s", got)
	}
}
