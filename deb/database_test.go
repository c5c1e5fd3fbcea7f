package deb

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apt-ostree/apt-ostree/internal/testdeb"
)

func TestStatusStanza(t *testing.T) {
	ctl, err := ParseControl([]byte("Package: x\nVersion: 1\nHomepage: https://example.invalid\nArchitecture: amd64\nEssential: no\n" +
		"Depends: y\nMaintainer: M <m@example.invalid>\nDescription: short\n long\n .\n more\nPre-depends: z\nBuilt-Using: q (= 1)\nSize: 3\nFilename: pool/x.deb\n"))
	if err != nil {
		t.Fatal(err)
	}
	u := &Unpacked{Package: &Package{Control: ctl}, Conffiles: []Conffile{{Path: "/etc/x"}}}
	want := "Package: x\nStatus: install ok unpacked\nMaintainer: M <m@example.invalid>\nArchitecture: amd64\nVersion: 1\n" +
		"Depends: y\nPre-Depends: z\nConffiles:\n /etc/x newconffile\nDescription: short\n long\n .\n more\n" +
		"Homepage: https://example.invalid\nBuilt-Using: q (= 1)\n"
	if got := string(StatusStanza(u)); got != want {
		t.Errorf("stanza\n%s\nwant\n%s", got, want)
	}
}

// dbPackages are small script-less packages that exercise the database:
// dependencies, a conffile, generated md5sums, trigger interests,
// Multi-Arch: same naming, an arch: all package and extra control members.
func dbPackages(t *testing.T) []*Package {
	return []*Package{
		build(t, testdeb.Package{Name: "alpha", Version: "1.0-1", Fields: map[string]string{"Depends": "beta (>= 2), libgamma", "Homepage": "https://example.invalid", "Priority": "optional", "Section": "misc"},
			Conffiles:    []string{"/etc/alpha.conf"},
			ControlFiles: map[string]string{"shlibs": "libalpha 1 alpha\n", "templates": "Template: alpha/q\nType: boolean\n"},
			Files: []testdeb.File{
				{Path: "etc/alpha.conf", Body: "setting=1\n"},
				{Path: "usr/bin/alpha", Mode: 0o755, Body: "#!/bin/sh\n"},
				{Path: "usr/bin/alpha-ln", Type: tar.TypeSymlink, Link: "alpha"},
			}}),
		build(t, testdeb.Package{Name: "beta", Version: "2.1", NoMD5sums: true, Compression: "zst",
			Triggers: "interest-noawait /usr/share/beta\ninterest beta-refresh\n",
			Files:    []testdeb.File{{Path: "usr/share/beta/data", Body: "beta"}, {Path: "usr/share/beta/data2", Type: tar.TypeLink, Link: "usr/share/beta/data"}}}),
		build(t, testdeb.Package{Name: "libgamma", Version: "3", Fields: map[string]string{"Multi-Arch": "same"}, Compression: "xz",
			Triggers: "activate-noawait ldconfig\n",
			Files:    []testdeb.File{{Path: "usr/lib/x86_64-linux-gnu/libgamma.so.3", Body: "elf"}}}),
		build(t, testdeb.Package{Name: "delta", Arch: "all", Fields: map[string]string{"Essential": "no"}, Files: []testdeb.File{{Path: "usr/share/delta/README", Body: "d"}}}),
	}
}

