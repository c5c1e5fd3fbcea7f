package apt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Typed errors a caller may test with errors.Is.
var (
	// ErrUnsigned: the repository offers no signature at all.
	ErrUnsigned = errors.New("repository is not signed")
	// ErrBadSignature: a signature by a known key does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnknownKey: signed only by keys that are not in the keyring.
	ErrUnknownKey = errors.New("signature by unknown key")
	// ErrExpired: the Release file's Valid-Until has passed.
	ErrExpired = errors.New("release file expired")
	// ErrHashMismatch: a downloaded file does not match its expected
	// size or SHA256.
	ErrHashMismatch = errors.New("hash mismatch")
)

// release is the part of a Release file apt-ostree uses.
type release struct {
	Suite, Codename string
	Date            time.Time
	DateString      string
	ValidUntil      time.Time
	AcquireByHash   bool
	// AllInArchIndexes is true when Architecture: all packages are listed
	// in the per-architecture Packages files (no separate binary-all).
	AllInArchIndexes bool
	Architectures    []string
	Files            map[string]fileHash // SHA256 section, by path
}

type fileHash struct {
	SHA256 string
	Size   int64
}

var dateLayouts = []string{
	time.RFC1123, time.RFC1123Z,
	"Mon, 2 Jan 2006 15:04:05 MST", "Mon, 2 Jan 2006 15:04:05 -0700",
	"Mon, 02 Jan 2006 15:04:05 -0700 (MST)",
}

func parseDate(s string) (time.Time, error) {
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unparsable date %q", s)
}

// parseRelease reads a Release file's single deb822 paragraph.
func parseRelease(data []byte) (*release, error) {
	r := &release{Files: map[string]fileHash{}}
	var cur string
	lineNo := 0
	for len(data) > 0 {
		lineNo++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		l = bytes.TrimRight(l, "\r")
		if len(bytes.TrimSpace(l)) == 0 {
			if cur != "" {
				break // end of the paragraph
			}
			continue
		}
		if l[0] == ' ' || l[0] == '\t' {
			if cur == "sha256" {
				f := strings.Fields(string(l))
				if len(f) != 3 {
					return nil, fmt.Errorf("line %d: malformed SHA256 entry", lineNo)
				}
				size, err := strconv.ParseInt(f[1], 10, 64)
				if err != nil || len(f[0]) != 64 {
					return nil, fmt.Errorf("line %d: malformed SHA256 entry", lineNo)
				}
				if _, err := hex.DecodeString(f[0]); err != nil {
					return nil, fmt.Errorf("line %d: malformed SHA256 entry", lineNo)
				}
				r.Files[f[2]] = fileHash{SHA256: strings.ToLower(f[0]), Size: size}
			}
			continue
		}
		name, val, ok := strings.Cut(string(l), ":")
		if !ok {
			return nil, fmt.Errorf("line %d: malformed field", lineNo)
		}
		cur = strings.ToLower(name)
		val = strings.TrimSpace(val)
		var err error
		switch cur {
		case "suite":
			r.Suite = val
		case "codename":
			r.Codename = val
		case "date":
			r.DateString = val
			if r.Date, err = parseDate(val); err != nil {
				return nil, fmt.Errorf("Date: %w", err)
			}
		case "valid-until":
			if r.ValidUntil, err = parseDate(val); err != nil {
				return nil, fmt.Errorf("Valid-Until: %w", err)
			}
		case "acquire-by-hash":
			r.AcquireByHash = strings.EqualFold(val, "yes")
		case "no-support-for-architecture-all":
			r.AllInArchIndexes = val == "Packages"
		case "architectures":
			r.Architectures = strings.Fields(val)
		}
	}
	if r.DateString == "" {
		return nil, errors.New("no Date field")
	}
	return r, nil
}

// hasBinaryAll reports whether Architecture: all packages live in a
// separate binary-all index that must be fetched too.
func (r *release) hasBinaryAll() bool {
	return !r.AllInArchIndexes && slices.Contains(r.Architectures, "all")
}

// hasComponent reports whether the Release lists any Packages index of
// comp for arch.
func (r *release) hasComponent(comp, arch string) bool {
	base := comp + "/binary-" + arch + "/Packages"
	for _, ext := range indexVariants {
		if _, ok := r.Files[base+ext]; ok {
			return true
		}
	}
	return false
}

