package bootc

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestPostprocessSSHHostKeys(t *testing.T) {
	const dropIn = "f 0644 " + sshKeygenDropIn
	for _, tc := range []struct {
		name   string
		logged bool // the removal is announced
		ents   []entry
		want   map[string]string
	}{{
		name:   "openssh-server's keys and units",
		logged: true,
		ents: []entry{
			file("usr/etc/ssh/ssh_host_ed25519_key", "secret"),
			file("usr/etc/ssh/ssh_host_ed25519_key.pub", "public"),
			file("usr/etc/ssh/ssh_host_rsa_key", "secret"),
			file("usr/etc/ssh/sshd_config", "config"),
			file("usr/etc/ssh/moduli", "moduli"),
			file(unitDir+"ssh.service", "[Service]\nExecStart=/usr/sbin/sshd -D\n"),
			file(unitDir+"sshd@.service", "[Service]\nExecStart=-/usr/sbin/sshd -i\n"),
		},
		want: map[string]string{
			"usr/etc/ssh/ssh_host_ed25519_key":                       "",
			"usr/etc/ssh/ssh_host_ed25519_key.pub":                   "",
			"usr/etc/ssh/ssh_host_rsa_key":                           "",
			"usr/etc/ssh/sshd_config":                                "f 0644 config",
			"usr/etc/ssh/moduli":                                     "f 0644 moduli",
			unitDir + "ssh.service.d/50-apt-ostree-host-keys.conf":   dropIn,
			unitDir + "sshd@.service.d/50-apt-ostree-host-keys.conf": dropIn,
			unitDir + sshKeygenUnit:                                  "f 0644 " + sshKeygenBody,
		},
	}, {
		name: "client only, plain root",
		ents: []entry{dir("etc/ssh", 0o755), file("etc/ssh/ssh_config", "client")},
		want: map[string]string{
			"etc/ssh/ssh_config":    "f 0644 client",
			unitDir + sshKeygenUnit: "",
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			root := mkTree(t, tc.ents...)
			var log bytes.Buffer
			for range 2 { // a step may run again on its own output
				if err := postprocessSSHHostKeys(context.Background(), root, testOptions(&log)); err != nil {
					t.Fatal(err)
				}
			}
			wantTree(t, root, tc.want)
			if strings.Contains(log.String(), "ssh_host_ed25519_key") != tc.logged {
				t.Errorf("log: %s", log.String())
			}
		})
	}
}
