package token

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

var rotator = store.Actor{Principal: "t"}

// testClock is a rings' clock that tests move forward.
type testClock struct{ ahead atomic.Int64 }

func (c *testClock) now() time.Time                              { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *testClock) forward(d time.Duration)                     { c.ahead.Add(int64(d)) }
func (c *testClock) ring(t *testing.T, st *store.Store) *KeyRing { return ringAt(t, st, c.now) }

// signedKID signs a token on r and returns the kid in its header.
func signedKID(t *testing.T, r *KeyRing) string {
	t.Helper()
	raw, err := r.Sign(claims(3 * time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := jwt.NewParser().ParseUnverified(raw, &Claims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}

func jwksKIDs(r *KeyRing) []string {
	var kids []string
	for _, k := range r.JWKS()["keys"] {
		kids = append(kids, k.KeyID)
	}
	return kids
}

// stateOf returns the state List gives kid ("" when it is not listed).
func stateOf(t *testing.T, r *KeyRing, kid string) KeyInfo {
	t.Helper()
	keys, err := r.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.KID == kid {
			return k
		}
	}
	return KeyInfo{}
}

// A rotation pre-publishes the next key: both nodes publish it at once but
// keep signing with the old key until its activation; then, on the rings'
// clock alone (no reload, no feed entry), both sign with the new key and
// the old one retires, verifying for the overlap counted from the
// activation. A node started after the activation agrees. List shows each
// key's state and schedule throughout.
func TestPrepublishedKeySignsAtActivation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st := storetest.Open(t, driver)
		var clock testClock
		r, other := clock.ring(t, st), clock.ring(t, st)
		oldKID := r.SigningKID()
		old, _ := r.Sign(claims(3 * time.Hour))
		const prepublish, overlap = 10 * time.Minute, time.Hour
		before := clock.now()
		next, err := r.Rotate(ctx, Rotation{Prepublish: prepublish, Overlap: overlap}, rotator)
		if err != nil {
			t.Fatal(err)
		}
		activation := next.ActivatesAt
		if next.State != KeyPending || next.KID == oldKID || activation.Before(before.Add(prepublish)) || activation.After(clock.now().Add(prepublish)) {
			t.Fatalf("Rotate = %+v; want a pending key activating %s after the rotation", next, prepublish)
		}
		if err := other.Load(ctx); err != nil { // as the change feed makes it do
			t.Fatal(err)
		}
		nodes := map[string]*KeyRing{"rotating node": r, "other node": other}
		for name, n := range nodes {
			if kid := signedKID(t, n); kid != oldKID || n.SigningKID() != oldKID {
				t.Errorf("%s: signs with %s before the activation, want the old key %s", name, kid, oldKID)
			}
			if got := jwksKIDs(n); !slices.Equal(got, []string{oldKID, next.KID}) {
				t.Errorf("%s: JWKS before the activation = %v, want the old key then the pending one", name, got)
			}
			if !n.Verifies(next.KID, clock.now()) { // a node whose clock runs ahead may already use it
				t.Errorf("%s: the pending key does not verify", name)
			}
		}
		if got := stateOf(t, r, oldKID); got.State != KeySigning || !got.RetiresAt.Equal(activation) || !got.VerifiesUntil.Equal(activation.Add(overlap)) {
			t.Errorf("old key before the activation: %+v", got)
		}
		if got := stateOf(t, r, next.KID); got.State != KeyPending || !got.ActivatesAt.Equal(activation) || !got.RetiresAt.IsZero() {
			t.Errorf("new key before the activation: %+v", got)
		}

		clock.forward(activation.Sub(clock.now()) + time.Second)
		nodes["node started after the activation"] = clock.ring(t, st)
		for name, n := range nodes {
			if kid := signedKID(t, n); kid != next.KID || n.SigningKID() != next.KID {
				t.Errorf("%s: signs with %s after the activation, want %s", name, kid, next.KID)
			}
			if got := jwksKIDs(n); !slices.Equal(got, []string{next.KID, oldKID}) {
				t.Errorf("%s: JWKS after the activation = %v, want the new key then the old one", name, got)
			}
			if _, err := NewVerifier(n, iss, iss, 0).Verify(ctx, old); err != nil {
				t.Errorf("%s: old key's token during the overlap: %v", name, err)
			}
		}
		if got := stateOf(t, r, oldKID); got.State != KeyRetired || !got.VerifiesUntil.Equal(activation.Add(overlap)) {
			t.Errorf("old key after the activation: %+v", got)
		}
		if got := stateOf(t, r, next.KID); got.State != KeySigning {
			t.Errorf("new key after the activation: %+v", got)
		}

		clock.forward(overlap)
		for name, n := range nodes {
			if _, err := NewVerifier(n, iss, iss, 0).Verify(ctx, old); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("%s: old key's token after the overlap: err = %v, want ErrUnknownKey", name, err)
			}
			if got := jwksKIDs(n); !slices.Equal(got, []string{next.KID}) {
				t.Errorf("%s: JWKS after the overlap = %v", name, got)
			}
		}
	})
}

