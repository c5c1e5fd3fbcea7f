package bootc

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/BurntSushi/toml"
)

// TreefileJSONPath is where the merged treefile is recorded in the commit,
// like rpm-ostree's usr/share/rpm-ostree/treefile.json.
const TreefileJSONPath = "usr/share/apt-ostree/treefile.json"

// writeTreefileJSON records opts.TreefileJSON, which must be valid JSON.
func writeTreefileJSON(ctx context.Context, root string, opts Options) error {
	if opts.TreefileJSON == nil {
		return nil
	}
	if !json.Valid(opts.TreefileJSON) {
		return fmt.Errorf("merged treefile for /%s is not valid JSON", TreefileJSONPath)
	}
	return rootfs(root).writeFile(TreefileJSONPath, opts.TreefileJSON, 0o644)
}

// PrepareRootConfPath is ostree-prepare-root's configuration in the image.
const PrepareRootConfPath = "usr/lib/ostree/prepare-root.conf"

// composefsOn are the [composefs] enabled= values bootc's
// baseimage-composefs lint accepts.
var composefsOn = map[string]bool{"yes": true, "true": true, "1": true, "maybe": true, "signed": true, "verity": true}

// Composefs values of Options.Composefs (the treefile's composefs key),
// written as prepare-root.conf's "[composefs] enabled".
const (
	ComposefsYes   = "yes"
	ComposefsMaybe = "maybe"
	ComposefsNo    = "no"
)

// WritePrepareRootConf makes ostree-prepare-root mount the deployment
// through composefs with a read-only /sysroot, as bootc base images do.
// "[composefs] enabled" is opts.Composefs when set; otherwise "yes" when the
// tree's own ostree is built with composefs (DetectOstreeComposefs) and
// "maybe" when it is not, or the tree has none: such an ostree refuses to
// deploy a commit that says "yes", while "maybe" uses composefs wherever
// it is available. opts.Composefs "yes" with an ostree that lacks composefs
// is an error. "[sysroot] readonly = true" is added when missing.
//
// Without opts.Composefs, a file a package already ships is kept, and only
// the keys it lacks are added; an explicit "enabled = no" is respected with
// a warning (bootc lints it). The initramfs carries its own copy of this
// file, so assembly should call this before building the initramfs;
// running it again here changes nothing.
func WritePrepareRootConf(ctx context.Context, root string, opts Options) error {
	r := rootfs(root)
	data, _, err := r.readFile(PrepareRootConfPath)
	if err != nil {
		return err
	}
	kf := parseKeyfile(data)
	cur, has := kf.get("composefs", "enabled")
	switch opts.Composefs {
	case "":
		if !has {
			if t, _ := kf.get("root", "transient"); t != "true" && t != "1" {
				v, err := composefsDefault(root, opts)
				if err != nil {
					return err
				}
				kf.set("composefs", "enabled", v)
			}
		} else if !composefsOn[strings.ToLower(cur)] {
			opts.log().Warn("prepare-root.conf disables composefs; bootc images should enable it", "path", "/"+PrepareRootConfPath, "enabled", cur)
		}
	case ComposefsYes:
		support, err := DetectOstreeComposefs(os.DirFS(root))
		if err != nil {
			return err
		}
		if support.Present() && !support.Supported {
			return fmt.Errorf("treefile composefs: yes, but the tree's ostree (%s) is built without composefs and would refuse to deploy it (\"composefs: enabled at runtime, but support is not compiled in\"): use composefs: maybe, or install an ostree built with composefs", support.Path)
		}
		kf.put("composefs", "enabled", ComposefsYes)
	case ComposefsMaybe, ComposefsNo:
		kf.put("composefs", "enabled", opts.Composefs)
	default:
		return fmt.Errorf("composefs %q: want yes, maybe or no", opts.Composefs)
	}
	if _, ok := kf.get("sysroot", "readonly"); !ok {
		kf.set("sysroot", "readonly", "true")
	}
	out := kf.bytes()
	if bytes.Equal(out, data) {
		return nil
	}
	return r.writeFile(PrepareRootConfPath, out, 0o644)
}

// composefsDefault is "yes" when the tree's ostree has composefs, else "maybe".
func composefsDefault(root string, opts Options) (string, error) {
	support, err := DetectOstreeComposefs(os.DirFS(root))
	if err != nil {
		return "", err
	}
	switch {
	case support.Supported:
		opts.log().Debug("composefs: the tree's ostree has it", "path", support.Path)
		return ComposefsYes, nil
	case support.Present():
		opts.log().Info("composefs: the tree's ostree is built without it; prepare-root.conf says enabled = maybe", "path", support.Path)
	default:
		opts.log().Info("composefs: the tree carries no ostree; prepare-root.conf says enabled = maybe")
	}
	return ComposefsMaybe, nil
}

