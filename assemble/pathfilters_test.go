package assemble

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/deb"
	"github.com/apt-ostree/apt-ostree/internal/testdeb"
)

// TestInstallOntoBaseHonoursItsPathFilters: a base composed with
// documentation: false records the filter in dpkg.cfg.d; a package added
// to it later leaves out its documentation too, in both layouts, while
// an empty root (no configuration yet) gets everything.
func TestInstallOntoBaseHonoursItsPathFilters(t *testing.T) {
	docs := testdeb.Package{
		Name:   "docs-thing",
		Fields: map[string]string{"Depends": "base-thing"},
		Files: []testdeb.File{
			{Path: "usr/bin/docs-tool", Body: "d", Mode: 0o755},
			{Path: "usr/share/doc/docs-thing/copyright", Body: "c"},
			{Path: "usr/share/doc/docs-thing/README", Body: "r"},
			{Path: "usr/share/man/man1/docs-tool.1.gz", Body: "m"},
		},
	}
	exclude, include := deb.DocExcludes(false, nil)
	for _, layout := range []string{"plain", "post-processed"} {
		t.Run(layout, func(t *testing.T) {
			root := newRoot(t)
			if _, err := install(t, root, InstallOptions{Arch: "amd64"}, basePkg); err != nil {
				t.Fatal(err)
			}
			if err := deb.WriteDocExcludesConfig(root, exclude, include); err != nil {
				t.Fatal(err)
			}
			admin := "var/lib/dpkg"
			if layout == "post-processed" {
				postProcess(t, root)
				admin = "usr/share/dpkg/database"
			}
			if _, err := install(t, root, InstallOptions{}, docs); err != nil {
				t.Fatal(err)
			}
			for f, want := range map[string]bool{
				"usr/bin/docs-tool":                  true,
				"usr/share/doc/docs-thing/copyright": true,
				"usr/share/doc/docs-thing/README":    false,
				"usr/share/man/man1/docs-tool.1.gz":  false,
			} {
				if _, err := os.Lstat(filepath.Join(root, f)); (err == nil) != want {
					t.Errorf("/%s: present %v, want %v", f, err == nil, want)
				}
			}
			// dpkg lists what its filters left out.
			if list := readFile(t, filepath.Join(root, admin, "info/docs-thing.list")); !strings.Contains(list, "/usr/share/doc/docs-thing/README\n") {
				t.Errorf("docs-thing.list:\n%s", list)
			}
		})
	}
}
