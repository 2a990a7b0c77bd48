package token

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
)

// Algorithm is the only signing algorithm Scopegate issues and accepts.
const Algorithm = "EdDSA"

// ErrUnknownKey means a token names a key the ring does not hold.
var ErrUnknownKey = errors.New("token signed by an unknown key")

// KeyRing holds the signing key and every key that still verifies. Keys are
// shared through the store by every node that uses the same database.
type KeyRing struct {
	store  *store.Store
	sealer *secret.Sealer

	mu         sync.RWMutex
	signingKID string
	signing    ed25519.PrivateKey
	verify     map[string]ed25519.PublicKey
	lastLoad   time.Time
}

// NewKeyRing returns a ring backed by st; call Load before use.
func NewKeyRing(st *store.Store, sealer *secret.Sealer) *KeyRing {
	return &KeyRing{store: st, sealer: sealer, verify: map[string]ed25519.PublicKey{}}
}

// Load reads the keys from the store, creating the first one if there is none.
func (r *KeyRing) Load(ctx context.Context) error {
	keys, err := r.store.ListSigningKeys(ctx, time.Now())
	if err != nil {
		return err
	}
	if !hasActive(keys) {
		k, err := r.newKey()
		if err != nil {
			return err
		}
		if _, err := r.store.AddFirstSigningKey(ctx, k); err != nil {
			return err
		}
		if keys, err = r.store.ListSigningKeys(ctx, time.Now()); err != nil {
			return err
		}
	}
	verify := make(map[string]ed25519.PublicKey, len(keys))
	var signKID string
	var signKey ed25519.PrivateKey
	for _, k := range keys {
		if len(k.PublicKey) != ed25519.PublicKeySize {
			return fmt.Errorf("signing key %s: bad public key", k.KID)
		}
		verify[k.KID] = ed25519.PublicKey(k.PublicKey)
		if k.RetiredAt == nil && signKey == nil {
			seed, err := r.sealer.Open(k.PrivateCiphertext, []byte(k.KID))
			if err != nil {
				return fmt.Errorf("signing key %s: %w (is the master key the one this database was created with?)", k.KID, err)
			}
			signKID, signKey = k.KID, ed25519.NewKeyFromSeed(seed)
		}
	}
	r.mu.Lock()
	r.verify, r.signingKID, r.signing, r.lastLoad = verify, signKID, signKey, time.Now()
	r.mu.Unlock()
	return nil
}

func hasActive(keys []store.SigningKey) bool {
	for _, k := range keys {
		if k.RetiredAt == nil {
			return true
		}
	}
	return false
}

func (r *KeyRing) newKey() (*store.SigningKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	kid := Thumbprint(pub)
	sealed, err := r.sealer.Seal(priv.Seed(), []byte(kid))
	if err != nil {
		return nil, err
	}
	return &store.SigningKey{KID: kid, Algorithm: Algorithm, PublicKey: pub, PrivateCiphertext: sealed, CreatedAt: time.Now().UTC()}, nil
}

// Rotate makes a new signing key; the previous ones keep verifying for
// overlap (set it to at least the longest token lifetime).
func (r *KeyRing) Rotate(ctx context.Context, overlap time.Duration, a store.Actor) (string, error) {
	k, err := r.newKey()
	if err != nil {
		return "", err
	}
	if err := r.store.AddSigningKey(ctx, k, time.Now().Add(overlap).UTC(), a); err != nil {
		return "", err
	}
	return k.KID, r.Load(ctx)
}

// Thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 public key, used as kid.
func Thumbprint(pub ed25519.PublicKey) string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// SigningKID returns the kid new tokens are signed with.
func (r *KeyRing) SigningKID() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.signingKID
}

// Sign mints a JWT for c with the current signing key.
func (r *KeyRing) Sign(c *Claims) (string, error) {
	r.mu.RLock()
	kid, key := r.signingKID, r.signing
	r.mu.RUnlock()
	if key == nil {
		return "", errors.New("no signing key loaded")
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["typ"] = Type
	t.Header["kid"] = kid
	return t.SignedString(key)
}

// publicKey returns the verifying key for kid. A miss reloads the ring at
// most once a second, so a key another node just created is found without
// letting garbage tokens hammer the database.
func (r *KeyRing) publicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	r.mu.RLock()
	pub, ok := r.verify[kid]
	stale := time.Since(r.lastLoad) > time.Second
	r.mu.RUnlock()
	if ok {
		return pub, nil
	}
	if stale {
		if err := r.Load(ctx); err == nil {
			r.mu.RLock()
			pub, ok = r.verify[kid]
			r.mu.RUnlock()
			if ok {
				return pub, nil
			}
		}
	}
	return nil, ErrUnknownKey
}

// JWK is one public key as published in the JWKS document.
type JWK struct {
	KeyType   string `json:"kty"`
	Curve     string `json:"crv"`
	X         string `json:"x"`
	KeyID     string `json:"kid"`
	Use       string `json:"use"`
	Algorithm string `json:"alg"`
}

// JWKS returns the document listing every key that verifies (RFC 7517).
func (r *KeyRing) JWKS() map[string][]JWK {
	r.mu.RLock()
	defer r.mu.RUnlock()
	keys := make([]JWK, 0, len(r.verify))
	if pub, ok := r.verify[r.signingKID]; ok { // the signing key first
		keys = append(keys, jwk(r.signingKID, pub))
	}
	for kid, pub := range r.verify {
		if kid != r.signingKID {
			keys = append(keys, jwk(kid, pub))
		}
	}
	return map[string][]JWK{"keys": keys}
}

func jwk(kid string, pub ed25519.PublicKey) JWK {
	return JWK{KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), KeyID: kid, Use: "sig", Algorithm: Algorithm}
}
