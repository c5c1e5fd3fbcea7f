package bootc

import (
	"bytes"
	"context"
	"testing"
)

func TestRenameEtc(t *testing.T) {
	tests := []struct {
		name string
		tree []entry
		err  string
	}{
		{name: "etc", tree: []entry{file("etc/passwd", "p")}},
		{name: "already usr/etc", tree: []entry{file("usr/etc/passwd", "p")}},
		{name: "both", tree: []entry{file("etc/passwd", "p"), dir("usr/etc", 0)}, err: "both /etc and /usr/etc"},
		{name: "none", tree: []entry{dir("usr", 0)}, err: "has no /etc"},
		{name: "etc symlink", tree: []entry{link("etc", "usr/etc2"), dir("usr/etc2", 0)}, err: "not a directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := mkTree(t, tc.tree...)
			var log bytes.Buffer
			err := renameEtc(context.Background(), root, testOptions(&log))
			wantErr(t, err, tc.err)
			if err == nil {
				wantTree(t, root, map[string]string{"etc": "", "usr/etc/passwd": "f 0644 p"})
			}
		})
	}
}

// dashStatus is a status file with one installed package.
const dashStatus = "Package: dash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 0.5.12-12\n"

func TestCleanupLeftoverFiles(t *testing.T) {
	tests := []struct {
		name string
		tree []entry
		want map[string]string
	}{
		{
			name: "debian root",
			tree: []entry{
				file("usr/etc/passwd", "p"), file("usr/etc/passwd-", "old"), file("usr/etc/.pwd.lock", ""),
				file("usr/etc/group-", ""), file("usr/etc/shadow-", ""), file("usr/etc/gshadow-", ""),
				file("usr/etc/subuid-", ""), file("usr/etc/subgid-", ""),
				file("var/lib/dpkg/status", dashStatus), file("var/lib/dpkg/status-old", ""), file("var/lib/dpkg/diversions-old", ""),
				file("var/lib/dpkg/lock", ""), file("var/lib/dpkg/lock-frontend", ""), file("var/lib/dpkg/triggers/Lock", ""),
				file("var/lib/dpkg/triggers/File", "f"),
				file("var/lib/apt/lists/deb_dists_trixie_InRelease", ""), file("var/lib/apt/lists/lock", ""),
				file("var/lib/apt/lists/partial/x", ""), file("var/lib/apt/extended_states", "e"),
				file("var/cache/apt/pkgcache.bin", ""), file("var/cache/apt/srcpkgcache.bin", ""),
				file("var/cache/apt/archives/bash_5.2_amd64.deb", ""), file("var/cache/apt/archives/lock", ""),
				file("var/lib/dpkg/info/dash.list", "/usr/bin/dash\n"),
				file("usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n"),
			},
			want: map[string]string{
				"usr/etc/passwd": "f 0644 p", "usr/etc/passwd-": "", "usr/etc/.pwd.lock": "", "usr/etc/group-": "",
				"usr/etc/shadow-": "", "usr/etc/gshadow-": "", "usr/etc/subuid-": "", "usr/etc/subgid-": "",
				"var/lib/dpkg/status": "f 0644 " + dashStatus, "var/lib/dpkg/status-old": "", "var/lib/dpkg/diversions-old": "",
				"var/lib/dpkg/lock": "", "var/lib/dpkg/lock-frontend": "", "var/lib/dpkg/triggers/Lock": "",
				"var/lib/dpkg/triggers/File":                   "f 0644 f",
				"var/lib/apt/lists/deb_dists_trixie_InRelease": "",
				"var/lib/apt/lists/lock":                       "",
				"var/lib/apt/lists/partial":                    "d 0755",
				"var/lib/apt/lists/partial/x":                  "",
				"var/lib/apt/extended_states":                  "f 0644 e",
				"var/cache/apt/pkgcache.bin":                   "",
				"var/cache/apt/srcpkgcache.bin":                "",
				"var/cache/apt/archives/bash_5.2_amd64.deb":    "",
				"var/cache/apt/archives/lock":                  "",
				"usr/sbin/policy-rc.d":                         "",
			},
		},
		{
			name: "packaged policy-rc.d and moved dpkg database",
			tree: []entry{
				file("usr/etc/passwd", "p"),
				file("usr/share/dpkg/database/status", "Package: policy-rcd-declarative\nStatus: install ok installed\nArchitecture: all\nVersion: 1\n"),
				file("usr/share/dpkg/database/status-old", ""),
				file("usr/share/dpkg/database/info/policy-rcd-declarative.list", "/usr\n/usr/sbin\n/usr/sbin/policy-rc.d\n"),
				file("usr/sbin/policy-rc.d", "x"),
			},
			want: map[string]string{"usr/sbin/policy-rc.d": "f 0644 x", "usr/share/dpkg/database/status-old": ""},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := mkTree(t, tc.tree...)
			var log bytes.Buffer
			if err := cleanupLeftoverFiles(context.Background(), root, testOptions(&log)); err != nil {
				t.Fatal(err)
			}
			wantTree(t, root, tc.want)
		})
	}
}

func TestPostprocessUseradd(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"debian commented", "# HOME=/home\nSHELL=/bin/sh\n", "# HOME=/home\nSHELL=/bin/sh\nHOME=/var/home\n"},
		{"set", "GROUP=100\nHOME=/home\nINACTIVE=-1", "GROUP=100\nHOME=/var/home\nINACTIVE=-1\n"},
		{"already", "HOME=/var/home\n", "HOME=/var/home\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := mkTree(t, file("usr/etc/default/useradd", tc.in))
			var log bytes.Buffer
			if err := postprocessUseradd(context.Background(), root, testOptions(&log)); err != nil {
				t.Fatal(err)
			}
			if got := readTestFile(t, root, "usr/etc/default/useradd"); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	root := mkTree(t, dir("usr/etc", 0))
	var log bytes.Buffer
	if err := postprocessUseradd(context.Background(), root, testOptions(&log)); err != nil {
		t.Fatalf("no useradd file: %v", err)
	}
	wantTree(t, root, map[string]string{"usr/etc/default/useradd": ""})
}

func TestPostprocessMachineID(t *testing.T) {
	for _, compat := range []bool{true, false} {
		root := mkTree(t, file("usr/etc/machine-id", "0123456789abcdef0123456789abcdef\n"), file("var/lib/dbus/machine-id", "0123\n"))
		var log bytes.Buffer
		opts := testOptions(&log)
		opts.MachineIDCompat = compat
		if err := postprocessMachineID(context.Background(), root, opts); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"usr/etc/machine-id": "f 0444 ", "var/lib/dbus/machine-id": ""}
		if !compat {
			want["usr/etc/machine-id"] = ""
		}
		wantTree(t, root, want)
	}
}
