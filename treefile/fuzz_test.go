package treefile

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes as a YAML and as a JSON treefile. Load
// may reject them but must never panic, and a success must print as JSON.
func FuzzLoad(f *testing.F) {
	seeds := []string{
		"ref: debian/13/${basearch}/x\nreleasever: 13\npackages: [systemd, 'a b', \"'libc6 (>= 1)'\"]\n",
		"repos:\n  - {name: d, url: 'http://127.0.0.1/d', suites: [trixie], components: [main], trusted: true}\n",
		"include: [a.yaml, main.yaml]\narch-include: {amd64: x.yaml}\n",
		"variables: {a: 1, b: true, c: s}\nmetadata: {x: ${a}, y: [1, {z: null}]}\nadd-commit-metadata: {l: v}\n",
		"x: &a [*a]\nmetadata: {k: &b [*b, *b]}\n",
		"add-files: [[f, /usr/f]]\nremove-from-packages: [[pkg, '(']]\ncontainer-cmd: [/sbin/init]\n",
		`{"ref": "a\/b", "packages": ["x\ud83d\ude00"], "metadata": {"n": 1e999}}`,
		"packages-amd64: [a1]\npackages-x86_64: [b]\ndefault_target: a.target\ndefault-target: b.target\n",
		"- a\n", "", "{", "---\n---\n", "metadata: {.inf: .nan}\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"main.yaml", "main.json"} {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			tf, err := Load(context.Background(), p, Options{Arch: "amd64"})
			if err != nil {
				continue
			}
			if _, err := tf.JSON(); err != nil {
				t.Fatalf("loaded treefile does not print: %v", err)
			}
			if _, err := tf.Digest(context.Background()); err != nil {
				t.Fatalf("loaded treefile has no digest: %v", err)
			}
		}
	})
}
