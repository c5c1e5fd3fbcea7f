package bootc

import (
	"bytes"
	"context"
	"testing"
)

func TestMoveDpkgDatabase(t *testing.T) {
	tests := []struct {
		name string
		tree []entry
		err  string
	}{
		{name: "move", tree: []entry{
			file("var/lib/dpkg/status", dashStatus), file("var/lib/dpkg/alternatives/awk", "a"), dir("var/lib/dpkg/updates", 0),
		}},
		{name: "already moved", tree: []entry{
			file("usr/share/dpkg/database/status", dashStatus), file("usr/share/dpkg/database/alternatives/awk", "a"),
		}},
		{name: "interrupted dpkg", tree: []entry{file("var/lib/dpkg/status", dashStatus), file("var/lib/dpkg/updates/0001", "")}, err: "dpkg was interrupted"},
		{name: "both", tree: []entry{file("var/lib/dpkg/status", dashStatus), file("usr/share/dpkg/database/status", dashStatus)}, err: "remove one"},
		{name: "none", tree: []entry{dir("var/lib", 0)}, err: "no dpkg database"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := mkTree(t, tc.tree...)
			var log bytes.Buffer
			err := moveDpkgDatabase(context.Background(), root, testOptions(&log))
			wantErr(t, err, tc.err)
			if err == nil {
				wantTree(t, root, map[string]string{
					"var/lib/dpkg":                             "",
					"usr/share/dpkg/database/status":           "f 0644 " + dashStatus,
					"usr/share/dpkg/database/alternatives/awk": "f 0644 a",
				})
			}
		})
	}
}