// checkDates refuses an expired Release (unless skipValidUntil) and one
// dated in the future beyond clock skew (which would make Valid-Until
// meaningless).
func (r *release) checkDates(now time.Time, skipValidUntil bool) error {
	if !skipValidUntil && r.expired(now) {
		return fmt.Errorf("%w: Valid-Until %s is in the past (%s ago); the mirror is stale or replaying old metadata",
			ErrExpired, r.ValidUntil.UTC().Format(time.RFC1123), now.Sub(r.ValidUntil).Round(time.Second))
	}
	const skew = time.Hour
	if r.Date.After(now.Add(skew)) {
		return fmt.Errorf("Date %s is in the future; check the system clock", r.DateString)
	}
	return nil
}

func (r *release) expired(now time.Time) bool {
	return !r.ValidUntil.IsZero() && now.After(r.ValidUntil)
}

// verifyInRelease checks a clearsigned InRelease and returns the signed
// text (only that text may be trusted, never the bytes around it).
func verifyInRelease(data []byte, kr openpgp.EntityList, keyringName string, now time.Time) ([]byte, error) {
	block, _ := clearsign.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: InRelease is not a clearsigned message", ErrUnsigned)
	}
	sigs, err := io.ReadAll(block.ArmoredSignature.Body)
	if err != nil {
		return nil, fmt.Errorf("%w: reading signature: %v", ErrBadSignature, err)
	}
	if err := verifySignatures(block.Bytes, sigs, kr, keyringName, now); err != nil {
		return nil, err
	}
	return block.Plaintext, nil
}

// verifyDetached checks Release against Release.gpg (armored or binary).
func verifyDetached(signed, sig []byte, kr openpgp.EntityList, keyringName string, now time.Time) error {
	if bytes.Contains(sig, []byte("-----BEGIN PGP SIGNATURE-----")) {
		block, err := armor.Decode(bytes.NewReader(sig))
		if err != nil {
			return fmt.Errorf("%w: Release.gpg: %v", ErrBadSignature, err)
		}
		if sig, err = io.ReadAll(block.Body); err != nil {
			return fmt.Errorf("%w: Release.gpg: %v", ErrBadSignature, err)
		}
	}
	return verifySignatures(signed, sig, kr, keyringName, now)
}

// verifySignatures accepts signed if at least one signature in sigs (a
// stream of signature packets; Debian signs with several keys) is valid
// and made by a current key in kr. Signatures by unknown keys are
// ignored when another one verifies, as gpgv does.
func verifySignatures(signed, sigs []byte, kr openpgp.EntityList, keyringName string, now time.Time) error {
	// Allow for clock skew between the archive and us: a signature made
	// a few minutes "in the future" is fine.
	const skew = 5 * time.Minute
	cfg := &packet.Config{Time: func() time.Time { return now.Add(skew) }}
	var unknown []string
	var bad []error
	pr := packet.NewReader(bytes.NewReader(sigs))
	n := 0
	for {
		p, err := pr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			bad = append(bad, err)
			break
		}
		sig, ok := p.(*packet.Signature)
		if !ok {
			continue
		}
		n++
		id := issuerString(sig)
		if sig.IssuerKeyId == nil || len(kr.KeysByIdUsage(*sig.IssuerKeyId, packet.KeyFlagSign)) == 0 {
			unknown = append(unknown, id)
			continue
		}
		var one bytes.Buffer
		if err := sig.Serialize(&one); err != nil {
			bad = append(bad, fmt.Errorf("key %s: %v", id, err))
			continue
		}
		if _, _, err := openpgp.VerifyDetachedSignature(kr, bytes.NewReader(signed), &one, cfg); err != nil {
			if sig.CreationTime.After(now.Add(skew)) {
				err = fmt.Errorf("signature made in the future (%s); check the system clock", sig.CreationTime.UTC().Format(time.RFC1123))
			}
			bad = append(bad, fmt.Errorf("key %s: %v", id, err))
			continue
		}
		return nil
	}
	switch {
	case len(bad) > 0:
		return fmt.Errorf("%w: %w", ErrBadSignature, errors.Join(bad...))
	case len(unknown) > 0:
		return fmt.Errorf("%w %s: not in keyring %s; add the repository's key with signed-by",
			ErrUnknownKey, strings.Join(unknown, ", "), keyringName)
	case n == 0:
		return fmt.Errorf("%w: no signature found", ErrUnsigned)
	}
	return fmt.Errorf("%w: no usable signature", ErrBadSignature)
}

func issuerString(sig *packet.Signature) string {
	if len(sig.IssuerFingerprint) > 0 {
		return strings.ToUpper(hex.EncodeToString(sig.IssuerFingerprint))
	}
	if sig.IssuerKeyId != nil {
		return fmt.Sprintf("%016X", *sig.IssuerKeyId)
	}
	return "(no issuer)"
}