// A second rotation while a key is pending is refused (a
// *store.PendingKeyError, an ErrConflict, naming the pending key) and
// changes nothing; an emergency rotation then signs at once on every node
// that loads it, and the pending key it replaces never signs, even past
// its activation time, but keeps verifying for the overlap.
func TestRotateWhilePending(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st := storetest.Open(t, driver)
		var clock testClock
		r := clock.ring(t, st)
		oldKID := r.SigningKID()
		rot := Rotation{Prepublish: 10 * time.Minute, Overlap: time.Hour}
		pending, err := r.Rotate(ctx, rot, rotator)
		if err != nil {
			t.Fatal(err)
		}
		clock.forward(time.Minute)
		_, err = r.Rotate(ctx, rot, rotator)
		var perr *store.PendingKeyError
		if !errors.As(err, &perr) || !errors.Is(err, store.ErrConflict) || perr.KID != pending.KID || !perr.ActivatesAt.Equal(pending.ActivatesAt) {
			t.Fatalf("second rotation while %s is pending: err = %v", pending.KID, err)
		}
		if keys, _ := r.List(ctx); len(keys) != 2 {
			t.Fatalf("a refused rotation stored a key: %+v", keys)
		}
		if got := stateOf(t, r, oldKID); !got.RetiresAt.Equal(pending.ActivatesAt) {
			t.Fatalf("a refused rotation moved the old key's retirement: %+v", got)
		}

		rot.Emergency = true
		urgent, err := r.Rotate(ctx, rot, rotator)
		if err != nil || urgent.State != KeySigning || r.SigningKID() != urgent.KID {
			t.Fatalf("emergency rotation = %+v, %v; signing %s", urgent, err, r.SigningKID())
		}
		other := clock.ring(t, st)
		clock.forward(pending.ActivatesAt.Sub(clock.now()) + time.Second)
		for name, n := range map[string]*KeyRing{"rotating node": r, "other node": other} {
			if kid := signedKID(t, n); kid != urgent.KID {
				t.Errorf("%s: signs with %s past the replaced key's activation, want %s", name, kid, urgent.KID)
			}
			if !slices.Contains(jwksKIDs(n), pending.KID) || !n.Verifies(oldKID, clock.now()) {
				t.Errorf("%s: the replaced keys stopped verifying before the overlap", name)
			}
		}
		if got := stateOf(t, r, pending.KID); got.State != KeyRetired {
			t.Errorf("replaced pending key: %+v", got)
		}
	})
}

