package secret

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func testSealer(t *testing.T) *Sealer {
	t.Helper()
	s, err := NewSealer(bytes.Repeat([]byte{7}, KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Seal/Open round-trips, and a ciphertext moved to another owner (aad) or
// tampered with does not decrypt.
func TestSealOpenBindsOwner(t *testing.T) {
	s := testSealer(t)
	ct, err := s.Seal([]byte("hunter2"), []byte("client-a"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("hunter2")) {
		t.Fatal("ciphertext contains the plaintext")
	}
	got, err := s.Open(ct, []byte("client-a"))
	if err != nil || string(got) != "hunter2" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(ct, []byte("client-b")); err == nil {
		t.Fatal("ciphertext opened under another owner")
	}
	ct[len(ct)-1] ^= 1
	if _, err := s.Open(ct, []byte("client-a")); err == nil {
		t.Fatal("tampered ciphertext opened")
	}
	if _, err := s.Open([]byte{1, 2}, nil); err == nil {
		t.Fatal("short ciphertext opened")
	}
}

// Digests are keyed: the same secret under another master key differs, and
// Matches accepts only the right secret.
func TestDigestIsKeyed(t *testing.T) {
	a := testSealer(t)
	b, _ := NewSealer(bytes.Repeat([]byte{8}, KeySize))
	if a.Digest("x") == b.Digest("x") {
		t.Fatal("digest does not depend on the key")
	}
	d := a.Digest("secret-1")
	if !a.Matches("secret-1", d) || a.Matches("secret-2", d) || a.Matches("secret-1", "") {
		t.Fatal("Matches gave a wrong answer")
	}
}

// Digest stays the hex HMAC-SHA256 of the secret under the derived digest
// key, so the digests already stored keep matching; the pooled HMAC states
// shared by concurrent requests never mix one secret into another's digest
// (run with -race), and a secret close to the real one, or a digest cut
// short, does not match.
func TestDigestIsStableHMAC(t *testing.T) {
	s := testSealer(t)
	want := func(secret string) string {
		m := hmac.New(sha256.New, derive(bytes.Repeat([]byte{7}, KeySize), "scopegate secret digest v1"))
		m.Write([]byte(secret))
		return hex.EncodeToString(m.Sum(nil))
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				secret := fmt.Sprintf("secret-%d-%d", g, i)
				if d := s.Digest(secret); d != want(secret) || !s.Matches(secret, d) ||
					s.Matches(secret+"x", d) || s.Matches(secret, d[:len(d)-1]) {
					errs <- secret
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for secret := range errs {
		t.Errorf("digest of %q is not the HMAC, or matched what it should not", secret)
	}
}

// Client secrets carry 256 bits: 43 base64url characters, never repeating.
func TestNewClientSecretEntropy(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		s := NewClientSecret()
		if len(s) != 43 || seen[s] {
			t.Fatalf("bad secret %q", s)
		}
		seen[s] = true
	}
}

// The key file is created once with 0600 and read back unchanged.
func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	k1, err := LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("mode = %v, %v", st.Mode(), err)
	}
	k2, err := LoadOrCreateKeyFile(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Fatal("second load returned another key")
	}
}

// ParseKey accepts base64 and hex and rejects keys of the wrong size.
func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=", true},
		{"0707070707070707070707070707070707070707070707070707070707070707", true},
		{"c2hvcnQ=", false},
		{"not a key!", false},
	} {
		_, err := ParseKey(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseKey(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}
