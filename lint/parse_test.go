package lint

import (
	"bytes"
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseKargs(t *testing.T) {
	cases := []struct {
		in, err string
	}{
		{"kargs = [\"console=ttyS0\", \"quiet\"]\n", ""},
		{"kargs = []\nmatch-architectures = [\"x86_64\", \"aarch64\"]\n", ""},
		{"match-architectures = [\"x86_64\"]\n", "missing field `kargs`"},
		{"kargs = \"quiet\"\n", "incompatible types"},
		{"kargs = [1]\n", "incompatible types"},
		{"kargs = [\"a\"]\nextra = true\n", "unknown field `extra`"},
		{"kargs = [\n", "expected"},
		{"kargs = [\"\xff\"]", "not UTF-8"},
	}
	for _, tc := range cases {
		_, err := parseKargs([]byte(tc.in))
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("parseKargs(%q) = %v, want %q", tc.in, err, tc.err)
		}
	}
}

func TestTmpfilesEntryPath(t *testing.T) {
	cases := []struct{ in, want, err string }{
		{"z /dev/kvm          0666 - kvm -", "/dev/kvm", ""},
		{"d /run/lock/lvm 0700 root root -", "/run/lock/lvm", ""},
		{"a+      /var/lib/tpm2-tss/system/keystore   -    -    -     -           default:group:tss:rwx", "/var/lib/tpm2-tss/system/keystore", ""},
		{"d \"/run/file with spaces/foo\" 0700 root root -", "/run/file with spaces/foo", ""},
		{`d /spaces\x20\x20here/foo 0700 root root -`, "/spaces  here/foo", ""},
		{`d /a\qb`, "", "malformed"},
		{`d /a\x2`, "", "malformed"},
		{"   ", "", "malformed"},
	}
	for _, tc := range cases {
		got, err := tmpfilesEntryPath(tc.in)
		if got != tc.want || (err != nil) != (tc.err != "") {
			t.Errorf("tmpfilesEntryPath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSysusersLine(t *testing.T) {
	cases := []struct {
		in   string
		want sysusersEntry
		err  bool
	}{
		{`u root 0 "Super User" /root /bin/bash`, sysusersEntry{kind: sysusersUser, name: "root", id: "0", group: "0"}, false},
		{`u! locked - "Locked"`, sysusersEntry{kind: sysusersUser, name: "locked"}, false},
		{`u dbus /usr/bin/dbus-daemon`, sysusersEntry{kind: sysusersUser, name: "dbus", id: "/usr/bin/dbus-daemon", group: "/usr/bin/dbus-daemon"}, false},
		{`u tss 59:tss`, sysusersEntry{kind: sysusersUser, name: "tss", id: "59", group: "tss"}, false},
		{`u x -:100`, sysusersEntry{kind: sysusersUser, name: "x", group: "100"}, false},
		{`g input 104`, sysusersEntry{kind: sysusersGroup, name: "input", id: "104"}, false},
		{`g kvm /dev/kvm`, sysusersEntry{kind: sysusersGroup, name: "kvm", id: "/dev/kvm"}, false},
		{`r - 500-900`, sysusersEntry{kind: sysusersRange, start: 500, end: 900}, false},
		{`m user group`, sysusersEntry{kind: sysusersOther}, false},
		{`u bad notanumber`, sysusersEntry{}, true},
		{`u bad 1:`, sysusersEntry{}, true},
		{`g bad x1`, sysusersEntry{}, true},
		{`r - 500`, sysusersEntry{}, true},
		{`u`, sysusersEntry{}, true},
		{`u "unterminated`, sysusersEntry{}, true},
	}
	for _, tc := range cases {
		got, err := parseSysusersLine(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("parseSysusersLine(%q) err = %v", tc.in, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(sysusersEntry{})); !tc.err && diff != "" {
			t.Errorf("parseSysusersLine(%q) (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestParseNSSFile(t *testing.T) {
	passwd := "\nroot:x:0:0:root:/root:/bin/bash\n\n+userA\n-userB\n# comment\nsomeuser:x:1000:1000:Foo BAR,,,:/home/foobar:/bin/sh:extra\n+\n"
	got, err := parseNSSFile([]byte(passwd), 7)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]dbEntry{{"root", 0}, {"someuser", 1000}}, got, cmp.AllowUnexported(dbEntry{})); diff != "" {
		t.Error(diff)
	}
	for _, bad := range []string{"root:x:0:0:root:/root\n", "root:x:zero:0:root:/root:/bin/sh\n", "root:x:0:z:r:/:/bin/sh\n"} {
		if _, err := parseNSSFile([]byte(bad), 7); err == nil {
			t.Errorf("passwd %q parsed", bad)
		}
	}
	got, err = parseNSSFile([]byte("root:x:0:\nstaff:x:50:operator,x\n"), 4)
	if err != nil || len(got) != 2 || got[1].id != 50 {
		t.Errorf("group = %v, %v", got, err)
	}
	if _, err := parseNSSFile([]byte("root:x:0\n"), 4); err == nil {
		t.Error("group line with 3 fields parsed")
	}
}

func TestKeyFile(t *testing.T) {
	kf, err := parseKeyFile([]byte("# c\n[composefs]\nenabled = signed\n[root]\ntransient=true\n[x]\ns=a\\sb\\\\\n"))
	if err != nil {
		t.Fatal(err)
	}
	if v, _, _ := kf.str("composefs", "enabled"); v != "signed" {
		t.Errorf("enabled = %q", v)
	}
	if b, err := kf.boolean("root", "transient"); !b || err != nil {
		t.Errorf("transient = %v, %v", b, err)
	}
	if v, _, _ := kf.str("x", "s"); v != `a b\` {
		t.Errorf("s = %q", v)
	}
	for _, bad := range []string{"key=1\n", "[g]\nnot a pair\n", "[g\n", "[]\n"} {
		if _, err := parseKeyFile([]byte(bad)); err == nil {
			t.Errorf("parseKeyFile(%q) succeeded", bad)
		}
	}
	kf, _ = parseKeyFile([]byte("[root]\ntransient=maybe\n"))
	if _, err := kf.boolean("root", "transient"); err == nil {
		t.Error("transient=maybe accepted as boolean")
	}
}

func TestQuoting(t *testing.T) {
	for in, want := range map[string]string{
		"/foo/bar": "/foo/bar", "--virtiofs=/foo,/bar": "--virtiofs=/foo,/bar", " ": "' '",
		"/some/path with spaces/": "'/some/path with spaces/'", "/foo/!/bar&": "'/foo/!/bar&'",
		`/path/"withquotes'`: `"/path/\"withquotes'"`, "/foo/somenonutf8\xee/bar": "'/foo/somenonutf8\uFFFD/bar'",
	} {
		if got := quotePath(in); got != want {
			t.Errorf("quotePath(%q) = %s, want %s", in, got, want)
		}
	}
	if got := debugName("a\"b\\\xff\x01é"); got != `"a\"b\\\xFF\u{1}é"` {
		t.Errorf("debugName = %s", got)
	}
	if got := tmpfilesPath("/var/run/a b\\"); got != `/run/a\x20b\\` {
		t.Errorf("tmpfilesPath = %s", got)
	}
}

func TestVarTmpfilesResolution(t *testing.T) {
	s := baseSpec().with(
		link("root", "var/roothome"), dir("var/roothome/.ssh"), dir("var/lib/etc-only"),
		file("usr/lib/tmpfiles.d/x.conf", "d /var/roothome 0700 root root -\nd /root/.ssh 0700 root root -\nd /var/lib 0755 - - -\n"),
		file("etc/tmpfiles.d/local.conf", "d /var/lib/etc-only 0755 root root -\n"),
		file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\n"),
		file("usr/lib/passwd", "svc:x:1000:1000::/:/bin/false\n"),
		file("usr/lib/group", "svc:x:1000:\n"),
	)
	rep := run(t, DirFS(buildDir(t, s)), Options{Skip: []string{"sysusers"}})
	if f := failed(rep); len(f) != 0 {
		t.Errorf("declared paths reported: %v", f)
	}

	// Owners come from the image's own user database, numeric when unknown.
	base := baseSpec().with(file("usr/lib/passwd", "svc:x:1000:1000::/:/bin/false\n"), file("usr/lib/group", "svc:x:1000:\n")).resolved()
	base = append(base, node{path: "var/lib", kind: 'd', mode: 0o755, uid: 1000, gid: 1000, owned: true},
		node{path: "var/lib/x", kind: 'd', mode: 0o755 | fs.ModeSticky | fs.ModeSetgid, uid: 4242, gid: 4343, owned: true})
	img := openImage(t, "oci:"+buildImage(t, base))
	got := failed(run(t, img, Options{Skip: []string{"sysusers"}}))["var-tmpfiles"]
	want := []string{"Found content in /var missing systemd tmpfiles.d entries:", "  d /var/lib 0755 svc svc - -", "  d /var/lib/x 3755 4242 4343 - -"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestSysusersFalsePositives(t *testing.T) {
	s := baseSpec().with(
		file("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nmessagebus:x:100:101::/:/bin/false\nlocked:x:5:5::/:/bin/false\n"),
		file("etc/group", "root:x:0:\nmessagebus:x:101:\nlocked:x:5:\nkvm:x:104:\n"),
		file("usr/lib/sysusers.d/dbus.conf", "u messagebus /usr/bin/dbus-daemon\n"),
		file("usr/lib/sysusers.d/locked.conf", "u! locked -\ng kvm /dev/kvm\nm locked kvm\n"),
		file("etc/sysusers.d/ignored.conf", "u nobody -\n"),
	)
	if f := failed(run(t, DirFS(buildDir(t, s)), Options{})); len(f) != 0 {
		t.Errorf("failures: %v", f)
	}
	s = s.with(file("usr/lib/sysusers.d/zz.conf", "u bad notanumber\n"))
	want := []string{"Failed to parse sysusers.d:", "  Failed to parse sysusers entry from zz.conf: failed to parse sysusers entry: u bad notanumber"}
	if diff := cmp.Diff(want, failed(run(t, DirFS(buildDir(t, s)), Options{}))["sysusers"]); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestStubResolvConf(t *testing.T) {
	s := baseSpec().with(file("run/systemd/resolve/stub-resolv.conf", ""))
	if f := failed(run(t, DirFS(buildDir(t, s)), Options{})); len(f) != 0 {
		t.Errorf("stub-resolv.conf reported: %v", f)
	}
}

func TestBaseimageDocsWithoutFiles(t *testing.T) {
	// Built without docs: bootc's rpm leaves the directories only (bootc#1351).
	s := baseSpec().with(dir(baseimageRef+"/sysroot"), dir(baseimageRef+"/usr/lib"))
	if f := failed(run(t, DirFS(buildDir(t, s)), Options{})); len(f) != 0 {
		t.Errorf("empty docs tree reported: %v", f)
	}
}

func FuzzParseKargs(f *testing.F) {
	for _, s := range []string{"kargs = [\"a\"]\n", "kargs=[]\nmatch-architectures=[\"x86_64\"]", "x = 1", "[t]\nkargs=[\"a\"]", "kargs = [\"\\u00e9\"]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseKargs(data)
		if err == nil && cfg.Kargs == nil && !bytes.Contains(data, []byte("kargs")) {
			t.Errorf("accepted %q without kargs", data)
		}
	})
}

func FuzzTmpfilesEntryPath(f *testing.F) {
	for _, s := range []string{"d /var/lib/foo 0755 root root -", `d "/a b/c" - - -`, `L /x\x41\\\n - - - - y`, "z", `d /\x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		p, err := tmpfilesEntryPath(line)
		if err == nil && len(p) > len(line) {
			t.Errorf("path %q longer than line %q", p, line)
		}
	})
}

func FuzzParseSysusersLine(f *testing.F) {
	for _, s := range []string{`u root 0 "Super User" /root`, "u! x -", "g kvm /dev/kvm", "r - 1-2", "u a 1:b", `u "q`, "m a b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		e, err := parseSysusersLine(line)
		if err == nil && (e.kind == sysusersUser || e.kind == sysusersGroup) && e.name == "" {
			t.Errorf("entry without a name from %q", line)
		}
	})
}

func FuzzParseNSSFile(f *testing.F) {
	for _, s := range []string{"root:x:0:0:root:/root:/bin/bash\n", "+a\n-b\n#c\n\n", "root:x:0:\nstaff:x:50:a,b\n", "a:b:c"} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, passwd bool) {
		fields := 4
		if passwd {
			fields = 7
		}
		ents, err := parseNSSFile(data, fields)
		if err == nil && len(ents) > bytes.Count(data, []byte("\n"))+1 {
			t.Errorf("%d entries from %d lines", len(ents), bytes.Count(data, []byte("\n"))+1)
		}
	})
}
