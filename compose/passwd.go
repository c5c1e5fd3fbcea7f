package compose

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/apt-ostree/apt-ostree/ostree"
	"github.com/apt-ostree/apt-ostree/treefile"
)

// accountFiles are the files of the account database that preserve-passwd
// carries over from the previous commit, where /etc is /usr/etc.
var accountFiles = []string{"passwd", "group", "shadow", "gshadow"}

// preservePasswd is the treefile's preserve-passwd with rpm-ostree's
// default: true, except for container: true.
func preservePasswd(tf *treefile.Treefile) bool {
	if tf.PreservePasswd != nil {
		return *tf.PreservePasswd
	}
	return !tf.Container
}

// seedAccounts honours preserve-passwd: before any package is unpacked it
// copies the previous commit's account files (owner and mode kept) into
// root/etc, which must be empty. base-passwd's preinst then leaves them
// alone, and adduser, useradd and systemd-sysusers keep the users and
// groups that already exist, so a user keeps its uid across composes even
// when packages are added and the creation order changes. Users the new
// package set no longer creates stay, as with rpm-ostree. It returns the
// files it copied.
func seedAccounts(ctx context.Context, repo *ostree.Repo, rev, root string) ([]string, error) {
	fsys, err := repo.FS(ctx, rev)
	if err != nil {
		return nil, fmt.Errorf("preserve-passwd: read the previous commit %s: %w", rev, err)
	}
	var copied []string
	for _, name := range accountFiles {
		src := path.Join("usr/etc", name)
		data, err := fs.ReadFile(fsys, src)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("preserve-passwd: read /%s of the previous commit %s: %w", src, rev, err)
		}
		fi, err := fs.Stat(fsys, src)
		if err != nil {
			return nil, fmt.Errorf("preserve-passwd: %w", err)
		}
		st, ok := fi.Sys().(*ostree.FileStat)
		if !ok || !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("preserve-passwd: /%s of the previous commit %s is not a regular file", src, rev)
		}
		if err := writeOwnedFile(filepath.Join(root, "etc", name), data, fs.FileMode(st.Mode&0o777), int(st.Uid), int(st.Gid)); err != nil {
			return nil, fmt.Errorf("preserve-passwd: %w", err)
		}
		copied = append(copied, "/etc/"+name)
	}
	return copied, nil
}

// writeOwnedFile writes data to p (parents 0755) with mode and owner.
func writeOwnedFile(p string, data []byte, mode fs.FileMode, uid, gid int) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	_, err = f.Write(data)
	if err == nil {
		err = f.Chown(uid, gid)
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	return nil
}
