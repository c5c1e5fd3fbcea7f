package testrepo

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"

	"github.com/apt-ostree/apt-ostree/apt"
	"github.com/apt-ostree/apt-ostree/internal/testdeb"
)

func get(t *testing.T, url string, hdr ...string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// sha256Lines parses the SHA256 section of a Release text.
func sha256Lines(release []byte) map[string]string {
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(release))
	in := false
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, " ") {
			in = l == "SHA256:"
			continue
		}
		if f := strings.Fields(l); in && len(f) == 3 {
			out[f[2]] = f[0] + " " + f[1]
		}
	}
	return out
}

func newRepo(t *testing.T, opts ...Option) *Repo {
	r := New(t, opts...)
	r.Add("trixie", "main",
		testdeb.Package{Name: "hello", Version: "2.10-3", Fields: map[string]string{"Depends": "libc6 (>= 2.34)", "Source": "hello-src (2.10-1)"},
			Files: []testdeb.File{{Path: "usr/bin/hello", Body: "#!/bin/sh\necho hi\n", Mode: 0o755}}},
		testdeb.Package{Name: "libc6", Version: "2.41-7", Fields: map[string]string{"Multi-Arch": "same"}},
		testdeb.Package{Name: "base-files", Version: "13", Arch: "all", Fields: map[string]string{"Essential": "yes"}},
		testdeb.Package{Name: "arm-only", Arch: "arm64"},
	)
	r.Add("trixie", "contrib", testdeb.Package{Name: "extra"})
	return r
}