// keyfile is a GLib key file kept as lines, so rewriting one preserves
// its comments and layout.
type keyfile struct{ lines []string }

func parseKeyfile(data []byte) *keyfile {
	s := strings.TrimRight(string(data), "\n")
	if s == "" {
		return &keyfile{}
	}
	return &keyfile{lines: strings.Split(s, "\n")}
}

// section returns the index of the header of group and the end (exclusive)
// of its lines; -1 if absent. The last group of a name wins, as in GLib.
func (k *keyfile) section(group string) (start, end int) {
	start = -1
	for i, l := range k.lines {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			if start >= 0 && end < 0 {
				end = i
			}
			if t == "["+group+"]" {
				start, end = i, -1
			}
		}
	}
	if start >= 0 && end < 0 {
		end = len(k.lines)
	}
	return start, end
}

func (k *keyfile) get(group, key string) (string, bool) {
	start, end := k.section(group)
	if start < 0 {
		return "", false
	}
	val, found := "", false
	for _, l := range k.lines[start+1 : end] {
		name, v, ok := strings.Cut(l, "=")
		if ok && strings.TrimSpace(name) == key && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			val, found = strings.TrimSpace(v), true
		}
	}
	return val, found
}

// set adds key = value at the end of group (creating it); callers only set
// keys that get reported missing.
func (k *keyfile) set(group, key, value string) {
	line := key + " = " + value
	start, end := k.section(group)
	if start < 0 {
		if len(k.lines) > 0 {
			k.lines = append(k.lines, "")
		}
		k.lines = append(k.lines, "["+group+"]", line)
		return
	}
	at := end
	for at > start+1 && strings.TrimSpace(k.lines[at-1]) == "" {
		at--
	}
	k.lines = append(k.lines[:at], append([]string{line}, k.lines[at:]...)...)
}

// put sets key = value in group, replacing the line that sets it now.
func (k *keyfile) put(group, key, value string) {
	start, end := k.section(group)
	if start >= 0 {
		for i := end - 1; i > start; i-- {
			name, _, ok := strings.Cut(k.lines[i], "=")
			if ok && strings.TrimSpace(name) == key && !strings.HasPrefix(strings.TrimSpace(k.lines[i]), "#") {
				k.lines[i] = key + " = " + value
				return
			}
		}
	}
	k.set(group, key, value)
}

func (k *keyfile) bytes() []byte {
	if len(k.lines) == 0 {
		return nil
	}
	return []byte(strings.Join(k.lines, "\n") + "\n")
}

// KargsDir holds bootc's kernel argument files.
const KargsDir = "usr/lib/bootc/kargs.d"

// kargsFile is the file PostProcess writes opts.Kargs to.
const kargsFile = "10-apt-ostree.toml"

// postprocessKargs writes opts.Kargs, if any, with WriteKargs.
func postprocessKargs(ctx context.Context, root string, opts Options) error {
	if len(opts.Kargs) == 0 {
		return nil
	}
	return WriteKargs(root, kargsFile, opts.Kargs)
}

// kargsTOML is bootc's kargs.d schema; bootc rejects any other key.
type kargsTOML struct {
	Kargs []string `toml:"kargs"`
}

// WriteKargs writes /usr/lib/bootc/kargs.d/<name> (name must end in .toml)
// as `kargs = ["...", ...]`, the format bootc appends to the kernel
// command line of each deployment.
func WriteKargs(root, name string, kargs []string) error {
	if !strings.HasSuffix(name, ".toml") || strings.Contains(name, "/") || name == ".toml" {
		return fmt.Errorf("kargs file name %q: want NAME.toml (bootc reads only *.toml in /%s)", name, KargsDir)
	}
	if err := checkKargs(kargs); err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString("# Written by apt-ostree from the treefile.\n")
	if err := toml.NewEncoder(&buf).Encode(kargsTOML{Kargs: kargs}); err != nil {
		return fmt.Errorf("encode /%s/%s: %w", KargsDir, name, err)
	}
	return rootfs(root).writeFile(path.Join(KargsDir, name), buf.Bytes(), 0o644)
}

func checkKargs(kargs []string) error {
	for _, k := range kargs {
		if strings.TrimSpace(k) == "" || strings.ContainsAny(k, "\n\r\x00") {
			return fmt.Errorf("kernel argument %q: empty or contains a newline or NUL", k)
		}
	}
	return nil
}
