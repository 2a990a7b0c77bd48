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
	"sync/atomic"
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
	// now is the ring's clock; tests move it to the end of an overlap.
	now func() time.Time

	loadMu sync.Mutex // one Load at a time, so an older read never wins
	// state is replaced whole by Load and only read otherwise, so the hot
	// path (every uncached token, every cached one's key check) takes no lock.
	state atomic.Pointer[ringState]
}

// ringState is one immutable snapshot of the ring.
type ringState struct {
	signingKID string
	signing    ed25519.PrivateKey
	verify     map[string]ringKey
	loaded     time.Time
}

// ringKey is a key that verifies, until VerifyUntil when it is retired.
type ringKey struct {
	pub   ed25519.PublicKey
	until time.Time // zero while the key is not retired
}

// verifies reports whether the key still verifies at now. The database row
// of a key past its overlap is deleted by the periodic clean-up, but a
// running node has it in memory: the end of the overlap is enforced here.
func (k ringKey) verifies(now time.Time) bool { return k.until.IsZero() || now.Before(k.until) }

// NewKeyRing returns a ring backed by st; call Load before use.
func NewKeyRing(st *store.Store, sealer *secret.Sealer) *KeyRing {
	r := &KeyRing{store: st, sealer: sealer, now: time.Now}
	r.state.Store(&ringState{verify: map[string]ringKey{}})
	return r
}

// Load reads the keys from the store, creating the first one if there is none.
func (r *KeyRing) Load(ctx context.Context) error {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	return r.load(ctx)
}

// load is Load; the caller holds loadMu.
func (r *KeyRing) load(ctx context.Context) error {
	keys, err := r.store.ListSigningKeys(ctx, r.now())
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
		if keys, err = r.store.ListSigningKeys(ctx, r.now()); err != nil {
			return err
		}
	}
	next := &ringState{verify: make(map[string]ringKey, len(keys))}
	for _, k := range keys {
		if len(k.PublicKey) != ed25519.PublicKeySize {
			return fmt.Errorf("signing key %s: bad public key", k.KID)
		}
		rk := ringKey{pub: ed25519.PublicKey(k.PublicKey)}
		if k.VerifyUntil != nil {
			rk.until = *k.VerifyUntil
		}
		next.verify[k.KID] = rk
		if k.RetiredAt == nil && next.signing == nil {
			seed, err := r.sealer.Open(k.PrivateCiphertext, []byte(k.KID))
			if err != nil {
				return fmt.Errorf("signing key %s: %w (is the master key the one this database was created with?)", k.KID, err)
			}
			next.signingKID, next.signing = k.KID, ed25519.NewKeyFromSeed(seed)
		}
	}
	next.loaded = time.Now() // real time: it paces reloads, not key expiry
	r.state.Store(next)
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
	if err := r.store.AddSigningKey(ctx, k, r.now().Add(overlap).UTC(), a); err != nil {
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
func (r *KeyRing) SigningKID() string { return r.state.Load().signingKID }

// Sign mints a JWT for c with the current signing key.
func (r *KeyRing) Sign(c *Claims) (string, error) {
	st := r.state.Load()
	if st.signing == nil {
		return "", errors.New("no signing key loaded")
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c)
	t.Header["typ"] = Type
	t.Header["kid"] = st.signingKID
	return t.SignedString(st.signing)
}

// Verifies reports whether the key kid still verifies at now: it is in the
// ring and, if retired, its overlap has not ended. The verification cache
// asks it on every hit, since a cached token skips publicKey.
func (r *KeyRing) Verifies(kid string, now time.Time) bool {
	k, ok := r.state.Load().verify[kid]
	return ok && k.verifies(now)
}

// publicKey returns the verifying key for kid. A miss reloads the ring at
// most once a second, so a key another node just created is found without
// letting garbage tokens hammer the database. A retired key past its
// overlap is refused like an unknown one (as a node that starts later,
// which never loads it, refuses it) and is not worth a reload: a retired
// key never comes back.
func (r *KeyRing) publicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	st := r.state.Load()
	if k, ok := st.verify[kid]; ok {
		if k.verifies(r.now()) {
			return k.pub, nil
		}
		return nil, ErrUnknownKey
	}
	if time.Since(st.loaded) > time.Second {
		r.reloadSince(ctx, st)
		if k, ok := r.state.Load().verify[kid]; ok && k.verifies(r.now()) {
			return k.pub, nil
		}
	}
	return nil, ErrUnknownKey
}

// reloadSince loads the ring unless it was loaded after seen was read:
// misses that arrive together (a burst of tokens with made-up kids) wait
// for one query instead of each making its own. A failed load keeps the
// ring as it was.
func (r *KeyRing) reloadSince(ctx context.Context, seen *ringState) {
	r.loadMu.Lock()
	defer r.loadMu.Unlock()
	if r.state.Load() == seen {
		_ = r.load(ctx)
	}
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

// JWKS returns the document listing every key that verifies now (RFC 7517),
// the signing key first.
func (r *KeyRing) JWKS() map[string][]JWK {
	st, now := r.state.Load(), r.now()
	keys := make([]JWK, 0, len(st.verify))
	if k, ok := st.verify[st.signingKID]; ok {
		keys = append(keys, jwk(st.signingKID, k.pub))
	}
	for kid, k := range st.verify {
		if kid != st.signingKID && k.verifies(now) {
			keys = append(keys, jwk(kid, k.pub))
		}
	}
	return map[string][]JWK{"keys": keys}
}

func jwk(kid string, pub ed25519.PublicKey) JWK {
	return JWK{KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub), KeyID: kid, Use: "sig", Algorithm: Algorithm}
}