func TestPublishVerifies(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{{"ed25519", nil}, {"rsa", []Option{WithRSA()}}} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRepo(t, append(tc.opts, WithArchs("amd64", "arm64"))...)
			r.ByHash = true
			r.Publish()
			keyring, err := openpgp.ReadKeyRing(bytes.NewReader(mustRead(t, r.KeyringPath())))
			if err != nil {
				t.Fatal(err)
			}
			armored, err := openpgp.ReadArmoredKeyRing(strings.NewReader(r.ArmoredKey()))
			if err != nil || len(armored) != 1 {
				t.Fatalf("armored key: %v", err)
			}

			code, inrel, _ := get(t, r.URL()+"/dists/trixie/InRelease")
			if code != 200 {
				t.Fatalf("InRelease: %d", code)
			}
			block, _ := clearsign.Decode(inrel)
			if block == nil {
				t.Fatal("InRelease is not clearsigned")
			}
			if _, err := block.VerifySignature(keyring, nil); err != nil {
				t.Fatalf("InRelease signature: %v", err)
			}
			_, release, _ := get(t, r.URL()+"/dists/trixie/Release")
			_, sig, _ := get(t, r.URL()+"/dists/trixie/Release.gpg")
			if _, err := openpgp.CheckArmoredDetachedSignature(keyring, bytes.NewReader(release), bytes.NewReader(sig), nil); err != nil {
				t.Fatalf("Release.gpg: %v", err)
			}
			if !bytes.Equal(bytes.TrimRight(block.Plaintext, "\n"), bytes.TrimRight(release, "\n")) {
				t.Fatalf("InRelease text differs from Release")
			}
			if !bytes.Contains(release, []byte("Acquire-By-Hash: yes")) {
				t.Error("no Acquire-By-Hash")
			}

			sums := sha256Lines(release)
			for _, rel := range []string{"main/binary-amd64/Packages.xz", "main/binary-amd64/Packages.gz", "main/binary-arm64/Packages.xz", "contrib/binary-amd64/Packages.gz"} {
				code, body, _ := get(t, r.URL()+"/dists/trixie/"+rel)
				if code != 200 {
					t.Fatalf("%s: %d", rel, code)
				}
				sum := sha256.Sum256(body)
				want := hex.EncodeToString(sum[:]) + " " + strconv.Itoa(len(body))
				if sums[rel] != want {
					t.Errorf("%s: Release says %q, file is %q", rel, sums[rel], want)
				}
				code, byHash, _ := get(t, r.URL()+"/dists/trixie/"+rel[:strings.LastIndexByte(rel, '/')]+"/by-hash/SHA256/"+hex.EncodeToString(sum[:]))
				if code != 200 || !bytes.Equal(byHash, body) {
					t.Errorf("%s by-hash: %d", rel, code)
				}
			}
			if sums["main/binary-amd64/Packages"] == "" {
				t.Error("plain Packages hash not listed")
			}
			if code, _, _ := get(t, r.URL()+"/dists/trixie/main/binary-amd64/Packages"); code != 404 {
				t.Errorf("plain Packages served by default: %d", code)
			}

			_, xzb, _ := get(t, r.URL()+"/dists/trixie/main/binary-amd64/Packages.xz")
			plain, err := Decompress("xz", xzb)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"Package: hello\n", "Package: base-files\n", "Source: hello-src (2.10-1)\n", "Filename: pool/main/h/hello-src/hello_2.10-3_amd64.deb\n", "Filename: pool/main/libc/libc6/libc6_2.41-7_amd64.deb\n"} {
				if !bytes.Contains(plain, []byte(want)) {
					t.Errorf("amd64 Packages lacks %q:\n%s", want, plain)
				}
			}
			if bytes.Contains(plain, []byte("arm-only")) {
				t.Error("arm64 package in amd64 index")
			}

			pkgs := r.Packages("trixie")
			if len(pkgs) != 5 {
				t.Fatalf("Packages: %d records", len(pkgs))
			}
			for _, p := range pkgs {
				code, deb, _ := get(t, p.URL())
				sum := sha256.Sum256(deb)
				if code != 200 || hex.EncodeToString(sum[:]) != p.SHA256 || int64(len(deb)) != p.Size {
					t.Errorf("%s: %d, sha/size mismatch", p.ID(), code)
				}
			}
			byName := map[string]*apt.Package{}
			for _, p := range pkgs {
				byName[p.Name] = p
			}
			if p := byName["hello"]; p.Source != "hello-src" || p.Repo.Component != "main" || p.Depends != "libc6 (>= 2.34)" {
				t.Errorf("hello: %+v", p)
			}
			if !byName["base-files"].Essential || byName["libc6"].MultiArch != "same" || byName["extra"].Repo.Component != "contrib" {
				t.Errorf("records: %+v %+v %+v", byName["base-files"], byName["libc6"], byName["extra"])
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestKnobs(t *testing.T) {
	r := newRepo(t)
	r.WrongKey = true
	r.ValidUntil = time.Now().Add(-time.Hour)
	r.Compressions = []string{"", "zst"}
	r.Publish()
	keyring, _ := openpgp.ReadKeyRing(bytes.NewReader(r.Keyring()))
	_, inrel, _ := get(t, r.URL()+"/dists/trixie/InRelease")
	block, _ := clearsign.Decode(inrel)
	if _, err := block.VerifySignature(keyring, nil); err == nil {
		t.Error("WrongKey: signature verified against the repo keyring")
	}
	if !bytes.Contains(block.Plaintext, []byte("Valid-Until: ")) {
		t.Error("no Valid-Until")
	}
	for _, rel := range []string{"main/binary-amd64/Packages", "main/binary-amd64/Packages.zst"} {
		if code, _, _ := get(t, r.URL()+"/dists/trixie/"+rel); code != 200 {
			t.Errorf("%s: %d", rel, code)
		}
	}

	r.WrongKey = false
	r.NoInRelease = true
	r.Publish()
	if code, _, _ := get(t, r.URL()+"/dists/trixie/InRelease"); code != 404 {
		t.Errorf("NoInRelease: InRelease %d", code)
	}
	r.NoSignature = true
	r.Publish()
	if code, _, _ := get(t, r.URL()+"/dists/trixie/Release.gpg"); code != 404 {
		t.Errorf("NoSignature: Release.gpg %d", code)
	}
	if code, _, _ := get(t, r.URL()+"/dists/trixie/Release"); code != 200 {
		t.Errorf("NoSignature: Release %d", code)
	}
}

func TestTamper(t *testing.T) {
	r := newRepo(t)
	r.Publish()
	keyring, _ := openpgp.ReadKeyRing(bytes.NewReader(r.Keyring()))
	r.TamperInRelease("trixie")
	_, inrel, _ := get(t, r.URL()+"/dists/trixie/InRelease")
	block, _ := clearsign.Decode(inrel)
	if block == nil {
		t.Fatal("tampered InRelease no longer parses")
	}
	if _, err := block.VerifySignature(keyring, nil); err == nil {
		t.Error("tampered InRelease still verifies")
	}

	_, release, _ := get(t, r.URL()+"/dists/trixie/Release")
	r.TamperPackages("trixie", "main", "amd64")
	_, xzb, _ := get(t, r.URL()+"/dists/trixie/main/binary-amd64/Packages.xz")
	plain, err := Decompress("xz", xzb)
	if err != nil || !bytes.Contains(plain, []byte("Package: evil")) {
		t.Fatalf("tampered Packages.xz: %v", err)
	}
	sum := sha256.Sum256(xzb)
	if strings.HasPrefix(sha256Lines(release)["main/binary-amd64/Packages.xz"], hex.EncodeToString(sum[:])) {
		t.Error("tampered file still matches the Release hash")
	}
}

func TestRequestsAndFailures(t *testing.T) {
	r := newRepo(t)
	r.Publish()
	r.FailNext("dists/trixie/InRelease", 2, 503)
	for i, want := range []int{503, 503, 200} {
		if code, _, _ := get(t, r.URL()+"/dists/trixie/InRelease"); code != want {
			t.Errorf("request %d: %d, want %d", i, code, want)
		}
	}
	if n := r.Count("dists/trixie/InRelease"); n != 3 {
		t.Errorf("Count = %d", n)
	}
	// Conditional requests: ETag and Last-Modified.
	_, _, hdr := get(t, r.URL()+"/dists/trixie/Release")
	if code, _, _ := get(t, r.URL()+"/dists/trixie/Release", "If-None-Match", hdr.Get("ETag")); code != 304 {
		t.Errorf("If-None-Match: %d", code)
	}
	if code, _, _ := get(t, r.URL()+"/dists/trixie/Release", "If-Modified-Since", hdr.Get("Last-Modified")); code != 304 {
		t.Errorf("If-Modified-Since: %d", code)
	}
	// Re-publishing unchanged content keeps files (and their validators).
	_, _, ihdr := get(t, r.URL()+"/dists/trixie/InRelease")
	r.Publish()
	if code, _, _ := get(t, r.URL()+"/dists/trixie/InRelease", "If-Modified-Since", ihdr.Get("Last-Modified")); code != 304 {
		t.Errorf("after re-publish: %d", code)
	}
	log := r.Requests()
	last := log[len(log)-1]
	if last.Status != 304 || last.IfModifiedSince == "" || last.Path != "dists/trixie/InRelease" {
		t.Errorf("last request %+v", last)
	}
	r.ResetRequests()
	if len(r.Requests()) != 0 {
		t.Error("ResetRequests")
	}
	if code, _, _ := get(t, r.URL()+"/dists/trixie/../../../etc/passwd"); code == 200 {
		t.Error("path escape served")
	}
}
