package token

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
)

// Algorithm is the only signing algorithm Scopegate issues and accepts.
const Algorithm = "EdDSA"

// ErrUnknownKey means a token names a key the ring does not hold.
var ErrUnknownKey = errors.New("token signed by an unknown key")

// KeyRing holds the signing keys and every key that still verifies. Keys
// are shared through the store by every node that uses the same database.
// Which key signs is decided at each signature on the ring's clock (see
// ringState.signer), so a pre-published key starts signing on every node at
// its activation time without any node having to hear about it then.
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
	verify map[string]ringKey
	// ownHeaders maps the header segment of each key with an ownKey to its
	// kid: a token carrying one of them byte for byte needs no header
	// decoding (Verifier.parseSigned).
	ownHeaders map[string]string
	// byActivation lists the kids newest activation first.
	byActivation []string
	loaded       time.Time
}

// ringKey is a key that verifies, until VerifyUntil when it is retired.
type ringKey struct {
	pub       ed25519.PublicKey
	activates time.Time // when it starts signing
	retires   time.Time // when it stops signing; zero while not scheduled
	until     time.Time // zero while the key is not retired
	// priv is nil for a key that had stopped signing when the ring was
	// loaded: its private part is never decrypted again.
	priv ed25519.PrivateKey
	// own confirms the key's signatures cheaply (see ownKey); nil when priv is.
	own *ownKey
	// header is the JOSE header segment of every token the key signs.
	header string
}

// verifies reports whether the key still verifies at now. The database row
// of a key past its overlap is deleted by the periodic clean-up, but a
// running node has it in memory: the end of the overlap is enforced here.
func (k ringKey) verifies(now time.Time) bool { return k.until.IsZero() || now.Before(k.until) }

// signs reports whether the key may sign at now, activation aside.
func (k ringKey) signs(now time.Time) bool {
	return k.priv != nil && (k.retires.IsZero() || now.Before(k.retires))
}

// signer returns the key that signs at now: the newest key that has
// activated and not retired. Should none have activated on this node's clock
// (the first key, made by a node whose clock runs ahead), the earliest key
// that will sign does, rather than no key at all.
func (st *ringState) signer(now time.Time) (string, ed25519.PrivateKey) {
	soonest := ""
	for _, kid := range st.byActivation {
		k := st.verify[kid]
		if !k.signs(now) {
			continue
		}
		if !now.Before(k.activates) {
			return kid, k.priv
		}
		soonest = kid
	}
	if soonest == "" {
		return "", nil
	}
	return soonest, st.verify[soonest].priv
}

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
	now := r.now()
	next := &ringState{verify: make(map[string]ringKey, len(keys)), ownHeaders: map[string]string{}}
	for _, k := range keys {
		if len(k.PublicKey) != ed25519.PublicKeySize {
			return fmt.Errorf("signing key %s: bad public key", k.KID)
		}
		rk := ringKey{pub: ed25519.PublicKey(k.PublicKey), activates: k.Activation(), header: headerSegment(k.KID)}
		if k.RetiredAt != nil {
			rk.retires = *k.RetiredAt
		}
		if k.VerifyUntil != nil {
			rk.until = *k.VerifyUntil
		}
		if rk.retires.IsZero() || now.Before(rk.retires) {
			seed, err := r.sealer.Open(k.PrivateCiphertext, []byte(k.KID))
			if err != nil {
				return fmt.Errorf("signing key %s: %w (is the master key the one this database was created with?)", k.KID, err)
			}
			rk.priv = ed25519.NewKeyFromSeed(seed)
			rk.own = newOwnKey(rk.pub, rk.priv)
			if rk.own != nil {
				next.ownHeaders[rk.header] = k.KID
			}
		}
		next.verify[k.KID] = rk
		next.byActivation = append(next.byActivation, k.KID)
	}
	slices.SortStableFunc(next.byActivation, func(a, b string) int { // keys come newest created first
		return next.verify[b].activates.Compare(next.verify[a].activates)
	})
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
	// PostgreSQL keeps microseconds: what Rotate answers is what is stored.
	now := r.now().UTC().Truncate(time.Microsecond)
	return &store.SigningKey{
		KID: kid, Algorithm: Algorithm, PublicKey: pub, PrivateCiphertext: sealed,
		CreatedAt: now, ActivatesAt: &now,
	}, nil
}

// Thumbprint is the RFC 7638 JWK thumbprint of an Ed25519 public key, used as kid.
func Thumbprint(pub ed25519.PublicKey) string {
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// SigningKID returns the kid new tokens are signed with now.
func (r *KeyRing) SigningKID() string {
	kid, _ := r.state.Load().signer(r.now())
	return kid
}

// Verifies reports whether the key kid still verifies at now: it is in the
// ring and, if retired, its overlap has not ended. Verifier.Check asks it
// on every request, since a cached token skips key.
func (r *KeyRing) Verifies(kid string, now time.Time) bool {
	k, ok := r.state.Load().verify[kid]
	return ok && k.verifies(now)
}

// verifiesNow is Verifies on the ring's clock, the one key uses.
func (r *KeyRing) verifiesNow(kid string) bool { return r.Verifies(kid, r.now()) }

// key returns the verifying key for kid. A miss reloads the ring at most
// once a second, so a key another node just created is found without
// letting garbage tokens hammer the database. A retired key past its
// overlap is refused like an unknown one (as a node that starts later,
// which never loads it, refuses it) and is not worth a reload: a retired
// key never comes back.
func (r *KeyRing) key(ctx context.Context, kid string) (ringKey, error) {
	st := r.state.Load()
	if k, ok := st.verify[kid]; ok {
		if k.verifies(r.now()) {
			return k, nil
		}
		return ringKey{}, ErrUnknownKey
	}
	if time.Since(st.loaded) > time.Second {
		r.reloadSince(ctx, st)
		if k, ok := r.state.Load().verify[kid]; ok && k.verifies(r.now()) {
			return k, nil
		}
	}
	return ringKey{}, ErrUnknownKey
}

// signed reports whether sig is k's signature of message: confirmed
// without a verification when this node holds the private key (ownKey),
// verified with the public key otherwise (a retired key whose private half
// was not loaded).
func (k ringKey) signed(message, sig []byte) bool {
	if k.own != nil {
		return k.own.confirms(message, sig)
	}
	return ed25519.Verify(k.pub, message, sig)
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
