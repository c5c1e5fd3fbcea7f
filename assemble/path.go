package assemble

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// resolveIn maps rel (a path inside root, with or without a leading "/")
// to a host path, following symlinks as the root would see them: absolute
// targets restart at root and ".." never climbs above it. The last
// component is not followed if it is a symlink, so callers can act on the
// link itself. A missing component ends resolution (the rest is appended).
func resolveIn(root, rel string) (string, error) {
	return resolve(root, rel, false)
}

// resolveFollowIn is resolveIn that also follows a final symlink.
func resolveFollowIn(root, rel string) (string, error) {
	return resolve(root, rel, true)
}

func resolve(root, rel string, followLast bool) (string, error) {
	todo := splitPath(rel)
	var done []string
	links := 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case ".":
			continue
		case "..":
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := filepath.Join(append([]string{root}, append(done, name)...)...)
		if len(todo) == 0 && !followLast {
			done = append(done, name)
			break
		}
		fi, err := os.Lstat(cur)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				done = append(done, name)
				done = append(done, todo...)
				todo = nil
				break
			}
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, name)
			continue
		}
		links++
		if links > 40 {
			return "", fmt.Errorf("%s in %s: too many levels of symbolic links", rel, root)
		}
		target, err := os.Readlink(cur)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(target, "/") {
			done = nil
		}
		todo = append(splitPath(target), todo...)
	}
	return filepath.Join(append([]string{root}, done...)...), nil
}

func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// cleanRel validates a root-relative path given by a user (treefile):
// no "..", and it must not be empty or the root itself.
func cleanRel(p string) (string, error) {
	if strings.Contains("/"+p+"/", "/../") {
		return "", fmt.Errorf("path %q contains \"..\"", p)
	}
	c := strings.TrimPrefix(path.Clean("/"+p), "/")
	if c == "" {
		return "", fmt.Errorf("path %q names the root", p)
	}
	return c, nil
}
