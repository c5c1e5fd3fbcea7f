package lockfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/apt-ostree/apt-ostree/apt"
)

func testPackages() []*apt.Package {
	main := &apt.RepoRef{URL: "http://127.0.0.1:8080/debian", Suite: "trixie", Component: "main", Date: "Sat, 15 Nov 2025 09:24:03 UTC"}
	sec := &apt.RepoRef{URL: "http://127.0.0.1:8080/debian-security", Suite: "trixie-security", Component: "main", Date: "Mon, 24 Nov 2025 18:00:01 UTC"}
	return []*apt.Package{
		{Name: "libc6", Version: "2.41-12", Architecture: "amd64", Source: "glibc", SHA256: strings.Repeat("ab", 32), Repo: main},
		{Name: "bash", Version: "5.2.37-2+b5", Architecture: "amd64", SHA256: strings.Repeat("CD", 32), Repo: main},
		{Name: "libc6", Version: "2.41-12", Architecture: "i386", Source: "glibc", SHA256: strings.Repeat("ef", 32), Repo: main},
		{Name: "tzdata", Version: "2025b-4+deb13u1", Architecture: "all", SHA256: strings.Repeat("01", 32), Repo: sec},
	}
}

const wantFile = `{
  "metadata": {
    "generated": "2025-11-26T00:00:00Z",
    "repos": {
      "http://127.0.0.1:8080/debian trixie": {
        "generated": "2025-11-15T09:24:03Z"
      },
      "http://127.0.0.1:8080/debian-security trixie-security": {
        "generated": "2025-11-24T18:00:01Z"
      }
    }
  },
  "packages": {
    "bash": {
      "digest": "sha256:cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd",
      "evra": "5.2.37-2+b5.amd64",
      "metadata": {
        "source": "bash"
      }
    },
    "libc6:amd64": {
      "digest": "sha256:abababababababababababababababababababababababababababababababab",
      "evra": "2.41-12.amd64",
      "metadata": {
        "source": "glibc"
      }
    },
    "libc6:i386": {
      "digest": "sha256:efefefefefefefefefefefefefefefefefefefefefefefefefefefefefefefef",
      "evra": "2.41-12.i386",
      "metadata": {
        "source": "glibc"
      }
    },
    "tzdata": {
      "digest": "sha256:0101010101010101010101010101010101010101010101010101010101010101",
      "evra": "2025b-4+deb13u1.all",
      "metadata": {
        "source": "tzdata"
      }
    }
  }
}
`

func TestWriteReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "apt-ostree.lock.json")
	now := time.Date(2025, 11, 26, 15, 4, 5, 0, time.FixedZone("x", 3600))
	l := New(testPackages(), now)
	if err := l.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(wantFile, string(data)); diff != "" {
		t.Errorf("lockfile text (-want +got):\n%s", diff)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(l, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if e := got.Lookup("libc6"); len(e) != 2 || e[0].Arch != "amd64" || e[1].Arch != "i386" {
		t.Errorf("Lookup(libc6) = %+v", e)
	}
	if e := got.Lookup("nope"); len(e) != 0 {
		t.Errorf("Lookup(nope) = %+v", e)
	}
	// Writing again over the old file leaves only the file itself.
	if err := Write(path, testPackages()); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("directory has %d entries after rewrite, want 1", len(ents))
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Entry
		wantErr string
	}{
		{
			name: "evr without digest, minimal document",
			in:   `{"packages": {"bash": {"evr": "5.2.37-2"}}}`,
			want: []Entry{{Name: "bash", Version: "5.2.37-2"}},
		},
		{
			name: "version with dots and epoch",
			in:   `{"packages": {"x": {"evra": "1:2.3.4-5.1.arm64", "digest": "sha256:` + strings.Repeat("AA", 32) + `"}}}`,
			want: []Entry{{Name: "x", Version: "1:2.3.4-5.1", Arch: "arm64", SHA256: strings.Repeat("aa", 32)}},
		},
		{name: "unknown top-level field", in: `{"packages": {}, "extra": 1}`, wantErr: `unknown field "extra"`},
		{name: "unknown package field", in: `{"packages": {"a": {"evr": "1", "epoch": 0}}}`, wantErr: `unknown field "epoch"`},
		{name: "packages missing", in: `{"metadata": {}}`, wantErr: `"packages" is missing`},
		{name: "no version", in: `{"packages": {"a": {}}}`, wantErr: `package "a": "evra" (or "evr") is missing`},
		{name: "both", in: `{"packages": {"a": {"evr": "1", "evra": "1.amd64"}}}`, wantErr: `package "a": give "evra" or "evr", not both`},
		{name: "evra without arch", in: `{"packages": {"a": {"evra": "1.2"}}}`, wantErr: `package "a": evra "1.2" is not <version>.<arch>`},
		{name: "bad digest algorithm", in: `{"packages": {"a": {"evr": "1", "digest": "md5:00"}}}`, wantErr: `package "a": digest "md5:00": only sha256 is supported`},
		{name: "short digest", in: `{"packages": {"a": {"evr": "1", "digest": "sha256:00"}}}`, wantErr: `package "a": digest "sha256:00": want 64 hex digits`},
		{name: "key arch mismatch", in: `{"packages": {"a:i386": {"evra": "1.amd64"}}}`, wantErr: `package "a:i386": architecture in key does not match "1.amd64"`},
		{name: "same name twice", in: `{"packages": {"a": {"evr": "1"}, "a:i386": {"evr": "1"}}}`, wantErr: `package a is locked twice for the same architecture`},
		{name: "trailing data", in: `{"packages": {}} {}`, wantErr: `trailing data after the JSON object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, l.Packages); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadErrorNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(path, []byte(`{"packages": {"a": {"evra": "x"}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Read(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v does not name %s", err, path)
	}
}

func TestWriteFailureLeavesOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lock.json")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := &Lock{Packages: []Entry{{Name: "a", Version: "1"}, {Name: "a", Version: "2", Arch: "i386"}}}
	if err := bad.WriteFile(path); err == nil {
		t.Fatal("writing an inconsistent lock succeeded")
	}
	if data, _ := os.ReadFile(path); string(data) != "old" {
		t.Errorf("old file changed to %q", data)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("left %d entries in the directory", len(ents))
	}
}

func TestMerge(t *testing.T) {
	a := &Lock{Packages: []Entry{{Name: "a", Version: "1", Arch: "amd64"}, {Name: "a", Version: "1", Arch: "i386"}, {Name: "b", Version: "1"}}}
	b := &Lock{Packages: []Entry{{Name: "a", Version: "2", Arch: "amd64"}, {Name: "c", Version: "3"}}}
	got := Merge(a, nil, b)
	want := []Entry{{Name: "a", Version: "2", Arch: "amd64"}, {Name: "b", Version: "1"}, {Name: "c", Version: "3"}}
	if diff := cmp.Diff(want, got.Packages); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
