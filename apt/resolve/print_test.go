package resolve

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWriteTableAndJSON(t *testing.T) {
	u := universe(t, `
Package: foo
Version: 1.0-1
Depends: libbar
Size: 1200
SHA256: 1111111111111111111111111111111111111111111111111111111111111111

Package: libbar
Version: 2.0-1
Source: bar
Size: 34
Suite: trixie-updates
SHA256: 2222222222222222222222222222222222222222222222222222222222222222`)
	res, err := Resolve(u, Request{Arch: "amd64", Packages: []string{"foo"}})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := res.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	want := `NAME    VERSION  ARCH   SIZE  SHA256                                                            REPO
foo     1.0-1    amd64  1200  1111111111111111111111111111111111111111111111111111111111111111  http://127.0.0.1:1/debian trixie
libbar  2.0-1    amd64  34    2222222222222222222222222222222222222222222222222222222222222222  http://127.0.0.1:1/debian trixie-updates
2 packages, 1234 bytes to download
`
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
	b.Reset()
	if err := res.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1]["name"] != "libbar" || got[1]["source"] != "bar" || got[1]["suite"] != "trixie-updates" ||
		got[1]["size"] != float64(34) || !strings.HasPrefix(got[1]["filename"].(string), "pool/main/l/libbar/") {
		t.Errorf("JSON = %s", b.String())
	}
}