func TestWriteDatabaseLayout(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	res, err := Unpack(t.Context(), root, dbPackages(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1750000000, 0)
	if err := WriteDatabase(t.Context(), root, res, DatabaseOptions{Arch: "amd64", ForeignArches: []string{"i386"}, Now: now}); err != nil {
		t.Fatal(err)
	}
	admin := filepath.Join(root, AdminDir)
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(admin, p))
		if err != nil {
			t.Error(err)
		}
		return string(b)
	}
	files := map[string]string{
		"info/format":                  "1\n",
		"arch":                         "amd64\ni386\n",
		"diversions":                   "",
		"triggers/File":                "/usr/share/beta beta/noawait\n",
		"triggers/beta-refresh":        "beta\n",
		"triggers/Unincorp":            "",
		"info/libgamma:amd64.list":     "/.\n/usr\n/usr/lib\n/usr/lib/x86_64-linux-gnu\n/usr/lib/x86_64-linux-gnu/libgamma.so.3\n",
		"info/alpha.conffiles":         "/etc/alpha.conf\n",
		"info/alpha.shlibs":            "libalpha 1 alpha\n",
		"info/beta.triggers":           "interest-noawait /usr/share/beta\ninterest beta-refresh\n",
		"info/libgamma:amd64.triggers": "activate-noawait ldconfig\n",
		"info/beta.md5sums":            "5a0b4c1d3ba9d1e8d8e2e0bb6d5ad7b8  usr/share/beta/data\n5a0b4c1d3ba9d1e8d8e2e0bb6d5ad7b8  usr/share/beta/data2\n",
	}
	for p, want := range files {
		if p == "info/beta.md5sums" {
			want = strings.ReplaceAll(want, "5a0b4c1d3ba9d1e8d8e2e0bb6d5ad7b8", md5hex("beta"))
		}
		if got := read(p); got != want {
			t.Errorf("%s = %q, want %q", p, got, want)
		}
	}
	for _, d := range []string{"updates", "alternatives", "triggers"} {
		if fi, err := os.Stat(filepath.Join(admin, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(admin, "info/alpha.list")); err != nil || !fi.ModTime().Equal(now) {
		t.Errorf("alpha.list mtime: %v %v", fi.ModTime(), err)
	}
	status := read("status")
	var names []string
	for _, l := range strings.Split(status, "\n") {
		if n, ok := strings.CutPrefix(l, "Package: "); ok {
			names = append(names, n)
		}
	}
	if strings.Join(names, " ") != "alpha beta delta libgamma" {
		t.Errorf("status order %v", names)
	}
	if strings.Contains(status, "Essential") || strings.Count(status, "Status: install ok unpacked\n") != 4 {
		t.Errorf("status:\n%s", status)
	}
}

func md5hex(s string) string {
	out, _ := exec.Command("sh", "-c", "printf %s \"$1\" | md5sum | cut -d' ' -f1", "sh", s).Output()
	return strings.TrimSpace(string(out))
}

// TestDpkgConfiguresUnpackedRoot uses the real dpkg as the judge: it must
// configure what Unpack and WriteDatabase produced, then audit and verify
// clean.
func TestDpkgConfiguresUnpackedRoot(t *testing.T) {
	needRoot(t)
	needTool(t, "dpkg")
	root := t.TempDir()
	res, err := Unpack(t.Context(), root, dbPackages(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteDatabase(t.Context(), root, res, DatabaseOptions{Arch: "amd64"}); err != nil {
		t.Fatal(err)
	}
	admin := filepath.Join(root, AdminDir)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("dpkg", "--root="+root, "--force-confdef", "--force-confold", "--configure", "-a"); strings.Contains(out, "warning") {
		t.Errorf("dpkg --configure -a warned:\n%s", out)
	}
	if out := run("dpkg", "--root="+root, "--audit"); out != "" {
		t.Errorf("dpkg --audit:\n%s", out)
	}
	if out := run("dpkg", "--root="+root, "--verify"); out != "" {
		t.Errorf("dpkg --verify:\n%s", out)
	}
	got := run("dpkg-query", "--admindir="+admin, "-W", "-f", "${Package}:${Architecture} ${Status}\n")
	want := "alpha:amd64 install ok installed\nbeta:amd64 install ok installed\ndelta:all install ok installed\nlibgamma:amd64 install ok installed\n"
	if got != want {
		t.Errorf("dpkg-query -W:\n%s\nwant\n%s", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(root, "etc/alpha.conf")); err != nil || string(b) != "setting=1\n" {
		t.Errorf("conffile after configure: %q %v", b, err)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/alpha.conf.dpkg-new")); err == nil {
		t.Error(".dpkg-new left after configure")
	}
	if out := run("dpkg-query", "--admindir="+admin, "-W", "-f", "${Conffiles}", "alpha"); !strings.Contains(out, "/etc/alpha.conf "+md5hex("setting=1\n")) {
		t.Errorf("alpha Conffiles after configure: %q", out)
	}
	if out := run("dpkg-query", "--admindir="+admin, "-S", "/usr/share/beta/data2"); !strings.HasPrefix(out, "beta:") {
		t.Errorf("dpkg-query -S: %q", out)
	}
}

// TestDpkgRunsTriggersFromWrittenInterests checks the triggers/ files that
// WriteDatabase writes: an explicit trigger activated during configure must
// reach the interested package's postinst. Scripts run chrootless on the
// host and only write below $DPKG_ROOT.
func TestDpkgRunsTriggersFromWrittenInterests(t *testing.T) {
	needRoot(t)
	needTool(t, "dpkg")
	logScript := "#!/bin/sh\necho \"$DPKG_MAINTSCRIPT_PACKAGE $*\" >> \"$DPKG_ROOT/log\"\n"
	pkgs := []*Package{
		build(t, testdeb.Package{Name: "watcher", Triggers: "interest watched\ninterest-noawait /usr/share/watched\n",
			Scripts: map[string]string{"postinst": logScript},
			Files:   []testdeb.File{{Path: "usr/share/doc/watcher/README", Body: "w"}}}),
		build(t, testdeb.Package{Name: "poker", Fields: map[string]string{"Depends": "watcher"}, Triggers: "activate-noawait watched\n",
			Scripts: map[string]string{"postinst": logScript},
			Files:   []testdeb.File{{Path: "usr/share/doc/poker/README", Body: "p"}}}),
	}
	root := t.TempDir()
	res, err := Unpack(t.Context(), root, pkgs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteDatabase(t.Context(), root, res, DatabaseOptions{Arch: "amd64"}); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dpkg", "--root="+root, "--force-script-chrootless", "--configure", "-a").CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg --configure -a: %v\n%s", err, out)
	}
	log, _ := os.ReadFile(filepath.Join(root, "log"))
	want := "watcher configure \npoker configure \nwatcher triggered watched\n"
	if string(log) != want {
		t.Errorf("script log:\n%s\nwant\n%s\ndpkg said:\n%s", log, want, out)
	}
	if out, _ := exec.Command("dpkg", "--root="+root, "--audit").CombinedOutput(); len(out) != 0 {
		t.Errorf("dpkg --audit:\n%s", out)
	}
}

// TestDpkgRunsBaseFileTriggersOnce: a package unpacked onto a configured
// base ships a file below a base package's file-trigger interest. Add
// must leave that trigger pending, as dpkg's unpack would, so that
// "dpkg --configure -a" runs it once (and nothing for an interest no new
// file matches).
func TestDpkgRunsBaseFileTriggersOnce(t *testing.T) {
	needRoot(t)
	needTool(t, "dpkg")
	logScript := "#!/bin/sh\necho \"$DPKG_MAINTSCRIPT_PACKAGE $*\" >> \"$DPKG_ROOT/log\"\n"
	root := t.TempDir()
	base := []*Package{
		build(t, testdeb.Package{Name: "watcher", Triggers: "interest-noawait /usr/share/watched\ninterest /usr/share/other\n",
			Fields:  map[string]string{"Description": "watches\n more", "Homepage": "https://example.invalid"},
			Scripts: map[string]string{"postinst": logScript},
			Files:   []testdeb.File{{Path: "usr/share/watched/base", Body: "b"}}}),
	}
	res, err := Unpack(t.Context(), root, base, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteDatabase(t.Context(), root, res, DatabaseOptions{Arch: "amd64"}); err != nil {
		t.Fatal(err)
	}
	dpkg := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("dpkg", append([]string{"--root=" + root, "--force-script-chrootless"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	dpkg("--configure", "-a")
	os.Remove(filepath.Join(root, "log"))
	db, err := OpenDatabase(root)
	if err != nil {
		t.Fatal(err)
	}
	extra := []*Package{build(t, testdeb.Package{Name: "poker", Scripts: map[string]string{"postinst": logScript},
		Files: []testdeb.File{{Path: "usr/share/watched/new/file", Body: "n"}}})}
	res, err = Unpack(t.Context(), root, extra, Options{Installed: db})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Add(t.Context(), res, DatabaseOptions{}); err != nil {
		t.Fatal(err)
	}
	w := db.Lookup("watcher", "")
	if w.State != "triggers-pending" || w.Control.Get("Triggers-Pending") != "/usr/share/watched" {
		t.Fatalf("watcher after Add: %s, Triggers-Pending %q", w.State, w.Control.Get("Triggers-Pending"))
	}
	status, _ := os.ReadFile(filepath.Join(root, AdminDir, "status"))
	if !strings.Contains(string(status), "Description: watches\n more\nTriggers-Pending: /usr/share/watched\nHomepage:") {
		t.Errorf("Triggers-Pending not where dpkg writes it:\n%s", status)
	}
	out := dpkg("--configure", "-a")
	log, _ := os.ReadFile(filepath.Join(root, "log"))
	if want := "poker configure \nwatcher triggered /usr/share/watched\n"; string(log) != want {
		t.Errorf("script log:\n%s\nwant\n%s\ndpkg said:\n%s", log, want, out)
	}
	if out := dpkg("--audit"); out != "" {
		t.Errorf("dpkg --audit:\n%s", out)
	}
}
