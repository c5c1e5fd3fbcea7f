package bootc

import (
	"bytes"
	"context"
	"testing"
)

const unitDir = "usr/lib/systemd/system/"

func unitTree(extra ...entry) []entry {
	return append([]entry{
		dir("usr/etc", 0),
		file(unitDir+"foo.service", "[Unit]\nDescription=foo\n[Install]\nWantedBy=multi-user.target\n"),
		file(unitDir+"bar.service", "[Service]\nExecStart=/bin/true\n"),
		file(unitDir+"multi.service", "[Install]\nWantedBy=a.target b.target\nWantedBy=c.target\nRequiredBy=d.target\nUpheldBy=e.target\n"),
		file(unitDir+"reset.service", "[Install]\nWantedBy=a.target\nWantedBy=\nWantedBy=sockets.target\n"),
		file(unitDir+"ssh.service", "[Install]\nWantedBy=multi-user.target\nAlias=sshd.service\nAlso=ssh.socket\n"),
		file(unitDir+"ssh.socket", "[Install]\nWantedBy=sockets.target\n"),
		link(unitDir+"sshd.service", "ssh.service"),
		file(unitDir+"getty@.service", "[Install]\nWantedBy=getty.target\nDefaultInstance=tty1\n"),
		file(unitDir+"serial@.service", "[Install]\nWantedBy=getty.target\n"),
		link(unitDir+"masked.service", "/dev/null"),
		file(unitDir+"graphical.target", "[Unit]\n"),
		file(unitDir+"multi-user.target", "[Unit]\n"),
		link(unitDir+"default.target", "graphical.target"),
	}, extra...)
}

func TestPostprocessUnits(t *testing.T) {
	const wants = "usr/etc/systemd/system/"
	tests := []struct {
		units []string
		err   string
		want  map[string]string
	}{
		{units: []string{"foo.service"}, want: map[string]string{wants + "multi-user.target.wants/foo.service": "l /usr/lib/systemd/system/foo.service"}},
		{units: []string{"bar.service"}, want: map[string]string{wants + "multi-user.target.wants/bar.service": "l /usr/lib/systemd/system/bar.service"}},
		{units: []string{"multi.service"}, want: map[string]string{
			wants + "a.target.wants/multi.service":    "l /usr/lib/systemd/system/multi.service",
			wants + "b.target.wants/multi.service":    "l /usr/lib/systemd/system/multi.service",
			wants + "c.target.wants/multi.service":    "l /usr/lib/systemd/system/multi.service",
			wants + "d.target.requires/multi.service": "l /usr/lib/systemd/system/multi.service",
			wants + "e.target.upholds/multi.service":  "l /usr/lib/systemd/system/multi.service",
			wants + "multi-user.target.wants":         "",
		}},
		{units: []string{"reset.service"}, want: map[string]string{
			wants + "sockets.target.wants/reset.service": "l /usr/lib/systemd/system/reset.service",
			wants + "a.target.wants":                     "",
		}},
		{units: []string{"sshd.service"}, want: map[string]string{
			wants + "multi-user.target.wants/ssh.service":  "l /usr/lib/systemd/system/ssh.service",
			wants + "multi-user.target.wants/sshd.service": "",
			wants + "sshd.service":                         "l /usr/lib/systemd/system/ssh.service",
			wants + "sockets.target.wants/ssh.socket":      "l /usr/lib/systemd/system/ssh.socket",
		}},
		{units: []string{"getty@tty2.service", "getty@.service"}, want: map[string]string{
			wants + "getty.target.wants/getty@tty2.service": "l /usr/lib/systemd/system/getty@.service",
			wants + "getty.target.wants/getty@tty1.service": "l /usr/lib/systemd/system/getty@.service",
		}},
		{units: []string{"serial@.service"}, err: "template without DefaultInstance="},
		{units: []string{"masked.service"}, err: "is masked"},
		{units: []string{"nope.service"}, err: "unit nope.service not found"},
		{units: []string{"../x.service"}, err: "not a unit file name"},
	}
	for _, tc := range tests {
		t.Run(tc.units[0], func(t *testing.T) {
			root := mkTree(t, unitTree()...)
			var log bytes.Buffer
			opts := testOptions(&log)
			opts.Units = tc.units
			err := PostprocessUnits(context.Background(), root, opts)
			wantErr(t, err, tc.err)
			if err == nil {
				wantTree(t, root, tc.want)
			}
		})
	}
}

func TestPostprocessUnitsKeepsExistingAndWorksBeforeRename(t *testing.T) {
	root := mkTree(t,
		file(unitDir+"foo.service", "[Install]\nWantedBy=multi-user.target\n"),
		link("etc/systemd/system/multi-user.target.wants/foo.service", "/lib/systemd/system/foo.service"),
	)
	var log bytes.Buffer
	opts := testOptions(&log)
	opts.Units = []string{"foo.service"}
	if err := PostprocessUnits(context.Background(), root, opts); err != nil {
		t.Fatal(err)
	}
	wantTree(t, root, map[string]string{"etc/systemd/system/multi-user.target.wants/foo.service": "l /lib/systemd/system/foo.service"})
}

func TestPostprocessDefaultTarget(t *testing.T) {
	tests := []struct{ target, err string }{
		{target: "multi-user.target"},
		{target: "rescue.target", err: "unit rescue.target not found"},
		{target: "foo.service", err: "not a .target"},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			root := mkTree(t, unitTree(link("usr/etc/systemd/system/default.target", "/usr/lib/systemd/system/graphical.target"))...)
			var log bytes.Buffer
			opts := testOptions(&log)
			opts.DefaultTarget = tc.target
			err := PostprocessDefaultTarget(context.Background(), root, opts)
			wantErr(t, err, tc.err)
			if err == nil {
				wantTree(t, root, map[string]string{
					unitDir + "default.target":              "l /usr/lib/systemd/system/" + tc.target,
					"usr/etc/systemd/system/default.target": "",
				})
			}
		})
	}
}

