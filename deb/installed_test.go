package deb

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// writeTree creates files (path -> content) under root; a value starting
// with "->" makes a symlink.
func writeTree(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		if target, ok := strings.CutPrefix(c, "->"); ok {
			err = os.Symlink(target, full)
		} else {
			err = os.WriteFile(full, []byte(c), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

const testStatus = `Package: bash
Essential: yes
Status: install ok installed
Priority: required
Architecture: amd64
Multi-Arch: foreign
Version: 5.2.37-2
Conffiles:
 /etc/bash.bashrc 89269e1298235f1b12b4c16e4065ad0d
 /etc/skel/.bashrc 7ebe2fdfba7d2c5e2b5d1ed2e5e04c2d obsolete
Description: GNU Bourne Again SHell

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.41-12
Description: GNU C Library: Shared libraries

Package: libc6
Status: install ok installed
Architecture: i386
Multi-Arch: same
Version: 2.41-12
Description: GNU C Library: Shared libraries

Package: old
Status: deinstall ok config-files
Architecture: all
Version: 1
Config-Version: 1
`

func testDBFiles(admin string) map[string]string {
	return map[string]string{
		admin + "/status":                   testStatus,
		admin + "/arch":                     "amd64\ni386\n",
		admin + "/info/bash.list":           "/.\n/bin\n/usr\n/usr/bin\n/usr/bin/bash\n/etc/bash.bashrc\n",
		admin + "/info/bash.md5sums":        "0123456789abcdef0123456789abcdef  usr/bin/bash\n",
		admin + "/info/libc6:amd64.list":    "/.\n/usr\n/usr/lib\n/usr/lib/x86_64-linux-gnu/libc.so.6\n/usr/share/doc/libc6/copyright\n",
		admin + "/info/libc6:i386.list":     "/.\n/usr\n/usr/lib\n/usr/lib/i386-linux-gnu/libc.so.6\n/usr/share/doc/libc6/copyright\n",
		admin + "/diversions":               "/usr/bin/foo\n/usr/bin/foo.distrib\nbash\n/etc/x\n/etc/x.real\n:\n",
		admin + "/statoverride":             "root crontab 2755 /usr/bin/crontab\n",
		admin + "/alternatives/pager":       "auto\n/usr/bin/pager\npager.1.gz\n/usr/share/man/man1/pager.1.gz\n\n/bin/more\n50\n/usr/share/man/man1/more.1.gz\n/usr/bin/less\n77\n\n\n",
		admin + "/alternatives/.hidden":     "x",
		admin + "/updates/tmp.i":            "",
		admin + "/info/bash.postinst":       "#!/bin/sh\n",
		admin + "/triggers/File":            "",
		admin + "/info/old.conffiles":       "/etc/old\n",
		admin + "/info/format":              "1\n",
		admin + "/info/libc6:amd64.md5sums": "",
	}
}

func TestDatabaseRead(t *testing.T) {
	layouts := []struct {
		name  string
		files map[string]string
		dir   string
	}{
		{"var/lib/dpkg", testDBFiles("var/lib/dpkg"), "var/lib/dpkg"},
		{"usr/share/dpkg/database", testDBFiles("usr/share/dpkg/database"), "usr/share/dpkg/database"},
		{"relative link", merge(testDBFiles("usr/share/dpkg/database"), map[string]string{"var/lib/dpkg": "->../../usr/share/dpkg/database"}), "usr/share/dpkg/database"},
		// An absolute link must be followed inside the root, never on the host.
		{"absolute link", merge(testDBFiles("usr/share/dpkg/database"), map[string]string{"var/lib/dpkg": "->/usr/share/dpkg/database"}), "usr/share/dpkg/database"},
	}
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			root := t.TempDir()
			writeTree(t, root, l.files)
			db, err := OpenDatabase(root)
			if err != nil {
				t.Fatal(err)
			}
			checkTestDB(t, db, l.dir)
			fdb, err := OpenDatabaseFS(os.DirFS(root).(fs.ReadLinkFS))
			if err != nil {
				t.Fatal(err)
			}
			checkTestDB(t, fdb, l.dir)
			if err := fdb.UpdateStatus(nil); err == nil || !strings.Contains(err.Error(), "read-only") {
				t.Errorf("UpdateStatus on a read-only database: %v", err)
			}
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	for k, v := range b {
		a[k] = v
	}
	return a
}

func checkTestDB(t *testing.T, db *Database, dir string) {
	t.Helper()
	if db.Dir() != dir || db.Arch() != "amd64" {
		t.Errorf("Dir %q Arch %q, want %q amd64", db.Dir(), db.Arch(), dir)
	}
	var ids []string
	for _, p := range db.Packages() {
		ids = append(ids, p.ID()+"="+p.Want+"/"+p.State)
	}
	if want := "bash:amd64=install/installed libc6:amd64=install/installed libc6:i386=install/installed old:all=deinstall/config-files"; strings.Join(ids, " ") != want {
		t.Errorf("Packages = %v, want %s", ids, want)
	}
	bash := db.Lookup("bash", "")
	if bash == nil || bash.Version != "5.2.37-2" || bash.InfoName() != "bash" || bash.Control.Get("Priority") != "required" {
		t.Fatalf("Lookup bash = %+v", bash)
	}
	wantConff := []Conffile{{Path: "/etc/bash.bashrc", Hash: "89269e1298235f1b12b4c16e4065ad0d", Flags: []string{}},
		{Path: "/etc/skel/.bashrc", Hash: "7ebe2fdfba7d2c5e2b5d1ed2e5e04c2d", Flags: []string{"obsolete"}}}
	if !reflect.DeepEqual(bash.Conffiles, wantConff) {
		t.Errorf("Conffiles = %#v", bash.Conffiles)
	}
	if p := db.Lookup("libc6", ""); p == nil || p.Arch != "amd64" || p.InfoName() != "libc6:amd64" {
		t.Errorf("Lookup libc6 native = %+v", p)
	}
	if p := db.Lookup("libc6", "i386"); p == nil || p.Arch != "i386" {
		t.Errorf("Lookup libc6:i386 = %+v", p)
	}
	if p := db.Lookup("old", ""); p == nil || p.ConfigVersion != "1" {
		t.Errorf("Lookup old = %+v", p)
	}
	if p := db.Lookup("zsh", ""); p != nil {
		t.Errorf("Lookup zsh = %+v", p)
	}
	if got := db.InfoPath(bash, "postinst"); got != dir+"/info/bash.postinst" {
		t.Errorf("InfoPath = %s", got)
	}
	files, err := db.Files(bash)
	if err != nil || len(files) != 6 || files[4] != "/usr/bin/bash" {
		t.Errorf("Files = %v, %v", files, err)
	}
	if files, err := db.Files(db.Lookup("old", "")); err != nil || files != nil {
		t.Errorf("Files of a config-files package = %v, %v", files, err)
	}
	sums, err := db.MD5sums(bash)
	if err != nil || sums["/usr/bin/bash"] != "0123456789abcdef0123456789abcdef" || len(sums) != 1 {
		t.Errorf("MD5sums = %v, %v", sums, err)
	}
	for p, want := range map[string]string{
		"/usr/bin/bash":                  "bash",
		"/usr/share/doc/libc6/copyright": "libc6:amd64 libc6:i386",
		"/usr":                           "bash libc6:amd64 libc6:i386",
		"/usr/bin/zsh":                   "",
	} {
		got, err := db.Owners(p)
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("Owners(%s) = %v, %v; want %s", p, got, err, want)
		}
	}
	div, err := db.Diversions()
	if err != nil || !reflect.DeepEqual(div, []Diversion{{"/usr/bin/foo", "/usr/bin/foo.distrib", "bash"}, {"/etc/x", "/etc/x.real", ""}}) {
		t.Errorf("Diversions = %+v, %v", div, err)
	}
	so, err := db.StatOverrides()
	if err != nil || !reflect.DeepEqual(so, []StatOverride{{"root", "crontab", fs.ModeSetgid | 0o755, "/usr/bin/crontab"}}) {
		t.Errorf("StatOverrides = %+v, %v", so, err)
	}
	alts, err := db.Alternatives()
	want := []Alternative{{Name: "pager", Mode: "auto", Link: "/usr/bin/pager",
		Slaves:  []AlternativeLink{{"pager.1.gz", "/usr/share/man/man1/pager.1.gz"}},
		Choices: []AlternativeChoice{{"/bin/more", 50, []string{"/usr/share/man/man1/more.1.gz"}}, {"/usr/bin/less", 77, []string{""}}}}}
	if err != nil || !reflect.DeepEqual(alts, want) {
		t.Errorf("Alternatives = %+v, %v", alts, err)
	}
	if j, err := db.PendingJournal(); err != nil || len(j) != 0 {
		t.Errorf("PendingJournal = %v, %v", j, err)
	}
}

func TestOpenDatabaseErrors(t *testing.T) {
	root := t.TempDir()
	if _, err := OpenDatabase(root); !errors.Is(err, ErrNoDatabase) {
		t.Errorf("empty root: %v, want ErrNoDatabase", err)
	}
	if _, err := OpenDatabaseFS(fstest.MapFS{}); !errors.Is(err, ErrNoDatabase) {
		t.Errorf("empty FS: %v, want ErrNoDatabase", err)
	}
	writeTree(t, root, map[string]string{"var/lib/dpkg/status": "", "usr/share/dpkg/database/status": ""})
	if _, err := OpenDatabase(root); err == nil || !strings.Contains(err.Error(), "two dpkg databases") {
		t.Errorf("two databases: %v", err)
	}
	bad := t.TempDir()
	writeTree(t, bad, map[string]string{"var/lib/dpkg/status": "Package: x\nStatus: install ok\n"})
	if _, err := OpenDatabase(bad); err == nil || !strings.Contains(err.Error(), "status") || !strings.Contains(err.Error(), "bad Status") {
		t.Errorf("bad status: %v", err)
	}
	// A link out of the root is followed inside it: here it leads nowhere.
	escape := t.TempDir()
	host := t.TempDir()
	writeTree(t, host, map[string]string{"status": ""})
	writeTree(t, escape, map[string]string{"var/lib/dpkg": "->" + host})
	if _, err := OpenDatabase(escape); !errors.Is(err, ErrNoDatabase) {
		t.Errorf("link to a host directory: %v, want ErrNoDatabase", err)
	}
	if _, err := NewDatabase(root, "amd64"); err == nil {
		t.Error("NewDatabase over an existing database succeeded")
	}
}

// TestDatabaseWrites covers status-old, UpdateStatus, SetFiles and the
// journal refusal on a database opened from disk.
func TestDatabaseWrites(t *testing.T) {
	root := t.TempDir()
	writeTree(t, root, testDBFiles("var/lib/dpkg"))
	db, err := OpenDatabase(root)
	if err != nil {
		t.Fatal(err)
	}
	bash := *db.Lookup("bash", "")
	bash.Conffiles = bash.Conffiles[:1]
	bash.State = "half-configured"
	if err := db.UpdateStatus([]*Installed{&bash}); err != nil {
		t.Fatal(err)
	}
	admin := filepath.Join(root, "var/lib/dpkg")
	if old, _ := os.ReadFile(filepath.Join(admin, "status-old")); string(old) != testStatus {
		t.Errorf("status-old is not the previous status:\n%s", old)
	}
	got, _ := os.ReadFile(filepath.Join(admin, "status"))
	want := strings.Replace(testStatus, "Status: install ok installed\nPriority", "Status: install ok half-configured\nPriority", 1)
	want = strings.Replace(want, " /etc/skel/.bashrc 7ebe2fdfba7d2c5e2b5d1ed2e5e04c2d obsolete\n", "", 1) + "\n"
	if string(got) != want {
		t.Errorf("status after UpdateStatus:\n%s\nwant\n%s", got, want)
	}
	if p := db.Lookup("bash", ""); p.State != "half-configured" {
		t.Errorf("in-memory state %s", p.State)
	}
	reopened, err := OpenDatabase(root)
	if err != nil || reopened.Lookup("bash", "").State != "half-configured" {
		t.Fatalf("reopen: %v", err)
	}
	// Dropping every conffile drops the field.
	bash.Conffiles = nil
	if err := db.UpdateStatus([]*Installed{&bash}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(admin, "status")); strings.Contains(string(got), "Conffiles") {
		t.Errorf("empty Conffiles kept:\n%s", got)
	}
	if err := db.SetFiles(&bash, []string{"/.", "/usr", "/usr/bin"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(admin, "info/bash.list")); string(got) != "/.\n/usr\n/usr/bin\n" {
		t.Errorf("bash.list = %q", got)
	}
	if got, _ := os.ReadFile(filepath.Join(admin, "info/bash.md5sums")); string(got) != "" {
		t.Errorf("bash.md5sums = %q, want the removed file gone", got)
	}
	if o, _ := db.Owners("/usr/bin/bash"); len(o) != 0 {
		t.Errorf("Owners after SetFiles = %v", o)
	}
	writeTree(t, root, map[string]string{"var/lib/dpkg/updates/0003": "Package: bash\n"})
	for name, f := range map[string]func() error{
		"UpdateStatus": func() error { return db.UpdateStatus(nil) },
		"SetFiles":     func() error { return db.SetFiles(&bash, nil) },
		"Add": func() error {
			return db.Add(t.Context(), nil, DatabaseOptions{Now: time.Unix(1, 0)})
		},
	} {
		if err := f(); !errors.Is(err, ErrJournal) || !strings.Contains(err.Error(), "0003") || !strings.Contains(err.Error(), "dpkg --configure -a") {
			t.Errorf("%s with a pending journal: %v", name, err)
		}
	}
}
