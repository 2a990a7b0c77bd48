package token

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

const iss = "https://issuer.test"

func ring(t *testing.T, st *store.Store) *KeyRing {
	t.Helper()
	sealer, _ := secret.NewSealer(bytes.Repeat([]byte{3}, secret.KeySize))
	r := NewKeyRing(st, sealer)
	if err := r.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

func claims(exp time.Duration) *Claims {
	now := time.Now()
	return &Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: iss, Subject: "c1", ID: "j1", Audience: jwt.ClaimStrings{iss},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(exp)),
		},
		ClientID: "c1", Scope: "a b", Legs: 2,
	}
}

// A minted token verifies and round-trips its claims; a second node that
// shares the database verifies it too, with the same key.
func TestSignVerifyAcrossNodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		r1, r2 := ring(t, st), ring(t, st)
		if r1.SigningKID() != r2.SigningKID() {
			t.Fatal("two nodes on one database made two keys")
		}
		raw, err := r1.Sign(claims(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewVerifier(r2, iss, time.Second).Verify(context.Background(), raw)
		if err != nil || c.ClientID != "c1" || c.Scopes()[1] != "b" || c.UserID() != "" {
			t.Fatalf("Verify = %+v, %v", c, err)
		}
	})
}

// After rotation new tokens use the new key; old tokens still verify during
// the overlap and the JWKS lists both keys.
func TestRotateOverlap(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	r := ring(t, st)
	old, _ := r.Sign(claims(time.Minute))
	oldKID := r.SigningKID()
	kid, err := r.Rotate(context.Background(), time.Hour, store.Actor{Principal: "t"})
	if err != nil || kid == oldKID || r.SigningKID() != kid {
		t.Fatalf("rotate: %v %s %s", err, kid, oldKID)
	}
	if _, err := NewVerifier(r, iss, 0).Verify(context.Background(), old); err != nil {
		t.Fatalf("old token during overlap: %v", err)
	}
	if keys := r.JWKS()["keys"]; len(keys) != 2 || keys[0].KeyID != kid || keys[0].Curve != "Ed25519" {
		t.Fatalf("JWKS = %+v", keys)
	}
}

// Every kind of bad token is refused with the matching error.
func TestVerifyRejects(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	r := ring(t, st)
	v := NewVerifier(r, iss, time.Second)
	ctx := context.Background()

	expired, _ := r.Sign(claims(-time.Minute))
	otherIss := claims(time.Minute)
	otherIss.Issuer = "https://evil.test"
	wrongIss, _ := r.Sign(otherIss)

	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims(time.Minute))
	none.Header["typ"] = Type
	none.Header["kid"] = r.SigningKID()
	noneRaw, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)

	// HMAC confusion: sign with the public key bytes as an HMAC secret.
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(time.Minute))
	hs.Header["typ"] = Type
	hs.Header["kid"] = r.SigningKID()
	hsRaw, _ := hs.SignedString([]byte(r.verify[r.SigningKID()]))

	_, foreign, _ := ed25519.GenerateKey(rand.Reader)
	fk := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims(time.Minute))
	fk.Header["typ"] = Type
	fk.Header["kid"] = "someone-else"
	foreignRaw, _ := fk.SignedString(foreign)
	fk.Header["kid"] = r.SigningKID()
	forgedRaw, _ := fk.SignedString(foreign)

	idTok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims(time.Minute))
	idTok.Header["kid"] = r.SigningKID()
	idRaw, _ := idTok.SignedString(r.signing)

	for name, tc := range map[string]struct {
		raw  string
		want error
	}{
		"expired":      {expired, ErrExpired},
		"wrong issuer": {wrongIss, ErrIssuer},
		"alg none":     {noneRaw, ErrAlgorithm},
		"hmac":         {hsRaw, ErrAlgorithm},
		"unknown key":  {foreignRaw, ErrUnknownKey},
		"forged":       {forgedRaw, ErrSignature},
		"no typ":       {idRaw, ErrType},
		"garbage":      {"not.a.jwt", ErrMalformed},
		"empty":        {"", ErrMalformed},
		"two segments": {"abc.def", ErrMalformed},
	} {
		if _, err := v.Verify(ctx, tc.raw); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
}

// The master key protects the private key: another key cannot load the ring.
func TestWrongMasterKeyFailsClearly(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	ring(t, st)
	other, _ := secret.NewSealer(bytes.Repeat([]byte{4}, secret.KeySize))
	if err := NewKeyRing(st, other).Load(context.Background()); err == nil {
		t.Fatal("ring loaded with the wrong master key")
	}
}
