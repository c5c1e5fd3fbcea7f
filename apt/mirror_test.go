package apt

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestHostMirrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		want    Mirrors
		wantErr string
	}{
		{
			name: "deb822",
			files: map[string]string{"etc/apt/sources.list.d/debian.sources": `# comment
Types: deb deb-src
URIs: http://127.0.0.1:9/debian/
Suites: trixie trixie-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://127.0.0.1:9/debian-security
Suites: trixie-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`},
			want: Mirrors{Archive: "http://127.0.0.1:9/debian", Security: "http://127.0.0.1:9/debian-security",
				ArchiveFile: "etc/apt/sources.list.d/debian.sources", SecurityFile: "etc/apt/sources.list.d/debian.sources"},
		},
		{
			name: "one-line with options, third-party repos ignored",
			files: map[string]string{
				"etc/apt/sources.list": `# deb http://127.0.0.1:1/debian trixie main
deb-src http://127.0.0.1:2/debian trixie main
deb [arch=amd64 signed-by=/usr/share/keyrings/other.gpg] https://127.0.0.1:3/apt stable main
deb [ signed-by=/usr/share/keyrings/debian-archive-keyring.gpg ] http://127.0.0.1:4/mirror trixie main contrib
deb http://127.0.0.1:5/debian-security trixie-security main # trailing comment
deb http://127.0.0.1:6/debian trixie main
`,
				// Only *.list and *.sources are read.
				"etc/apt/sources.list.d/x.list.disabled": "deb http://127.0.0.1:7/debian trixie main\n",
			},
			want: Mirrors{Archive: "http://127.0.0.1:4/mirror", Security: "http://127.0.0.1:5/debian-security",
				ArchiveFile: "etc/apt/sources.list", SecurityFile: "etc/apt/sources.list"},
		},
		{
			name: "disabled deb822 entry and inline key",
			files: map[string]string{
				"etc/apt/sources.list.d/a.sources": `Types: deb
URIs: http://127.0.0.1:1/debian
Suites: trixie
Enabled: no

Types: deb
URIs: http://127.0.0.1:2/debian
Suites: bookworm
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBF...
 -----END PGP PUBLIC KEY BLOCK-----
`,
				"etc/apt/sources.list.d/b.list": "deb http://127.0.0.1:3/debian-security bookworm/updates main\n",
			},
			want: Mirrors{Archive: "http://127.0.0.1:2/debian", Security: "http://127.0.0.1:3/debian-security",
				ArchiveFile: "etc/apt/sources.list.d/a.sources", SecurityFile: "etc/apt/sources.list.d/b.list"},
		},
		{
			name:    "nothing Debian",
			files:   map[string]string{"etc/apt/sources.list.d/n.sources": "Types: deb\nURIs: https://127.0.0.1:1/node\nSuites: nodistro\n"},
			wantErr: "no Debian archive in the apt sources under ",
		},
		{name: "no files at all", files: map[string]string{}, wantErr: "pass --mirror or set APT_OSTREE_MIRROR"},
		{name: "malformed one-line", files: map[string]string{"etc/apt/sources.list": "deb http://127.0.0.1:1/debian\n"}, wantErr: "sources.list:1: want"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := writeFiles(t, tc.files)
			got, err := HostMirrors(root)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got.ArchiveFile = strings.TrimPrefix(got.ArchiveFile, root+"/")
			got.SecurityFile = strings.TrimPrefix(got.SecurityFile, root+"/")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMirrorFor(t *testing.T) {
	host := Mirrors{Archive: "http://127.0.0.1:1/debian", Security: "http://127.0.0.1:2/debian-security"}
	tests := []struct {
		suite, flag, env string
		host             Mirrors
		want, wantErr    string
	}{
		{suite: "trixie", host: host, want: host.Archive},
		{suite: "trixie-security", host: host, want: host.Security},
		{suite: "trixie", env: "http://127.0.0.1:3/debian", host: host, want: "http://127.0.0.1:3/debian"},
		{suite: "trixie", flag: "http://127.0.0.1:4/debian/", env: "http://127.0.0.1:3/debian", host: host, want: "http://127.0.0.1:4/debian"},
		{suite: "trixie-security", flag: "http://127.0.0.1:4/debian", host: host, want: "http://127.0.0.1:4/debian-security"},
		{suite: "trixie-security", flag: "http://127.0.0.1:4/mirror", host: host, want: host.Security},
		{suite: "trixie-security", flag: "http://127.0.0.1:4/mirror", want: "http://127.0.0.1:4/mirror"},
		{suite: "trixie-updates", want: "", wantErr: "no mirror for suite trixie-updates: the host's apt sources name no Debian archive; pass --mirror or set APT_OSTREE_MIRROR"},
		{suite: "trixie-security", host: Mirrors{Archive: host.Archive}, wantErr: "name no security archive; pass --mirror"},
		{suite: "trixie", flag: "127.0.0.1/debian", wantErr: "not an http(s) URL"},
	}
	for _, tc := range tests {
		got, err := MirrorFor(tc.suite, tc.host, tc.flag, tc.env)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("MirrorFor(%q, %q, %q): err = %v, want %q", tc.suite, tc.flag, tc.env, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("MirrorFor(%q, %q, %q) = %q, %v; want %q", tc.suite, tc.flag, tc.env, got, err, tc.want)
		}
	}
}
