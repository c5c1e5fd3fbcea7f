package bootc

import (
	"context"
	"path"
	"strings"
)

// sshKeygenUnit is the unit that gives each machine its own SSH host keys.
// Debian's openssh-server makes them in its postinst, that is, once per
// image build instead of once per machine; sshd refuses to start without
// them.
const (
	sshKeygenUnit = "apt-ostree-ssh-host-keys.service"
	sshKeygenBody = `# Written by apt-ostree: the image carries no SSH host keys (they would be
# the same on every machine), so each machine makes its own before sshd runs.
[Unit]
Description=Generate the SSH host keys this machine lacks
Documentation=man:ssh-keygen(1)
ConditionPathExists=/usr/bin/ssh-keygen

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A
RemainAfterExit=yes
`
	sshKeygenDropIn = `# Written by apt-ostree: generate this machine's SSH host keys first.
[Unit]
Wants=` + sshKeygenUnit + `
After=` + sshKeygenUnit + `
`
)

// sshdUnits are openssh-server's units that need the host keys: the
// daemon, and the per-connection instances of socket activation.
var sshdUnits = []string{"ssh.service", "sshd@.service"}

// postprocessSSHHostKeys removes the SSH host keys that openssh-server's
// postinst generated during the build: they are one machine's secrets,
// would be shared by every machine of the image, and differ on each
// compose, so the same inputs would not give the same tree. When the tree
// has sshd's units, each gets a drop-in that runs "ssh-keygen -A" (only
// missing keys are made) before it starts.
func postprocessSSHHostKeys(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	etc, err := etcDir(r)
	if err != nil {
		return err
	}
	names, err := r.readDirNames(path.Join(etc, "ssh"))
	if err != nil {
		return err
	}
	var removed []string
	for _, n := range names {
		if strings.HasPrefix(n, "ssh_host_") && (strings.HasSuffix(n, "_key") || strings.HasSuffix(n, "_key.pub")) {
			if err := removeNonDir(r, path.Join(etc, "ssh", n)); err != nil {
				return err
			}
			removed = append(removed, n)
		}
	}
	if len(removed) > 0 {
		opts.log().Info("removed the SSH host keys made during the build; each machine generates its own at boot", "keys", strings.Join(removed, " "))
	}
	hasUnit := false
	for _, u := range sshdUnits {
		for _, dir := range []string{"usr/lib/systemd/system", "lib/systemd/system"} {
			fi, err := r.lstat(path.Join(dir, u))
			if err != nil {
				return err
			}
			if fi == nil {
				continue
			}
			hasUnit = true
			if err := r.writeFile(path.Join("usr/lib/systemd/system", u+".d", "50-apt-ostree-host-keys.conf"), []byte(sshKeygenDropIn), 0o644); err != nil {
				return err
			}
			break
		}
	}
	if !hasUnit {
		return nil
	}
	return r.writeFile(path.Join("usr/lib/systemd/system", sshKeygenUnit), []byte(sshKeygenBody), 0o644)
}
