package apt

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/apt-ostree/apt-ostree/internal/dpkgarch"
)

// Source is one apt repository to load: an archive root with suites and
// components, the architecture to keep and the keyring that must have
// signed its Release files.
type Source struct {
	// URL is the archive root, e.g. "http://127.0.0.1:8080/debian", or
	// "file:///srv/repo" for a repository in a local directory (read in
	// place; its .debs are copied into the pool like downloads, so a
	// verified copy stays usable whatever later happens to the directory).
	URL        string
	Suites     []string
	Components []string // default ["main"]
	// Arch is the dpkg architecture; packages of this architecture and
	// "all" are kept. Default HostArch().
	Arch string
	// Keyring holds one or more OpenPGP public keys, binary (like the
	// files in /usr/share/keyrings) or ASCII-armored.
	Keyring []byte
	// KeyringName names the keyring in error messages, e.g. its path.
	KeyringName string
	// SkipValidUntil accepts a Release file whose Valid-Until has passed
	// (treefile check-valid-until: false, apt's [check-valid-until=no]):
	// dated snapshot mirrors, which reproducible builds pin to, expire
	// by design. The signature and every hash are still checked; a
	// warning says Valid-Until was not.
	SkipValidUntil bool
	// Trusted accepts the repository without a valid signature (apt's
	// [trusted=yes]). Hashes of the indexes are still checked.
	Trusted bool
}

// HostArch is the dpkg architecture name of the running program, or its
// GOARCH where Debian has no port.
func HostArch() string {
	if a, ok := dpkgarch.Host(); ok {
		return a
	}
	return runtime.GOARCH
}

func (s Source) arch() string {
	if s.Arch != "" {
		return s.Arch
	}
	return HostArch()
}

func (s Source) components() []string {
	if len(s.Components) == 0 {
		return []string{"main"}
	}
	return s.Components
}

func (s Source) keyringName() string {
	if s.KeyringName != "" {
		return s.KeyringName
	}
	return "(inline keyring)"
}

func (s Source) validate() error {
	switch {
	case s.URL == "":
		return errors.New("apt source has no URL")
	case strings.HasPrefix(s.URL, "file:"):
		if err := checkFileURL(s.URL); err != nil {
			return fmt.Errorf("apt source %s: %w", s.URL, err)
		}
	case !strings.HasPrefix(s.URL, "http://") && !strings.HasPrefix(s.URL, "https://"):
		return fmt.Errorf("apt source %s: only http://, https:// and file:// URLs are supported", s.URL)
	case len(s.Suites) == 0:
		return fmt.Errorf("apt source %s: no suites", s.URL)
	case len(s.Keyring) == 0 && !s.Trusted:
		return fmt.Errorf("apt source %s: no keyring; give the repository's key with signed-by (or mark it trusted)", s.URL)
	}
	return nil
}

// checkFileURL accepts file:///abs/path and file://localhost/abs/path
// naming an existing directory.
func checkFileURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Host != "" && u.Host != "localhost" {
		return fmt.Errorf("file URL names host %q; write file:///path for a local directory", u.Host)
	}
	if !strings.HasPrefix(u.Path, "/") {
		return errors.New("file URL needs an absolute path: file:///path/to/repo")
	}
	st, err := os.Stat(u.Path)
	if err != nil {
		return fmt.Errorf("local repository: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("local repository %s is not a directory", u.Path)
	}
	return nil
}

// ReadKeyring parses binary or ASCII-armored OpenPGP public keys. Keys of
// algorithms the OpenPGP library cannot use are skipped, as gpgv does;
// it is an error if no usable key remains.
func ReadKeyring(data []byte) (openpgp.EntityList, error) {
	var el openpgp.EntityList
	if bytes.Contains(data, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
		r := bytes.NewReader(data)
		for {
			block, err := armor.Decode(r)
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("armored keyring: %w", err)
			}
			if block.Type != openpgp.PublicKeyType {
				continue
			}
			keys, err := openpgp.ReadKeyRing(block.Body)
			if err != nil {
				return nil, err
			}
			el = append(el, keys...)
		}
	} else {
		keys, err := openpgp.ReadKeyRing(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		el = keys
	}
	if len(el) == 0 {
		return nil, errors.New("keyring holds no usable public key")
	}
	return el, nil
}

// keyringCache parses each distinct keyring once per client.
type keyringCache map[[32]byte]openpgp.EntityList

func (kc keyringCache) get(s Source) (openpgp.EntityList, error) {
	sum := sha256.Sum256(s.Keyring)
	if el, ok := kc[sum]; ok {
		return el, nil
	}
	el, err := ReadKeyring(s.Keyring)
	if err != nil {
		return nil, fmt.Errorf("keyring %s: %w", s.keyringName(), err)
	}
	kc[sum] = el
	return el, nil
}
