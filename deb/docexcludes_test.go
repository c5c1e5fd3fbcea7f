package deb

import (
	"bufio"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
	"github.com/google/go-cmp/cmp"
)

func TestDocExcludes(t *testing.T) {
	tests := []struct {
		name          string
		documentation bool
		langs         []string
		exclude       []string
		include       []string
	}{
		{name: "defaults", documentation: true},
		{name: "all languages", documentation: true, langs: []string{"de", "all"}},
		{
			name:    "no documentation",
			exclude: []string{"/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*"},
			include: []string{"/usr/share/doc/*/copyright"},
		},
		{
			name: "no documentation, en_US", langs: []string{"en_US"},
			exclude: []string{"/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*/*"},
			include: []string{"/usr/share/doc/*/copyright",
				"/usr/share/locale/en/*", "/usr/share/locale/en.*", "/usr/share/locale/en@*",
				"/usr/share/locale/en_US/*", "/usr/share/locale/en_US.*", "/usr/share/locale/en_US@*"},
		},
		{
			name: "documentation, codeset and modifier stripped, duplicates merged", documentation: true,
			langs:   []string{"sr@latin", "pt_BR.UTF-8", "pt"},
			exclude: []string{"/usr/share/locale/*/*", "/usr/share/man/*"},
			include: []string{"/usr/share/man/man*",
				"/usr/share/locale/pt/*", "/usr/share/locale/pt.*", "/usr/share/locale/pt@*",
				"/usr/share/locale/pt_BR/*", "/usr/share/locale/pt_BR.*", "/usr/share/locale/pt_BR@*",
				"/usr/share/locale/sr/*", "/usr/share/locale/sr.*", "/usr/share/locale/sr@*",
				"/usr/share/man/pt/*", "/usr/share/man/pt.*", "/usr/share/man/pt@*",
				"/usr/share/man/pt_BR/*", "/usr/share/man/pt_BR.*", "/usr/share/man/pt_BR@*",
				"/usr/share/man/sr/*", "/usr/share/man/sr.*", "/usr/share/man/sr@*"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, in := DocExcludes(tt.documentation, tt.langs)
			if diff := cmp.Diff(tt.exclude, ex); diff != "" {
				t.Errorf("exclude (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.include, in); diff != "" {
				t.Errorf("include (-want +got):\n%s", diff)
			}
		})
	}
}

// docFixture is a package with documentation, manual pages and
// translations in the places Debian packages put them.
var docFixture = testdeb.Package{
	Name: "docs",
	Files: []testdeb.File{
		{Path: "usr/bin/docs", Mode: 0o755, Body: "#!/bin/sh\n"},
		{Path: "usr/share/doc/docs/copyright", Body: "c\n"},
		{Path: "usr/share/doc/docs/changelog.Debian.gz", Body: "c\n"},
		{Path: "usr/share/doc/docs/examples/x.conf", Body: "x\n"},
		{Path: "usr/share/doc/docs-data", Type: '2', Link: "docs"},
		{Path: "usr/share/man/man1/docs.1.gz", Body: "m\n"},
		{Path: "usr/share/man/de/man1/docs.1.gz", Body: "m\n"},
		{Path: "usr/share/man/en/man1/docs.1.gz", Body: "m\n"},
		{Path: "usr/share/info/docs.info.gz", Body: "i\n"},
		{Path: "usr/share/locale/locale.alias", Body: "a\n"},
		{Path: "usr/share/locale/de/LC_MESSAGES/docs.mo", Body: "m\n"},
		{Path: "usr/share/locale/en/LC_MESSAGES/docs.mo", Body: "m\n"},
		{Path: "usr/share/locale/en@quot/LC_MESSAGES/docs.mo", Body: "m\n"},
		{Path: "usr/share/locale/en_GB/LC_MESSAGES/docs.mo", Body: "m\n"},
		{Path: "usr/share/locale/en_US/LC_MESSAGES/docs.mo", Body: "m\n"},
		{Path: "usr/share/locale/pt_BR/LC_MESSAGES/docs.mo", Body: "m\n"},
	},
}

// TestDocExcludesWithDpkg lets the real dpkg judge the rules: the package
// is installed with the options dpkg reads from the written config file,
// and what lands on disk is compared with what the treefile asked for.
func TestDocExcludesWithDpkg(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("dpkg is not installed")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root (dpkg --root installs with the package's owners)")
	}
	deb, err := testdeb.Write(t.TempDir(), docFixture)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		documentation bool
		langs         []string
		want          []string // non-directories installed
	}{
		{
			name:  "no documentation, en_US",
			langs: []string{"en_US"},
			want: []string{"usr/bin/docs", "usr/share/doc/docs-data", "usr/share/doc/docs/copyright",
				"usr/share/locale/en/LC_MESSAGES/docs.mo", "usr/share/locale/en@quot/LC_MESSAGES/docs.mo",
				"usr/share/locale/en_US/LC_MESSAGES/docs.mo", "usr/share/locale/locale.alias"},
		},
		{
			name: "documentation, pt_BR", documentation: true, langs: []string{"pt_BR"},
			want: []string{"usr/bin/docs", "usr/share/doc/docs-data", "usr/share/doc/docs/changelog.Debian.gz",
				"usr/share/doc/docs/copyright", "usr/share/doc/docs/examples/x.conf", "usr/share/info/docs.info.gz",
				"usr/share/locale/locale.alias", "usr/share/locale/pt_BR/LC_MESSAGES/docs.mo", "usr/share/man/man1/docs.1.gz"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(root, "var/lib/dpkg/status"), nil, 0o644); err != nil {
				t.Fatal(err)
			}
			ex, in := DocExcludes(tt.documentation, tt.langs)
			if err := WriteDocExcludesConfig(root, ex, in); err != nil {
				t.Fatal(err)
			}
			// dpkg turns each config line "opt=value" into "--opt=value".
			args := []string{"--root=" + root, "--log=/dev/null", "--force-not-root", "--force-script-chrootless"}
			f, err := os.Open(filepath.Join(root, DocExcludesConfig))
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
					args = append(args, "--"+line)
				}
			}
			f.Close()
			args = append(args, "-i", deb)
			if out, err := exec.Command("dpkg", args...).CombinedOutput(); err != nil {
				t.Fatalf("dpkg %v: %v\n%s", args, err, out)
			}
			var got []string
			err = filepath.WalkDir(filepath.Join(root, "usr"), func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() {
					rel, _ := filepath.Rel(root, p)
					got = append(got, rel)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("installed (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteDocExcludesConfig(t *testing.T) {
	root := t.TempDir()
	if err := WriteDocExcludesConfig(root, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "etc")); !os.IsNotExist(err) {
		t.Errorf("no filters must write nothing: %v", err)
	}
	if err := WriteDocExcludesConfig(root, []string{"/usr/share/doc/*"}, []string{"/usr/share/doc/*/copyright"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, DocExcludesConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := "# Written by apt-ostree from the treefile's documentation and install-langs:\n" +
		"# dpkg leaves these paths out when it installs or upgrades a package.\n" +
		"path-exclude=/usr/share/doc/*\npath-include=/usr/share/doc/*/copyright\n"
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	fi, _ := os.Stat(filepath.Join(root, DocExcludesConfig))
	if fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", fi.Mode())
	}
	entries, _ := os.ReadDir(filepath.Dir(filepath.Join(root, DocExcludesConfig)))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}
