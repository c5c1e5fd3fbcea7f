package assemble

import (
	"fmt"
	"path"
	"strings"
)

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
