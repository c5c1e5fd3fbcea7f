package treefile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTree creates files (path -> content) under a new temp dir. Files
// whose name ends in .sh are executable.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func loadFiles(t *testing.T, files map[string]string, main string, opts Options) (*Treefile, string, error) {
	t.Helper()
	if opts.Arch == "" {
		opts.Arch = "amd64"
	}
	dir := writeTree(t, files)
	tf, err := Load(context.Background(), filepath.Join(dir, main), opts)
	return tf, dir, err
}

func mustLoad(t *testing.T, files map[string]string, opts Options) (*Treefile, string) {
	t.Helper()
	tf, dir, err := loadFiles(t, files, "main.yaml", opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return tf, dir
}

// TestErrors has one case per rule: each names the file:line, the key and
// what is wrong.
func TestErrors(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // main.yaml is loaded
		want  []string          // substrings of the error
	}{
		{"unknown key", map[string]string{"main.yaml": "ref: a/b\nrefs: x\n"}, []string{`main.yaml:2: refs: unknown key; did you mean "ref"?`}},
		{"unknown key in json", map[string]string{"main.yaml": "include: x.json\n", "x.json": "{\n  \"ref\": \"a\",\n  \"bogus\": 1\n}\n"}, []string{`x.json:3: bogus: unknown key`}},
		{"duplicate key", map[string]string{"main.yaml": "ref: a\nref: b\n"}, []string{`main.yaml:2: ref: duplicate key (first at line 1)`}},
		{"alias conflict", map[string]string{"main.yaml": "default-target: a.target\ndefault_target: b.target\n"}, []string{`main.yaml:2: default_target: both "default-target" (line 1) and "default_target" given`}},
		{"basearch alias conflict", map[string]string{"main.yaml": "arch: amd64\nbasearch: amd64\n"}, []string{`main.yaml:2: basearch: both "arch"`}},
		{"rpm-only key", map[string]string{"main.yaml": "rojig: {}\n"}, []string{`main.yaml:1: rojig: RPM-only key, not supported for Debian`}},
		{"rpm-only bootstrap_packages", map[string]string{"main.yaml": "bootstrap_packages: [a]\n"}, []string{`bootstrap_packages: RPM-only key, not supported for Debian`}},
		{"not yet supported key", map[string]string{"main.yaml": "repo-packages: []\n"}, []string{`main.yaml:1: repo-packages: rpm-ostree key not supported by apt-ostree yet`}},
		{"selinux refused", map[string]string{"main.yaml": "selinux: false\n"}, []string{`main.yaml:1: selinux: rpm-ostree key not supported by apt-ostree yet; remove it (the tree is committed without SELinux labels)`}},
		{"selinux-label-version refused", map[string]string{"main.yaml": "selinux-label-version: 1\n"}, []string{`selinux-label-version: rpm-ostree key not supported by apt-ostree yet`}},
		{"ostree-layers refused", map[string]string{"main.yaml": "ostree-layers: [a/b]\n"}, []string{`main.yaml:1: ostree-layers: rpm-ostree key not supported by apt-ostree yet`}},
		{"ostree-override-layers refused", map[string]string{"main.yaml": "ostree-override-layers: [a/b]\n"}, []string{`ostree-override-layers: rpm-ostree key not supported by apt-ostree yet`}},
		{"ignore-removed-users refused", map[string]string{"main.yaml": "ignore-removed-users: ['*']\n"}, []string{`ignore-removed-users: rpm-ostree key not supported by apt-ostree yet; remove it (it only matters to check-passwd`}},
		{"ignore-removed-groups refused", map[string]string{"main.yaml": "ignore-removed-groups: [a]\n"}, []string{`ignore-removed-groups: rpm-ostree key not supported by apt-ostree yet`}},
		{"gpg-key refused", map[string]string{"main.yaml": "gpg-key: ABCD\n"}, []string{`main.yaml:1: gpg-key: rpm-ostree key not supported by apt-ostree yet`}},
		{"gpg_key alias refused", map[string]string{"main.yaml": "\ngpg_key: ABCD\n"}, []string{`main.yaml:2: gpg_key: rpm-ostree key not supported by apt-ostree yet`}},
		{"edition refused", map[string]string{"main.yaml": "edition: '2024'\n"}, []string{`main.yaml:1: edition: rpm-ostree key not supported by apt-ostree yet; remove it (apt-ostree has one set of defaults`}},
		{"image refused", map[string]string{"main.yaml": "image:\n  labels: {containers.bootc: '1'}\n"}, []string{`main.yaml:1: image: rpm-ostree key not supported by apt-ostree yet; remove it (it comes with compose image`}},
		{"arch mismatch", map[string]string{"main.yaml": "arch: arm64\n"}, []string{`main.yaml:1: arch: "arm64" is not the build architecture "amd64"`}},
		{"top level not a map", map[string]string{"main.yaml": "- a\n"}, []string{`main.yaml:1: top level is a list`}},
		{"empty file", map[string]string{"main.yaml": "# nothing\n"}, []string{`main.yaml: empty treefile`}},
		{"yaml syntax", map[string]string{"main.yaml": "ref: a\npackages: [a\n"}, []string{`main.yaml:`, `invalid YAML`}},
		{"two documents", map[string]string{"main.yaml": "ref: a\n---\nref: b\n"}, []string{`more than one YAML document`}},

		// Type errors, one per key.
		{"ref type", map[string]string{"main.yaml": "\nref: [a]\n"}, []string{`main.yaml:2: ref: want a string, got a list`}},
		{"ref invalid", map[string]string{"main.yaml": "ref: 'a b'\n"}, []string{`main.yaml:1: ref: invalid OSTree ref "a b"`}},
		{"arch type", map[string]string{"main.yaml": "arch: 1\n"}, []string{`main.yaml:1: arch: want a string, got the integer 1 (quote it)`}},
		{"releasever type", map[string]string{"main.yaml": "releasever: [13]\n"}, []string{`main.yaml:1: releasever: want a string or unsigned integer, got a list`}},
		{"releasever negative", map[string]string{"main.yaml": "releasever: -1\n"}, []string{`main.yaml:1: releasever: want a string or unsigned integer`}},
		{"repos type", map[string]string{"main.yaml": "repos: debian\n"}, []string{`main.yaml:1: repos: want a list of repositories`}},
		{"repos rpm-style id", map[string]string{"main.yaml": "repos: [fedora]\n"}, []string{`main.yaml:1: repos[0]: want a mapping, got the string "fedora" (rpm-ostree's repo ids`}},
		{"repos suites required", map[string]string{"main.yaml": "repos:\n  - name: d\n"}, []string{`main.yaml:2: repos[0]: suites is required`}},
		{"repos suites type", map[string]string{"main.yaml": "repos:\n  - suites: trixie\n"}, []string{`main.yaml:2: repos[0].suites: want a list of strings, got the string "trixie"`}},
		{"repos unknown key", map[string]string{"main.yaml": "repos:\n  - suites: [trixie]\n    uri: http://x\n"}, []string{`main.yaml:3: repos[0].uri: unknown key`}},
		{"repos trusted type", map[string]string{"main.yaml": "repos:\n  - suites: [trixie]\n    trusted: 'yes'\n"}, []string{`main.yaml:3: repos[0].trusted: want true or false`}},
		{"repos bad url", map[string]string{"main.yaml": "repos:\n  - suites: [trixie]\n    url: ftp://x/debian\n"}, []string{`main.yaml:2: repos[0]: url "ftp://x/debian": scheme must be http, https or file`}},
		{"repos bad arch", map[string]string{"main.yaml": "repos:\n  - suites: [trixie]\n    arch: x86_64\n"}, []string{`main.yaml:3: repos[0].arch: unknown dpkg architecture "x86_64"`}},
		{"repos missing keyring", map[string]string{"main.yaml": "repos:\n  - suites: [trixie]\n    signed-by: keys/missing.gpg\n"}, []string{`main.yaml:3: repos[0].signed-by: keyring keys/missing.gpg`, "no such file"}},
		{"repos bad inline key", map[string]string{"main.yaml": "repos:\n  - suites: [trixie]\n    signed-by: |\n      -----BEGIN PGP PUBLIC KEY BLOCK-----\n\n      garbage\n      -----END PGP PUBLIC KEY BLOCK-----\n"}, []string{`main.yaml:3: repos[0].signed-by: inline key block is not a valid ASCII-armored OpenPGP public key`}},
		{"repos duplicate name", map[string]string{"main.yaml": "repos:\n  - {name: d, suites: [a]}\n  - {name: d, suites: [b]}\n"}, []string{`main.yaml:3: repos[1].name: repository name "d" already used at`}},
		{"repos check-valid-until type", map[string]string{"main.yaml": "repos:\n  - suites: [trixie]\n    check-valid-until: no\n"}, []string{`main.yaml:3: repos[0].check-valid-until: want true or false`}},
		{"repos trusted and signed", map[string]string{"main.yaml": "repos:\n  - suites: [a]\n    trusted: true\n    signed-by: k.gpg\n", "k.gpg": "k"}, []string{`main.yaml:2: repos[0]: trusted: true and signed-by both given`}},
		{"packages type", map[string]string{"main.yaml": "packages: systemd\n"}, []string{`main.yaml:1: packages: want a list of strings, got the string "systemd"`}},
		{"packages item type", map[string]string{"main.yaml": "packages:\n  - a1\n  - 1\n"}, []string{`main.yaml:3: packages[1]: want a string, got the integer 1`}},
		{"packages invalid name", map[string]string{"main.yaml": "packages:\n  - ok\n  - Bad_Name\n"}, []string{`main.yaml:3: packages: invalid Debian package name "Bad_Name"`}},
		{"packages one char", map[string]string{"main.yaml": "packages: [a]\n"}, []string{`main.yaml:1: packages: invalid Debian package name "a"`}},
		{"packages constraint with extra name", map[string]string{"main.yaml": "packages:\n  - foo (>= 1.2) bar\n"}, []string{`main.yaml:2: packages: invalid package entry "foo (>= 1.2) bar": want name, name:arch, name=version or 'name (op version)'`}},
		{"packages bad version", map[string]string{"main.yaml": "packages: [foo=abc]\n"}, []string{`main.yaml:1: packages: invalid Debian version "abc" for package foo`}},
		{"packages bad op", map[string]string{"main.yaml": "packages: [\"'foo (> 1)'\"]\n"}, []string{`main.yaml:1: packages: invalid package entry "foo (> 1)"`}},
		{"packages conflicting pins", map[string]string{"main.yaml": "packages:\n  - foo=1.0\n  - foo=2.0\n"}, []string{`foo pinned to`}},
		{"packages and excluded", map[string]string{"main.yaml": "packages: [foo]\nexclude-packages:\n  - foo\n"}, []string{`main.yaml:3: exclude-packages: foo is also listed in packages at`, `main.yaml:1`}},
		{"packages-arch type", map[string]string{"main.yaml": "packages-amd64: foo\n"}, []string{`main.yaml:1: packages-amd64: want a list of strings`}},
		{"packages-other-arch still validated", map[string]string{"main.yaml": "packages-arm64: [1]\n"}, []string{`main.yaml:1: packages-arm64[0]: want a string`}},
		{"packages-rpm arch", map[string]string{"main.yaml": "packages-x86_64: [foo]\n"}, []string{`main.yaml:1: packages-x86_64: unknown dpkg architecture "x86_64"; Debian calls it "amd64"`}},
		{"exclude-packages invalid", map[string]string{"main.yaml": "exclude-packages: [Foo]\n"}, []string{`main.yaml:1: exclude-packages[0]: invalid Debian package name "Foo"`}},
		{"recommends type", map[string]string{"main.yaml": "recommends: 'no'\n"}, []string{`main.yaml:1: recommends: want true or false, got the string "no"`}},
		{"documentation type", map[string]string{"main.yaml": "documentation: 0\n"}, []string{`main.yaml:1: documentation: want true or false`}},
		{"include type", map[string]string{"main.yaml": "include: {a: b}\n"}, []string{`main.yaml:1: include: want a path or a list of paths, got a mapping`}},
		{"include missing", map[string]string{"main.yaml": "ref: a\ninclude: nope.yaml\n"}, []string{`main.yaml:2: include: open treefile`, "nope.yaml"}},
		{"arch-include type", map[string]string{"main.yaml": "arch-include: [a]\n"}, []string{`main.yaml:1: arch-include: want a mapping`}},
		{"variables type", map[string]string{"main.yaml": "variables: [a]\n"}, []string{`main.yaml:1: variables: want a mapping`}},
		{"variables reserved", map[string]string{"main.yaml": "variables:\n  basearch: x\n"}, []string{`main.yaml:2: variables.basearch: basearch is reserved`}},
		{"variables value type", map[string]string{"main.yaml": "variables:\n  a: 1.5\n"}, []string{`main.yaml:2: variables.a: want a string, unsigned integer or boolean, got the number 1.5`}},
		{"variables bad name", map[string]string{"main.yaml": "variables:\n  a-b: x\n"}, []string{`main.yaml:2: variables.a-b: invalid variable name`}},
		{"variables dollar", map[string]string{"main.yaml": "variables:\n  a: ${b}\n"}, []string{`main.yaml:2: variables.a: value "${b}" must not contain $, { or }`}},
		{"undefined variable", map[string]string{"main.yaml": "variables: {a: x}\nref: r/${nope}\n"}, []string{`main.yaml:2: ref: undefined variable ${nope}; defined: a, basearch`}},
		{"unterminated variable", map[string]string{"main.yaml": "ref: r/${basearch\n"}, []string{`main.yaml:1: ref: unterminated ${`}},
		{"undefined variable in packages", map[string]string{"main.yaml": "packages:\n  - linux-image-${karch}\n"}, []string{`main.yaml:2: packages: undefined variable ${karch}`}},
		{"postprocess type", map[string]string{"main.yaml": "postprocess: 'echo hi'\n"}, []string{`main.yaml:1: postprocess: want a list of strings`}},
		{"postprocess-script missing", map[string]string{"main.yaml": "postprocess-script: post.sh\n"}, []string{`main.yaml:1: postprocess-script: postprocess script post.sh (resolved against`}},
		{"postprocess-script not executable", map[string]string{"main.yaml": "postprocess-script: post.txt\n", "post.txt": "#!/bin/sh\n"}, []string{`main.yaml:1: postprocess-script: postprocess script`, "is not executable"}},
		{"postprocess-script type", map[string]string{"main.yaml": "postprocess-script: [a]\n"}, []string{`main.yaml:1: postprocess-script: want a string`}},
		{"add-files type", map[string]string{"main.yaml": "add-files: [a, b]\n"}, []string{`main.yaml:1: add-files[0]: want a [source, destination] pair`}},
		{"add-files missing source", map[string]string{"main.yaml": "add-files:\n  - [nope, /usr/bin/nope]\n"}, []string{`main.yaml:2: add-files[0]: add-files source nope`}},
		{"add-files relative dest", map[string]string{"main.yaml": "add-files:\n  - [f, usr/bin/f]\n", "f": "x"}, []string{`main.yaml:2: add-files[0]: destination "usr/bin/f" must be an absolute path`}},
		{"add-files dest under var", map[string]string{"main.yaml": "add-files:\n  - [f, /var/lib/f]\n", "f": "x"}, []string{`must be under /usr, /etc, /bin, /sbin, /lib or /lib64`}},
		{"add-files dest usr/local", map[string]string{"main.yaml": "add-files:\n  - [f, /usr/local/bin/f]\n", "f": "x"}, []string{`is under /usr/local`}},
		{"add-files source is dir", map[string]string{"main.yaml": "add-files:\n  - [d, /usr/bin/f]\n", "d/x": "x"}, []string{`main.yaml:2: add-files[0]: add-files source`, "is not a regular file"}},
		{"remove-files absolute", map[string]string{"main.yaml": "remove-files:\n  - /etc/x\n"}, []string{`main.yaml:2: remove-files[0]: path "/etc/x" must be relative`}},
		{"remove-files dotdot", map[string]string{"main.yaml": "remove-files: [usr/../etc]\n"}, []string{`must not contain ..`}},
		{"remove-from-packages no regex", map[string]string{"main.yaml": "remove-from-packages:\n  - [foo]\n"}, []string{`main.yaml:2: remove-from-packages[0]: want [package, regex...] with at least one regex`}},
		{"remove-from-packages bad regex", map[string]string{"main.yaml": "remove-from-packages:\n  - [foo, '(']\n"}, []string{`main.yaml:2: remove-from-packages[0]: invalid regex "("`}},
		{"remove-from-packages bad package", map[string]string{"main.yaml": "remove-from-packages:\n  - [Foo, x]\n"}, []string{`main.yaml:2: remove-from-packages[0]: invalid Debian package name "Foo"`}},
		{"units type", map[string]string{"main.yaml": "units: sshd.service\n"}, []string{`main.yaml:1: units: want a list of strings`}},
		{"units invalid", map[string]string{"main.yaml": "units: [sshd]\n"}, []string{`main.yaml:1: units[0]: invalid systemd unit name "sshd"`}},
		{"units without machineid-compat", map[string]string{"main.yaml": "units: [a.service]\nmachineid-compat: false\n"}, []string{`main.yaml:2: machineid-compat: units cannot be enabled with machineid-compat: false`}},
		{"default-target invalid", map[string]string{"main.yaml": "default-target: sshd.service\n"}, []string{`main.yaml:1: default-target: invalid target "sshd.service"`}},
		{"machineid-compat type", map[string]string{"main.yaml": "machineid-compat: 1\n"}, []string{`main.yaml:1: machineid-compat: want true or false, got the integer 1`}},
		{"initramfs-args type", map[string]string{"main.yaml": "initramfs-args: --no-hostonly\n"}, []string{`main.yaml:1: initramfs-args: want a list of strings`}},
		{"boot-location value", map[string]string{"main.yaml": "boot-location: usr\n"}, []string{`main.yaml:1: boot-location: invalid value "usr"; want modules`}},
		{"boot-location new", map[string]string{"main.yaml": "boot-location: new\n"}, []string{`main.yaml:1: boot-location: "new" is not supported by apt-ostree yet: the kernel and initramfs go to /usr/lib/modules/$kver only; use modules`}},
		{"boot_location kernel-install", map[string]string{"main.yaml": "boot_location: kernel-install\n"}, []string{`main.yaml:1: boot-location: "kernel-install" is not supported by apt-ostree yet`}},
		{"opt-usrlocal value", map[string]string{"main.yaml": "opt-usrlocal: x\n"}, []string{`main.yaml:1: opt-usrlocal: invalid value "x"; want var or root`}},
		{"opt-usrlocal stateoverlay", map[string]string{"main.yaml": "opt-usrlocal: stateoverlay\n"}, []string{`main.yaml:1: opt-usrlocal: stateoverlay is not supported by apt-ostree yet`}},
		{"install-langs type", map[string]string{"main.yaml": "install-langs: en_US\n"}, []string{`main.yaml:1: install-langs: want a list of strings`}},
		{"install-langs empty", map[string]string{"main.yaml": "install-langs: []\n"}, []string{`main.yaml:1: install-langs: empty list; name the languages to keep`}},
		{"install-langs invalid", map[string]string{"main.yaml": "install-langs:\n  - en_US\n  - en*\n"}, []string{`main.yaml:3: install-langs[1]: invalid locale name "en*"`}},
		{"readonly-executables type", map[string]string{"main.yaml": "readonly-executables: 1\n"}, []string{`main.yaml:1: readonly-executables: want true or false`}},
		{"ignore-devices type", map[string]string{"main.yaml": "ignore-devices: 'no'\n"}, []string{`main.yaml:1: ignore-devices: want true or false`}},
		{"preserve-passwd type", map[string]string{"main.yaml": "preserve-passwd: []\n"}, []string{`main.yaml:1: preserve-passwd: want true or false`}},
		{"composefs value", map[string]string{"main.yaml": "composefs: verity\n"}, []string{`main.yaml:1: composefs: want yes, maybe or no (prepare-root.conf's [composefs] enabled), got`}},
		{"composefs boolean", map[string]string{"main.yaml": "composefs: true\n"}, []string{`main.yaml:1: composefs: want yes, maybe or no`}},
		{"tmp-is-dir type", map[string]string{"main.yaml": "tmp-is-dir: yes\n"}, []string{`main.yaml:1: tmp-is-dir: want true or false`}},
		{"etc-group-members invalid", map[string]string{"main.yaml": "etc-group-members: [Wheel]\n"}, []string{`main.yaml:1: etc-group-members[0]: invalid user/group name "Wheel"`}},
		{"automatic-version-prefix type", map[string]string{"main.yaml": "automatic-version-prefix: 13\n"}, []string{`main.yaml:1: automatic-version-prefix: want a string, got the integer 13 (quote it)`}},
		{"automatic-version-suffix length", map[string]string{"main.yaml": "automatic-version-suffix: '..'\n"}, []string{`main.yaml:1: automatic-version-suffix: want exactly one printable ASCII character`}},
		{"mutate-os-release type", map[string]string{"main.yaml": "mutate-os-release: 13\n"}, []string{`main.yaml:1: mutate-os-release: want a string, got the integer 13 (quote it)`}},
		{"metadata type", map[string]string{"main.yaml": "metadata: [a]\n"}, []string{`main.yaml:1: metadata: want a mapping`}},
		{"metadata nested non-string key", map[string]string{"main.yaml": "metadata:\n  a:\n    1: x\n"}, []string{`main.yaml:3: metadata.a: line 3: map key is the integer 1, want a string`}},
		{"add-commit-metadata type", map[string]string{"main.yaml": "add-commit-metadata: x\n"}, []string{`main.yaml:1: add-commit-metadata: want a mapping`}},
		{"container-cmd type", map[string]string{"main.yaml": "container-cmd: /sbin/init\n"}, []string{`main.yaml:1: container-cmd: want a list of strings`}},
		{"container-cmd empty", map[string]string{"main.yaml": "container-cmd: []\n"}, []string{`main.yaml:1: container-cmd: empty command`}},
		{"container type", map[string]string{"main.yaml": "container: 'true'\n"}, []string{`main.yaml:1: container: want true or false, got the string "true"`}},

		// Includes.
		{"include cycle", map[string]string{"main.yaml": "include: a.yaml\n", "a.yaml": "include: b.yaml\n", "b.yaml": "\ninclude: a.yaml\n"},
			[]string{`b.yaml:2: include: include cycle: `, `a.yaml -> `, `b.yaml -> `, `a.yaml`}},
		{"include self", map[string]string{"main.yaml": "include: main.yaml\n"}, []string{`main.yaml:1: include: include cycle: `}},
		{"include diamond", map[string]string{"main.yaml": "include: [a.yaml, b.yaml]\n", "a.yaml": "include: c.yaml\n", "b.yaml": "include: c.yaml\n", "c.yaml": "ref: c\n"},
			[]string{`b.yaml:1: include: `, `c.yaml is already included by `, `a.yaml:1; a file may be included only once`}},
		{"error in included file", map[string]string{"main.yaml": "include: sub/a.yaml\n", "sub/a.yaml": "ref: r\nunits: x\n"}, []string{filepath.Join("sub", "a.yaml") + `:2: units: want a list of strings`}},

		// JSON input keeps line numbers.
		{"json type error", map[string]string{"main.yaml": "include: t.json\n", "t.json": "{\n  \"ref\": \"a\",\n  \"packages\": [\n    \"ok\",\n    42\n  ]\n}\n"}, []string{`t.json:5: packages[1]: want a string, got the integer 42`}},
		{"json syntax", map[string]string{"main.yaml": "include: t.json\n", "t.json": "{\n  \"ref\": \"a\",\n  \"packages\": [\"x\",]\n}\n"}, []string{`t.json:3: invalid JSON`}},
		{"json alias conflict", map[string]string{"main.yaml": "include: t.json\n", "t.json": "{\"automatic-version-prefix\": \"1\",\n \"automatic_version_prefix\": \"2\"}"}, []string{`t.json:2: automatic_version_prefix: both`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := loadFiles(t, tc.files, "main.yaml", Options{})
			if err == nil {
				t.Fatalf("Load succeeded, want error containing %q", tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			var te *Error
			if !errors.As(err, &te) || te.File == "" {
				t.Errorf("error %v is not a located *Error", err)
			}
		})
	}
}

func TestComposefsKey(t *testing.T) {
	for _, v := range []string{"yes", "maybe", "no"} {
		tf, _ := mustLoad(t, map[string]string{"main.yaml": "include: inc.yaml\n", "inc.yaml": "composefs: " + v + "\n"}, Options{})
		if tf.Composefs != v {
			t.Errorf("composefs: %s loaded as %q", v, tf.Composefs)
		}
	}
	if tf, _ := mustLoad(t, map[string]string{"main.yaml": "ref: x\n"}, Options{}); tf.Composefs != "" {
		t.Errorf("unset composefs loaded as %q", tf.Composefs)
	}
}