// An emergency rotation with RetireOld stops the old keys verifying at once
// (their tokens are refused, the JWKS drops them) for keys that may be
// compromised: the one that was signing and those retired before, still in
// their overlap; RetireOld without Emergency is refused and stores nothing.
func TestEmergencyRetireOld(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st := storetest.Open(t, driver)
		r := ring(t, st)
		oldKID := r.SigningKID()
		old, _ := r.Sign(claims(time.Hour))
		if _, err := r.Rotate(ctx, Rotation{Overlap: time.Hour, RetireOld: true}, rotator); !errors.Is(err, ErrRetireNeedsEmergency) {
			t.Fatalf("RetireOld without Emergency: err = %v", err)
		}
		if keys, _ := r.List(ctx); len(keys) != 1 || r.SigningKID() != oldKID {
			t.Fatalf("a refused rotation changed the ring: %+v", keys)
		}
		// A rotation without retire_old first: the first key is retired
		// and still verifies through its overlap.
		middle, err := r.Rotate(ctx, Rotation{Overlap: time.Hour, Emergency: true}, rotator)
		if err != nil || r.SigningKID() != middle.KID {
			t.Fatal(err)
		}
		if _, err := NewVerifier(r, iss, iss, 0).Verify(ctx, old); err != nil {
			t.Fatalf("the first key's token in its overlap: %v", err)
		}
		recent, _ := r.Sign(claims(time.Hour))
		next, err := r.Rotate(ctx, Rotation{Prepublish: time.Hour, Overlap: time.Hour, Emergency: true, RetireOld: true}, rotator)
		if err != nil || r.SigningKID() != next.KID {
			t.Fatal(err)
		}
		for what, tok := range map[string]string{"the key that was signing": recent, "the key already retired, in its overlap": old} {
			if _, err := NewVerifier(r, iss, iss, 0).Verify(ctx, tok); !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("a token of %s after retire_old: err = %v, want ErrUnknownKey", what, err)
			}
		}
		if got := jwksKIDs(r); !slices.Equal(got, []string{next.KID}) {
			t.Fatalf("JWKS after retire_old = %v", got)
		}
	})
}

// A database made before pre-publication (no activates_at column, an old
// key retired with an overlap and a current one) upgrades in place: the
// current key keeps signing, both verify, and the next rotation
// pre-publishes.
func TestUpgradeKeepsSigningKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn := storetest.DSN(t, driver)
		st, err := store.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		r := ring(t, st)
		oldRaw, _ := r.Sign(claims(time.Hour))
		first := r.SigningKID()
		// The previous release's rotation: a new key, the old one retired.
		k, _ := r.newKey()
		now := time.Now().UTC()
		if err := st.DB.Exec("UPDATE signing_keys SET retired_at = ?, verify_until = ?", now, now.Add(time.Hour)).Error; err != nil {
			t.Fatal(err)
		}
		if err := st.DB.Exec("ALTER TABLE signing_keys DROP COLUMN activates_at").Error; err != nil {
			t.Fatal(err)
		}
		err = st.DB.Exec("INSERT INTO signing_keys (kid, algorithm, public_key, private_ciphertext, created_at) VALUES (?, ?, ?, ?, ?)",
			k.KID, k.Algorithm, k.PublicKey, k.PrivateCiphertext, now.Add(time.Millisecond)).Error
		if err != nil {
			t.Fatal(err)
		}
		st.Close()

		st, err = store.Open(driver, dsn)
		if err != nil {
			t.Fatalf("migrating a database without activates_at: %v", err)
		}
		t.Cleanup(func() { st.Close() })
		r = ring(t, st)
		if r.SigningKID() != k.KID || signedKID(t, r) != k.KID {
			t.Fatalf("after the upgrade the ring signs with %s, want the current key %s", r.SigningKID(), k.KID)
		}
		if _, err := NewVerifier(r, iss, iss, 0).Verify(ctx, oldRaw); err != nil {
			t.Fatalf("retired key's token after the upgrade: %v", err)
		}
		if got := jwksKIDs(r); !slices.Equal(got, []string{k.KID, first}) {
			t.Fatalf("JWKS after the upgrade = %v", got)
		}
		next, err := r.Rotate(ctx, Rotation{Prepublish: time.Hour, Overlap: time.Hour}, rotator)
		if err != nil || next.State != KeyPending || r.SigningKID() != k.KID {
			t.Fatalf("first rotation after the upgrade: %+v, %v; signing %s", next, err, r.SigningKID())
		}
	})
}

// The JWKS may be cached for less than the pre-publication delay (half of
// it, at most five minutes), so a client that honours Cache-Control holds
// a new key before it signs.
func TestJWKSMaxAge(t *testing.T) {
	for prepublish, want := range map[time.Duration]time.Duration{
		10 * time.Minute: 5 * time.Minute,
		6 * time.Minute:  3 * time.Minute,
		time.Hour:        5 * time.Minute,
		3 * time.Second:  time.Second,
		time.Second:      0,
	} {
		if got := JWKSMaxAge(prepublish); got != want || got >= prepublish {
			t.Errorf("JWKSMaxAge(%s) = %s, want %s", prepublish, got, want)
		}
	}
}
