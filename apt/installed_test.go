package apt_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/apt-ostree/apt-ostree/apt"
)

func TestInstalledPackage(t *testing.T) {
	stanza := map[string]string{
		"Package": "libc6", "Status": "install ok installed", "Version": "2.41-12", "Architecture": "amd64",
		"Multi-Arch": "same", "Priority": "optional", "Section": "libs", "Source": "glibc (2.41-12)",
		"Installed-Size": "12345", "Depends": "libgcc-s1", "Breaks": "nscd (<< 2.41)", "Provides": "libc6-x (= 1)",
	}
	got, err := apt.InstalledPackage(func(k string) string { return stanza[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := &apt.Package{Name: "libc6", Version: "2.41-12", Architecture: "amd64", MultiArch: "same", Priority: "optional",
		Section: "libs", Source: "glibc", InstalledSize: 12345, Depends: "libgcc-s1", Breaks: "nscd (<< 2.41)", Provides: "libc6-x (= 1)"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	delete(stanza, "Version")
	if _, err := apt.InstalledPackage(func(k string) string { return stanza[k] }); err == nil || !strings.Contains(err.Error(), "libc6") {
		t.Errorf("no Version: %v", err)
	}
}