func TestPostProcessValidatesFirst(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		err  string
	}{
		{"units without machineid-compat", Options{Units: []string{"foo.service"}}, "machineid-compat"},
		{"bad default target", Options{MachineIDCompat: true, DefaultTarget: "x.service"}, "not a .target"},
		{"bad karg", Options{MachineIDCompat: true, Kargs: []string{""}}, "kernel argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := mkTree(t, unitTree(file("etc/passwd", ""))...)
			before := listTree(t, root)
			wantErr(t, PostProcess(context.Background(), root, tc.opts), tc.err)
			if after := listTree(t, root); len(after) != len(before) {
				t.Errorf("tree changed before validation failed")
			}
		})
	}
}

func TestPostprocessPresets(t *testing.T) {
	root := mkTree(t, file(unitDir+"ostree-remount.service", "[Unit]\n"), file(unitDir+"multi-user.target", ""))
	var log bytes.Buffer
	for i := 0; i < 2; i++ {
		if err := postprocessPresets(context.Background(), root, testOptions(&log)); err != nil {
			t.Fatal(err)
		}
	}
	wantTree(t, root, map[string]string{
		unitDir + "multi-user.target.wants/ostree-remount.service":      "l ../ostree-remount.service",
		unitDir + "multi-user.target.wants/ostree-finalize-staged.path": "",
	})
}

// TestPostprocessUnitsDeclaredAlias enables units by names that only an
// [Install] Alias= declares, as Debian trixie ships them: openssh-server
// has ssh.service with Alias=sshd.service and no sshd.service file, and
// its postinst already made the alias link in /etc.
func TestPostprocessUnitsDeclaredAlias(t *testing.T) {
	const sys = "etc/systemd/system/"
	tree := []entry{
		file(unitDir+"ssh.service", "[Unit]\nDescription=OpenBSD Secure Shell server\n[Install]\nWantedBy=multi-user.target\nAlias=sshd.service\n"),
		file(unitDir+"ssh@.service", "[Service]\nExecStart=-/usr/sbin/sshd -i\n"),
		// network-manager's units in trixie
		file(unitDir+"NetworkManager.service", "[Install]\nWantedBy=multi-user.target\nAlso=NetworkManager-dispatcher.service\n\n# comment\nAlso=NetworkManager-wait-online.service\n"),
		file(unitDir+"NetworkManager-dispatcher.service", "[Install]\nAlias=dbus-org.freedesktop.nm-dispatcher.service\n"),
		file(unitDir+"NetworkManager-wait-online.service", "[Install]\nWantedBy=network-online.target\n"),
		file(unitDir+"nm.service", "[Install]\nAlias=dbus-org.example.nm.service\n"),
		file(unitDir+"serial-getty@.service", "[Install]\nWantedBy=getty.target\nAlias=tty@.service\n"),
		file(unitDir+"a.service", "[Install]\nAlias=both.service\n"),
		file(unitDir+"b.service", "[Install]\nAlias=both.service\n"),
		link(unitDir+"dead.service", "/dev/null"),
		link(sys+"sshd.service", "/lib/systemd/system/ssh.service"), // made by deb-systemd-helper
	}
	tests := []struct {
		units []string
		err   string
		want  map[string]string
	}{
		{units: []string{"sshd.service"}, want: map[string]string{
			sys + "multi-user.target.wants/ssh.service":  "l /usr/lib/systemd/system/ssh.service",
			sys + "multi-user.target.wants/sshd.service": "",
			sys + "sshd.service":                         "l /lib/systemd/system/ssh.service",
		}},
		{units: []string{"NetworkManager.service"}, want: map[string]string{
			sys + "multi-user.target.wants/NetworkManager.service":                 "l /usr/lib/systemd/system/NetworkManager.service",
			sys + "dbus-org.freedesktop.nm-dispatcher.service":                     "l /usr/lib/systemd/system/NetworkManager-dispatcher.service",
			sys + "multi-user.target.wants/NetworkManager-dispatcher.service":      "", // D-Bus activated: only its Alias=
			sys + "network-online.target.wants/NetworkManager-wait-online.service": "l /usr/lib/systemd/system/NetworkManager-wait-online.service",
		}},
		{units: []string{"dbus-org.example.nm.service"}, want: map[string]string{
			sys + "multi-user.target.wants/nm.service": "l /usr/lib/systemd/system/nm.service",
			sys + "dbus-org.example.nm.service":        "l /usr/lib/systemd/system/nm.service",
		}},
		{units: []string{"tty@ttyS0.service"}, want: map[string]string{
			sys + "getty.target.wants/serial-getty@ttyS0.service": "l /usr/lib/systemd/system/serial-getty@.service",
		}},
		{units: []string{"both.service"}, err: "Alias=both.service is declared by /usr/lib/systemd/system/a.service and /usr/lib/systemd/system/b.service"},
		{units: []string{"sshd@.service"}, err: "unit sshd@.service not found"},
	}
	for _, tc := range tests {
		t.Run(tc.units[0], func(t *testing.T) {
			root := mkTree(t, tree...)
			var log bytes.Buffer
			opts := testOptions(&log)
			opts.Units = tc.units
			err := PostprocessUnits(context.Background(), root, opts)
			wantErr(t, err, tc.err)
			if err == nil {
				wantTree(t, root, tc.want)
			}
		})
	}
}
