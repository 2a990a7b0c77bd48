// Package secret protects client secrets and private keys at rest.
//
// One master key (32 bytes, from the environment or a 0600 file in Caddy's
// data directory) is expanded with HKDF into two independent keys: an
// AES-256-GCM key that encrypts what must be readable again (client secrets
// shown to their owner, signing keys) and an HMAC-SHA256 key that produces the
// digest used to look a secret up and to compare it in constant time.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/hkdf"
)

// KeySize is the length of the master key in bytes.
const KeySize = 32

// Sealer encrypts, decrypts and digests secrets with keys derived from one
// master key. It is safe for concurrent use.
type Sealer struct {
	aead   cipher.AEAD
	macKey []byte
	// macs are keyed HMAC-SHA256 states for Digest and Matches: every
	// token request checks a secret, and hmac.New allocates two hashes and
	// both pads each time.
	macs sync.Pool
}

// NewSealer derives the encryption and digest keys from master.
func NewSealer(master []byte) (*Sealer, error) {
	if len(master) != KeySize {
		return nil, fmt.Errorf("master key must be %d bytes, got %d", KeySize, len(master))
	}
	encKey := derive(master, "scopegate secret encryption v1")
	macKey := derive(master, "scopegate secret digest v1")
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	s := &Sealer{aead: aead, macKey: macKey}
	s.macs.New = func() any { return &mac{h: hmac.New(sha256.New, s.macKey)} }
	return s, nil
}

func derive(master []byte, info string) []byte {
	out := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, master, nil, []byte(info)), out); err != nil {
		panic(err) // HKDF cannot fail for 32 bytes of output
	}
	return out
}

// Seal encrypts plaintext; aad binds the ciphertext to its owner (for example
// the client id) so a ciphertext copied onto another row does not decrypt.
func (s *Sealer) Seal(plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, plaintext, aad), nil
}

// ErrWrongKey is Open's answer to ciphertext another key sealed (or that
// was tampered with).
var ErrWrongKey = errors.New("cannot decrypt: wrong key or tampered data")

// Open decrypts what Seal produced with the same aad.
func (s *Sealer) Open(ciphertext, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(ciphertext) < n {
		return nil, errors.New("ciphertext too short")
	}
	plain, err := s.aead.Open(nil, ciphertext[:n], ciphertext[n:], aad)
	if err != nil {
		return nil, ErrWrongKey
	}
	return plain, nil
}

// Digest returns the keyed digest (hex HMAC-SHA256) of a secret. Without the
// master key a leaked digest cannot be tested against guesses.
func (s *Sealer) Digest(secret string) string {
	var d [hexDigestSize]byte
	s.digest(secret, &d)
	return string(d[:])
}

// Matches reports, in constant time, whether secret has the given digest.
func (s *Sealer) Matches(secret, digest string) bool {
	if digest == "" {
		return false
	}
	var d [hexDigestSize]byte
	s.digest(secret, &d)
	return subtle.ConstantTimeCompare(d[:], []byte(digest)) == 1
}

const hexDigestSize = 2 * sha256.Size

// digest writes Digest(secret) to d.
func (s *Sealer) digest(secret string, d *[hexDigestSize]byte) {
	m := s.macs.Get().(*mac)
	m.h.Reset()
	m.h.Write([]byte(secret))
	hex.Encode(d[:], m.h.Sum(m.sum[:0]))
	s.macs.Put(m)
}

// mac is a pooled HMAC state with room for its sum, which would otherwise
// escape to the heap through the hash.Hash interface.
type mac struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// NewToken returns n random bytes encoded as unpadded base64url.
func NewToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewClientSecret returns a new secret with 256 bits of entropy.
func NewClientSecret() string { return NewToken(32) }

// ParseKey decodes a master key given as base64 (standard or URL alphabet,
// padded or not) or as 64 hex digits.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("master key must decode to %d bytes, got %d", KeySize, len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("master key must be 32 bytes in base64 or hex")
}

// LoadOrCreateKeyFile reads the master key kept at path, creating it with
// 0600 permissions (and its directory with 0700) the first time.
func LoadOrCreateKeyFile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		return ParseKey(string(data))
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		// Another process created it first: use theirs.
		return LoadOrCreateKeyFile(path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}
