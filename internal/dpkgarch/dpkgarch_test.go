package dpkgarch

import (
	"runtime"
	"testing"
)

func TestFromGo(t *testing.T) {
	tests := []struct {
		goarch, want string
		ok           bool
	}{
		{"amd64", "amd64", true},
		{"arm64", "arm64", true},
		{"arm", "armhf", true},
		{"386", "i386", true},
		{"ppc64le", "ppc64el", true},
		{"s390x", "s390x", true},
		{"riscv64", "riscv64", true},
		{"loong64", "loong64", true},
		{"mips64le", "mips64el", true},
		{"wasm", "", false},
		{"ppc64", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		if got, ok := FromGo(tc.goarch); got != tc.want || ok != tc.ok {
			t.Errorf("FromGo(%q) = %q, %v; want %q, %v", tc.goarch, got, ok, tc.want, tc.ok)
		}
	}
}

func TestHost(t *testing.T) {
	want, wantOK := FromGo(runtime.GOARCH)
	if got, ok := Host(); got != want || ok != wantOK {
		t.Errorf("Host() = %q, %v; want %q, %v", got, ok, want, wantOK)
	}
	if runtime.GOARCH == "amd64" {
		if got, _ := Host(); got != "amd64" {
			t.Errorf("Host() = %q on amd64", got)
		}
	}
}
