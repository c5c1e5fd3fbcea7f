package treefile

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ptr[T any](v T) *T { return &v }

// TestLoad checks successful loads, one case per rule.
func TestLoad(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		opts  Options
		check func(t *testing.T, tf *Treefile, dir string)
	}{
		{
			name: "list order: included items first, later-listed include first",
			files: map[string]string{
				"main.yaml": "include: [a.yaml, b.yaml]\npostprocess: [main]\n",
				"a.yaml":    "include: c.yaml\npostprocess: [a]\n",
				"b.yaml":    "postprocess: [b]\n",
				"c.yaml":    "postprocess: [c]\n",
			},
			check: func(t *testing.T, tf *Treefile, _ string) {
				if diff := cmp.Diff([]string{"b", "c", "a", "main"}, tf.Postprocess); diff != "" {
					t.Errorf("postprocess order (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "scalar: includer wins",
			files: map[string]string{
				"main.yaml": "include: a.yaml\nref: main/ref\n",
				"a.yaml":    "ref: a/ref\ndefault-target: a.target\n",
			},
			check: func(t *testing.T, tf *Treefile, _ string) {
				if tf.Ref != "main/ref" || tf.DefaultTarget != "a.target" {
					t.Errorf("ref %q default-target %q, want main/ref, a.target", tf.Ref, tf.DefaultTarget)
				}
			},
		},
		{
			name: "scalar: earlier sibling include wins, also over the later one's includes",
			files: map[string]string{
				"main.yaml": "include: [a.yaml, b.yaml]\n",
				"a.yaml":    "include: a2.yaml\nref: a/ref\n",
				"a2.yaml":   "container-cmd: [/a2]\nmutate-os-release: a2\n",
				"b.yaml":    "ref: b/ref\ncontainer-cmd: [/b, x]\nmutate-os-release: b\nmachineid-compat: false\n",
			},
			check: func(t *testing.T, tf *Treefile, _ string) {
				if tf.Ref != "a/ref" {
					t.Errorf("ref %q, want a/ref", tf.Ref)
				}
				if diff := cmp.Diff([]string{"/a2"}, tf.ContainerCmd); diff != "" {
					t.Errorf("container-cmd merges as a scalar (-want +got):\n%s", diff)
				}
				if tf.MutateOSRelease != "a2" || tf.MachineIDCompat == nil || *tf.MachineIDCompat {
					t.Errorf("mutate-os-release %q machineid-compat %v", tf.MutateOSRelease, tf.MachineIDCompat)
				}
			},
		},
		{
			name: "maps merge key by key, includer then earlier sibling wins",
			files: map[string]string{
				"main.yaml": "include: [a.yaml, b.yaml]\nmetadata: {k: main}\nadd-commit-metadata: {l1: main}\n",
				"a.yaml":    "metadata: {k: a, x: a}\nadd-commit-metadata: {l1: a, l2: a}\n",
				"b.yaml":    "metadata: {x: b, y: b, n: [1, {deep: true}]}\nadd-commit-metadata: {l2: b, l3: b}\n",
			},
			check: func(t *testing.T, tf *Treefile, _ string) {
				want := map[string]any{"k": "main", "x": "a", "y": "b", "n": []any{1, map[string]any{"deep": true}}}
				if diff := cmp.Diff(want, tf.Metadata); diff != "" {
					t.Errorf("metadata (-want +got):\n%s", diff)
				}
				wantCommit := map[string]any{"l1": "main", "l2": "a", "l3": "b"}
				if diff := cmp.Diff(wantCommit, tf.AddCommitMetadata); diff != "" {
					t.Errorf("add-commit-metadata (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "packages: union, sorted, unique; whitespace split; quoted constraints",
			files: map[string]string{
				"main.yaml": "include: a.yaml\npackages:\n  - zsh bash\n  - \"'libc6 (>= 2.36)'\"\n  - coreutils (<< 10)\n  - dpkg:amd64=1.22.6\n  - vim\n",
				"a.yaml":    "packages: [vim, apt]\nexclude-packages: [nano, nano]\n",
			},
			check: func(t *testing.T, tf *Treefile, _ string) {
				want := []string{"apt", "bash", "coreutils (<< 10)", "dpkg:amd64=1.22.6", "libc6 (>= 2.36)", "vim", "zsh"}
				if diff := cmp.Diff(want, tf.Packages); diff != "" {
					t.Errorf("packages (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([]string{"nano"}, tf.ExcludePackages); diff != "" {
					t.Errorf("exclude-packages (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "packages-<arch> folded for the build arch only",
			files: map[string]string{
				"main.yaml": "packages-amd64: [linux-image-amd64]\npackages: [systemd]\npackages-arm64: [linux-image-arm64]\n",
			},
			opts: Options{Arch: "arm64"},
			check: func(t *testing.T, tf *Treefile, _ string) {
				if diff := cmp.Diff([]string{"linux-image-arm64", "systemd"}, tf.Packages); diff != "" {
					t.Errorf("packages (-want +got):\n%s", diff)
				}
				if tf.Arch != "arm64" || tf.Variables["basearch"] != "arm64" {
					t.Errorf("arch %q basearch %q", tf.Arch, tf.Variables["basearch"])
				}
			},
		},
		{
			name: "arch-include after include, only the build arch",
			files: map[string]string{
				"main.yaml": "include: a.yaml\narch-include:\n  amd64: x.yaml\n  arm64: [nope.yaml]\n",
				"a.yaml":    "postprocess: [a]\n",
				"x.yaml":    "postprocess: [x]\n",
			},
			check: func(t *testing.T, tf *Treefile, _ string) {
				if diff := cmp.Diff([]string{"x", "a"}, tf.Postprocess); diff != "" {
					t.Errorf("postprocess (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "variables: substitution, builtins, includer's value wins",
			files: map[string]string{
				"main.yaml": "include: a.yaml\nvariables: {flavor: minimal}\nreleasever: 13\n" +
					"ref: debian/${releasever}/${basearch}/${flavor}\npackages: ['linux-image-${basearch}']\n" +
					"automatic-version-prefix: '${releasever}.<date:%Y%m%d>'\nmutate-os-release: '${releasever}'\n" +
					"metadata: {summary: '${flavor} ${extra}', n: 1}\nadd-commit-metadata: {os: 'debian-${codename}', v: '${releasever}'}\n" +
					"repos: [{url: 'http://127.0.0.1/${codename}', suites: ['${codename}']}]\n",
				"a.yaml": "variables: {flavor: full, extra: true, codename: trixie, n: 7}\n",
			},
			check: func(t *testing.T, tf *Treefile, _ string) {
				if tf.Ref != "debian/13/amd64/minimal" {
					t.Errorf("ref %q", tf.Ref)
				}
				if diff := cmp.Diff([]string{"linux-image-amd64"}, tf.Packages); diff != "" {
					t.Errorf("packages (-want +got):\n%s", diff)
				}
				if tf.AutomaticVersionPrefix != "13.<date:%Y%m%d>" || tf.MutateOSRelease != "13" {
					t.Errorf("version prefix %q mutate %q", tf.AutomaticVersionPrefix, tf.MutateOSRelease)
				}
				if tf.Metadata["summary"] != "minimal true" || tf.AddCommitMetadata["os"] != "debian-trixie" {
					t.Errorf("metadata %v add-commit-metadata %v", tf.Metadata, tf.AddCommitMetadata)
				}
				if tf.AddCommitMetadata["v"] != "13" {
					t.Errorf("add-commit-metadata %v", tf.AddCommitMetadata)
				}
				if r := tf.Repos[0]; r.URL != "http://127.0.0.1/trixie" || r.Suites[0] != "trixie" {
					t.Errorf("repo %+v", r)
				}
				want := map[string]string{"basearch": "amd64", "releasever": "13", "flavor": "minimal", "extra": "true", "codename": "trixie", "n": "7"}
				if diff := cmp.Diff(want, tf.Variables); diff != "" {
					t.Errorf("variables (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "underscore aliases accepted",
			files: map[string]string{
				"main.yaml": "default_target: multi-user.target\nautomatic_version_prefix: '1'\nboot_location: modules\nbasearch: amd64\n",
			},
			check: func(t *testing.T, tf *Treefile, _ string) {
				got := []string{tf.DefaultTarget, tf.AutomaticVersionPrefix, tf.BootLocation, tf.Arch}
				if diff := cmp.Diff([]string{"multi-user.target", "1", "modules", "amd64"}, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "relative paths resolve against the declaring file",
			files: map[string]string{
				"main.yaml":           "include: sub/inc.yaml\nadd-files: [[top.conf, /etc/top.conf]]\n",
				"top.conf":            "top",
				"sub/inc.yaml":        "postprocess-script: scripts/post.sh\nadd-files:\n  - [files/motd, /etc/motd]\nrepos:\n  - suites: [trixie]\n    signed-by: keys/k.gpg\n",
				"sub/scripts/post.sh": "#!/bin/sh\n",
				"sub/files/motd":      "hi",
				"sub/keys/k.gpg":      "k",
			},
			check: func(t *testing.T, tf *Treefile, dir string) {
				if want := filepath.Join(dir, "sub/scripts/post.sh"); tf.PostprocessScript != want {
					t.Errorf("postprocess-script %q, want %q", tf.PostprocessScript, want)
				}
				want := []AddFile{{filepath.Join(dir, "sub/files/motd"), "/etc/motd"}, {filepath.Join(dir, "top.conf"), "/etc/top.conf"}}
				if diff := cmp.Diff(want, tf.AddFiles); diff != "" {
					t.Errorf("add-files (-want +got):\n%s", diff)
				}
				r := tf.Repos[0]
				if r.SignedBy != filepath.Join(dir, "sub/keys/k.gpg") || r.SignedByKey != "" {
					t.Errorf("signed-by %q key %q", r.SignedBy, r.SignedByKey)
				}
				if diff := cmp.Diff([]string{"main"}, r.Components); diff != "" {
					t.Errorf("default components (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "inline signed-by key kept apart from paths",
			files: map[string]string{
				"main.yaml": "repos:\n  - suites: [trixie]\n    signed-by: |\n" + indent(testArmoredKey, "      "),
			},
			check: func(t *testing.T, tf *Treefile, _ string) {
				if r := tf.Repos[0]; r.SignedBy != "" || !strings.HasPrefix(r.SignedByKey, armorBegin) {
					t.Errorf("signed-by %q key %.40q", r.SignedBy, r.SignedByKey)
				}
			},
		},
		{
			name: "JSON treefile: escapes, tabs and surrogate pairs",
			files: map[string]string{
				"main.yaml": "include: t.json\n",
				"t.json":    "{\n\t\"ref\": \"a\\/b\",\n\t\"metadata\": {\"emoji\": \"\\ud83d\\ude00\", \"f\": 1.5, \"n\": null},\n\t\"recommends\": true\n}\n",
			},
			check: func(t *testing.T, tf *Treefile, _ string) {
				if tf.Ref != "a/b" || !tf.Recommends || tf.Metadata["emoji"] != "\U0001F600" || tf.Metadata["f"] != 1.5 {
					t.Errorf("got %+v", tf)
				}
			},
		},
		{
			name:  "null means unset",
			files: map[string]string{"main.yaml": "ref:\npackages:\n"},
			check: func(t *testing.T, tf *Treefile, _ string) {
				if tf.Ref != "" || tf.Packages != nil {
					t.Errorf("got %+v", tf)
				}
			},
		},
		{
			name:  "YAML anchors and aliases",
			files: map[string]string{"main.yaml": "initramfs-args: &args [--no-hostonly]\npostprocess: *args\n"},
			check: func(t *testing.T, tf *Treefile, _ string) {
				if diff := cmp.Diff(tf.InitramfsArgs, tf.Postprocess); diff != "" || len(tf.Postprocess) != 1 {
					t.Errorf("alias not followed: %v %v", tf.InitramfsArgs, tf.Postprocess)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tf, dir := mustLoad(t, tc.files, tc.opts)
			tc.check(t, tf, dir)
		})
	}
}

func indent(s, prefix string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		if line != "" && line != "\n" {
			b.WriteString(prefix)
		}
		b.WriteString(line)
	}
	return b.String()
}

func TestParsePackageSpec(t *testing.T) {
	tests := []struct {
		in      string
		want    PackageSpec
		wantErr string
	}{
		{"systemd", PackageSpec{Name: "systemd"}, ""},
		{"libstdc++6", PackageSpec{Name: "libstdc++6"}, ""},
		{"dpkg:arm64", PackageSpec{Name: "dpkg", Arch: "arm64"}, ""},
		{"bash=5.2.37-2", PackageSpec{Name: "bash", Op: "=", Version: "5.2.37-2"}, ""},
		{"bash:amd64=1:5.2~rc1+dfsg-2", PackageSpec{Name: "bash", Arch: "amd64", Op: "=", Version: "1:5.2~rc1+dfsg-2"}, ""},
		{"libc6 (>= 2.36)", PackageSpec{Name: "libc6", Op: ">=", Version: "2.36"}, ""},
		{"libc6:i386 (<<3)", PackageSpec{Name: "libc6", Arch: "i386", Op: "<<", Version: "3"}, ""},
		{"Systemd", PackageSpec{}, "invalid Debian package name"},
		{"a", PackageSpec{}, "invalid Debian package name"},
		{"-foo", PackageSpec{}, "invalid Debian package name"},
		{"foo_bar", PackageSpec{}, "invalid Debian package name"},
		{"foo=", PackageSpec{}, "invalid Debian version"},
		{"foo=x1", PackageSpec{}, "invalid Debian version"},
		{"foo=1:", PackageSpec{}, "invalid Debian version"},
		{"foo=1.0-", PackageSpec{}, "invalid Debian version"},
		{"foo=a:1", PackageSpec{}, "invalid Debian version"},
		{"foo:AMD64", PackageSpec{}, "invalid architecture"},
		{"foo (> 1)", PackageSpec{}, "invalid package entry"},
		{"foo >= 1", PackageSpec{}, "invalid package entry"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePackageSpec(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
			again, err := ParsePackageSpec(got.String())
			if err != nil || again != got {
				t.Errorf("String() %q does not round-trip: %+v %v", got.String(), again, err)
			}
		})
	}
}

// TestJSONOutput checks --print-only output: treefile key names, unset
// keys omitted, and that the output is itself a loadable treefile.
func TestJSONOutput(t *testing.T) {
	files := map[string]string{
		"main.yaml": "ref: r/${basearch}\nreleasever: 13\nvariables: {v: x}\n" +
			"repos:\n  - {name: d, url: 'http://127.0.0.1/debian', suites: [trixie], signed-by: k.gpg, check-valid-until: false}\n" +
			"packages: [\"'libc6 (>= 2.36)'\", systemd]\nrecommends: false\nmachineid-compat: true\n" +
			"add-files: [[f, /usr/lib/f]]\nremove-from-packages: [[systemd, '^/usr/lib/x$', y]]\n" +
			"metadata: {m: 1}\n",
		"k.gpg": "key",
		"f":     "file",
	}
	tf, dir := mustLoad(t, files, Options{})
	got, err := tf.JSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "ref": "r/amd64",
  "arch": "amd64",
  "releasever": "13",
  "repos": [
    {
      "name": "d",
      "url": "http://127.0.0.1/debian",
      "suites": [
        "trixie"
      ],
      "components": [
        "main"
      ],
      "signed-by": "` + filepath.Join(dir, "k.gpg") + `",
      "check-valid-until": false
    }
  ],
  "packages": [
    "'libc6 (>= 2.36)'",
    "systemd"
  ],
  "add-files": [
    [
      "` + filepath.Join(dir, "f") + `",
      "/usr/lib/f"
    ]
  ],
  "remove-from-packages": [
    [
      "systemd",
      "^/usr/lib/x$",
      "y"
    ]
  ],
  "machineid-compat": true,
  "metadata": {
    "m": 1
  }
}
`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	if !tf.Repos[0].SkipValidUntil {
		t.Error("check-valid-until: false not read")
	}

	// Round trip: the printed JSON loads back to the same treefile.
	out := filepath.Join(t.TempDir(), "printed.json")
	if err := os.WriteFile(out, got, 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := Load(context.Background(), out, Options{Arch: "amd64"})
	if err != nil {
		t.Fatalf("reload printed JSON: %v", err)
	}
	tf.Variables, again.Variables = nil, nil
	if diff := cmp.Diff(tf, again); diff != "" {
		t.Errorf("round trip (-orig +reloaded):\n%s", diff)
	}
}

func TestDigest(t *testing.T) {
	files := map[string]string{
		"main.yaml": "ref: r\npackages: [systemd]\nmetadata: {m: 1}\npostprocess-script: post.sh\n" +
			"add-files: [[f, /usr/lib/f]]\nrepos: [{suites: [trixie], signed-by: k.gpg}]\n",
		"post.sh": "#!/bin/sh\n",
		"f":       "file",
		"k.gpg":   "key",
	}
	digest := func(files map[string]string) string {
		t.Helper()
		tf, _ := mustLoad(t, files, Options{})
		d, err := tf.Digest(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	with := func(name, content string) map[string]string {
		m := map[string]string{}
		for k, v := range files {
			m[k] = v
		}
		m[name] = content
		return m
	}
	base := digest(files)
	if len(base) != 64 {
		t.Fatalf("digest %q is not SHA-256 hex", base)
	}
	// Same content in another directory (writeTree uses a new temp dir),
	// reordered keys, comments and metadata do not change the digest.
	same := []map[string]string{
		files,
		with("main.yaml", "# comment\npackages: [systemd]\nref: r\nmetadata: {m: 2}\npostprocess-script: post.sh\n"+
			"add-files: [[f, /usr/lib/f]]\nrepos: [{suites: [trixie], signed-by: k.gpg}]\n"),
	}
	for i, f := range same {
		if d := digest(f); d != base {
			t.Errorf("case %d: digest changed: %s != %s", i, d, base)
		}
	}
	changed := map[string]map[string]string{
		"postprocess script": with("post.sh", "#!/bin/sh\necho\n"),
		"add-files source":   with("f", "other"),
		"keyring":            with("k.gpg", "other"),
		"packages":           with("main.yaml", strings.Replace(files["main.yaml"], "[systemd]", "[systemd, bash]", 1)),
	}
	for name, f := range changed {
		if d := digest(f); d == base {
			t.Errorf("%s: digest did not change", name)
		}
	}
}

func TestExample(t *testing.T) {
	path := filepath.Join("..", "examples", "debian-trixie-minimal.yaml")
	for _, arch := range []string{"amd64", "arm64"} {
		t.Run(arch, func(t *testing.T) {
			tf, err := Load(context.Background(), path, Options{Arch: arch})
			if err != nil {
				t.Fatal(err)
			}
			if want := "debian/13/" + arch + "/minimal"; tf.Ref != want {
				t.Errorf("ref %q, want %q", tf.Ref, want)
			}
			want := []string{"dracut", "linux-image-" + arch, "ostree", "ostree-boot", "systemd", "systemd-sysv"}
			if diff := cmp.Diff(want, tf.Packages); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if len(tf.Repos) != 2 || tf.Repos[0].URL != "" || tf.Repos[1].Suites[0] != "trixie-security" {
				t.Errorf("repos %+v", tf.Repos)
			}
			if tf.DefaultTarget != "multi-user.target" || tf.Recommends {
				t.Errorf("got %+v", tf)
			}
		})
	}
}

func TestHostArch(t *testing.T) {
	want := map[string]string{"amd64": "amd64", "arm64": "arm64", "arm": "armhf", "386": "i386", "ppc64le": "ppc64el", "s390x": "s390x", "riscv64": "riscv64"}
	if w, ok := want[runtime.GOARCH]; ok && HostArch() != w {
		t.Errorf("HostArch() = %q, want %q", HostArch(), w)
	}
	// Without Options.Arch the host arch is used.
	dir := writeTree(t, map[string]string{"main.yaml": "ref: r/${basearch}\n"})
	tf, err := Load(context.Background(), filepath.Join(dir, "main.yaml"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if tf.Arch != HostArch() || tf.Ref != "r/"+HostArch() {
		t.Errorf("arch %q ref %q", tf.Arch, tf.Ref)
	}
}

func BenchmarkLoadExample(b *testing.B) {
	path := filepath.Join("..", "examples", "debian-trixie-minimal.yaml")
	for b.Loop() {
		if _, err := Load(context.Background(), path, Options{Arch: "amd64"}); err != nil {
			b.Fatal(err)
		}
	}
}
