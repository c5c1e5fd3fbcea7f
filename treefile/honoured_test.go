package treefile

import (
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// honouredHere are accepted keys that no code outside this package needs
// to read, each with the reason it is nonetheless honoured.
var honouredHere = map[string]string{
	"include":       "consumed by the loader",
	"arch-include":  "consumed by the loader",
	"variables":     "consumed by the loader (substitution)",
	"releasever":    "only the ${releasever} variable: apt has no $releasever",
	"metadata":      "only printed (JSON) and kept out of the input hash (CanonicalJSON), as rpm-ostree does",
	"boot-location": "only modules is accepted, which is what bootc always does",
}

// TestEveryKeyHonouredOrRefused enforces the rule that a treefile key is
// honoured or refused: every accepted key's Treefile field must be read by
// non-test code outside this package (found by type-checking the module),
// unless honouredHere says why not. A key added to keys and to Treefile
// but wired nowhere fails here.
func TestEveryKeyHonouredOrRefused(t *testing.T) {
	fieldOf := map[string]string{} // key -> Treefile field name
	tt := reflect.TypeFor[Treefile]()
	for i := range tt.NumField() {
		f := tt.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
			fieldOf[name] = f.Name
		}
	}
	for k := range honouredHere {
		if keys[k] == nil {
			t.Errorf("honouredHere names %q, which is not an accepted key", k)
		}
	}
	for k := range keys {
		if hasKey(notYet, k) || rpmOnly[k] != "" {
			t.Errorf("%q is both accepted and refused", k)
		}
	}

	read := fieldsReadOutside(t)
	for k := range keys {
		if _, ok := honouredHere[k]; ok {
			continue
		}
		field, ok := fieldOf[k]
		if !ok {
			t.Errorf("key %q has no Treefile field: nothing can honour it; refuse it in notYet or add a field", k)
			continue
		}
		if !read[field] {
			t.Errorf("key %q is accepted but Treefile.%s is read nowhere outside package treefile: honour it, or refuse it (notYet) with \"not supported by apt-ostree yet\"", k, field)
		}
	}
}

// TestRefusedKeys checks that every refused key is refused with the
// message the project promises, whatever its value.
func TestRefusedKeys(t *testing.T) {
	for k := range notYet {
		t.Run(k, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "main.yaml")
			if err := os.WriteFile(p, []byte("ref: a\n"+k+": ~\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(context.Background(), p, Options{Arch: "amd64"})
			if err == nil || !strings.Contains(err.Error(), k+": rpm-ostree key not supported by apt-ostree yet") {
				t.Errorf("got %v", err)
			}
		})
	}
}

type listedPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Export     string
	Module     *struct{ Main bool }
}

// fieldsReadOutside type-checks every package of the main module except
// this one (non-test files) against compiler export data from `go list
// -export`, and returns the names of the Treefile fields they select.
func fieldsReadOutside(t *testing.T) map[string]bool {
	t.Helper()
	// go test puts its own GOROOT/bin first in PATH.
	cmd := exec.Command("go", "list", "-e", "-export", "-deps", "-json=ImportPath,Dir,GoFiles,Export,Module", "./...")
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	exports := map[string]string{}
	var mine []listedPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		exports[p.ImportPath] = p.Export
		if p.Module != nil && p.Module.Main {
			mine = append(mine, p)
		}
	}
	self := reflect.TypeFor[Treefile]().PkgPath()
	fset := token.NewFileSet()
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		if exports[path] == "" {
			return nil, errors.New("no export data for " + path)
		}
		return os.Open(exports[path])
	})
	read := map[string]bool{}
	checked := 0
	for _, p := range mine {
		if p.ImportPath == self || len(p.GoFiles) == 0 {
			continue
		}
		var files []*ast.File
		imports := false
		for _, name := range p.GoFiles {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
			imports = imports || slices.ContainsFunc(f.Imports, func(s *ast.ImportSpec) bool { return s.Path.Value == `"`+self+`"` })
		}
		if !imports {
			continue
		}
		info := &types.Info{Selections: map[*ast.SelectorExpr]*types.Selection{}}
		conf := types.Config{Importer: imp}
		if _, err := conf.Check(p.ImportPath, fset, files, info); err != nil {
			t.Fatalf("type-check %s: %v", p.ImportPath, err)
		}
		checked++
		for _, sel := range info.Selections {
			if sel.Kind() != types.FieldVal {
				continue
			}
			recv := sel.Recv()
			if ptr, ok := recv.(*types.Pointer); ok {
				recv = ptr.Elem()
			}
			if named, ok := types.Unalias(recv).(*types.Named); ok && named.Obj().Pkg() != nil &&
				named.Obj().Pkg().Path() == self && named.Obj().Name() == "Treefile" {
				read[sel.Obj().Name()] = true
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package outside treefile imports it: the check would prove nothing")
	}
	return read
}
