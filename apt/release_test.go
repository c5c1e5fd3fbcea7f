package apt

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"
	"time"
)

const sampleRelease = `Origin: Debian
Label: Debian
Suite: stable
Codename: trixie
Date: Sat, 21 Nov 2026 09:15:44 UTC
Valid-Until: Sat, 28 Nov 2026 09:15:44 UTC
Acquire-By-Hash: yes
No-Support-for-Architecture-all: Packages
Architectures: all amd64 arm64
Components: main contrib
MD5Sum:
 3e498904a30e240573dac8ddac594e6f  1961125 main/binary-amd64/Packages
SHA256:
 b1c50654852dadc629f97cf1d56c83bbf9e3e537b4a66549039de0a5b3f3bb27 24089534 main/binary-all/Packages
 1fdde64e761ee4101b84fe44261ce3830b1025fd890b2c7f7df0bc3c2110a6b4  6104453 main/binary-amd64/Packages.xz
`

func TestParseRelease(t *testing.T) {
	r, err := parseRelease([]byte(sampleRelease))
	if err != nil {
		t.Fatal(err)
	}
	if r.Codename != "trixie" || r.Suite != "stable" || !r.AcquireByHash || !r.AllInArchIndexes || r.hasBinaryAll() {
		t.Errorf("fields: %+v", r)
	}
	if !r.Date.Equal(time.Date(2026, 11, 21, 9, 15, 44, 0, time.UTC)) || r.ValidUntil.Sub(r.Date) != 7*24*time.Hour {
		t.Errorf("dates: %v %v", r.Date, r.ValidUntil)
	}
	if fh := r.Files["main/binary-amd64/Packages.xz"]; fh.Size != 6104453 || !strings.HasPrefix(fh.SHA256, "1fdde6") || len(r.Files) != 2 {
		t.Errorf("files: %+v", r.Files)
	}
	if !r.hasComponent("main", "amd64") || r.hasComponent("contrib", "amd64") || !r.hasComponent("main", "all") {
		t.Error("hasComponent")
	}
	// Without No-Support-for-Architecture-all, binary-all is separate.
	r2, _ := parseRelease([]byte(strings.Replace(sampleRelease, "No-Support-for-Architecture-all: Packages\n", "", 1)))
	if !r2.hasBinaryAll() {
		t.Error("binary-all not detected")
	}

	now := r.Date.Add(time.Hour)
	if err := r.checkDates(now, false); err != nil {
		t.Errorf("fresh release refused: %v", err)
	}
	if err := r.checkDates(r.ValidUntil.Add(time.Minute), false); err == nil || !strings.Contains(err.Error(), "Valid-Until Sat, 28 Nov 2026 09:15:44 UTC is in the past") {
		t.Errorf("expired: %v", err)
	}
	if err := r.checkDates(r.ValidUntil.Add(time.Minute), true); err != nil {
		t.Errorf("expired, Valid-Until not checked: %v", err)
	}
	for _, skip := range []bool{false, true} {
		if err := r.checkDates(r.Date.Add(-2*time.Hour), skip); err == nil || !strings.Contains(err.Error(), "in the future") {
			t.Errorf("future (skipValidUntil %v): %v", skip, err)
		}
	}

	for _, tc := range []struct{ in, err string }{
		{"Suite: x\n", "no Date field"},
		{"Date: yesterday\n", "unparsable date"},
		{"Date: Sat, 21 Nov 2026 09:15:44 UTC\nSHA256:\n zz 1 main/binary-amd64/Packages\n", "line 3: malformed SHA256 entry"},
		{"Date: Sat, 21 Nov 2026 09:15:44 UTC\nnonsense\n", "line 2: malformed field"},
	} {
		if _, err := parseRelease([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("parseRelease(%q) = %v, want %q", tc.in, err, tc.err)
		}
	}
	for _, d := range []string{"Sat, 21 Nov 2026 09:15:44 UTC", "Sat, 21 Nov 2026 09:15:44 +0000", "Sat, 1 Nov 2026 09:15:44 UTC"} {
		if _, err := parseDate(d); err != nil {
			t.Errorf("parseDate(%q): %v", d, err)
		}
	}
}

func TestDecompressAllLimit(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	if _, err := decompressAll(".gz", bytes.NewReader(buf.Bytes()), 1000); err == nil || !strings.Contains(err.Error(), "larger than 1000 bytes") {
		t.Errorf("bomb: %v", err)
	}
	out, err := decompressAll(".gz", bytes.NewReader(buf.Bytes()), 1<<20)
	if err != nil || len(out) != 1<<20 {
		t.Errorf("exact limit: %d, %v", len(out), err)
	}
}
