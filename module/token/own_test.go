package token

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// order is L, the order of the Ed25519 base point.
var order, _ = new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606001950938285454250989", 10)

// ownKeyFor returns a fresh key pair and its ownKey.
func ownKeyFor(t testing.TB) (ed25519.PrivateKey, *ownKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := newOwnKey(priv.Public().(ed25519.PublicKey), priv)
	if k == nil {
		t.Fatal("newOwnKey refused a key made by crypto/ed25519: its self-test failed")
	}
	return priv, k
}

// withS returns sig with its S half replaced by s (little-endian, 32 bytes).
func withS(sig []byte, s *big.Int) []byte {
	out := append([]byte(nil), sig...)
	be := s.FillBytes(make([]byte, 32))
	for i := range 32 {
		out[32+i] = be[31-i]
	}
	return out
}

// sOf returns sig's S half as a number.
func sOf(sig []byte) *big.Int {
	be := make([]byte, 32)
	for i := range 32 {
		be[i] = sig[63-i]
	}
	return new(big.Int).SetBytes(be)
}

// ownKey confirms exactly the signatures ed25519.Verify accepts for its key:
// the genuine one, and none of the tampered ones (every single bit of R and
// S flipped, S made non-reduced by adding L, the message changed, another
// message's signature, another key's signature, a short signature).
func TestOwnKeyAgreesWithVerify(t *testing.T) {
	priv, k := ownKeyFor(t)
	pub := priv.Public().(ed25519.PublicKey)
	_, stranger := ownKeyFor(t)
	for _, msg := range [][]byte{nil, []byte("x"), make([]byte, 700)} {
		sig := ed25519.Sign(priv, msg)
		if !k.confirms(msg, sig) {
			t.Fatalf("a genuine signature of a %d-byte message was not confirmed", len(msg))
		}
		if stranger.confirms(msg, sig) {
			t.Fatal("another key confirmed this key's signature")
		}
		for bit := range 8 * ed25519.SignatureSize {
			bad := append([]byte(nil), sig...)
			bad[bit/8] ^= 1 << (bit % 8)
			if k.confirms(msg, bad) || ed25519.Verify(pub, msg, bad) {
				t.Fatalf("signature with bit %d flipped: confirms=%v verify=%v", bit, k.confirms(msg, bad), ed25519.Verify(pub, msg, bad))
			}
		}
		unreduced := withS(sig, new(big.Int).Add(sOf(sig), order))
		if k.confirms(msg, unreduced) || ed25519.Verify(pub, msg, unreduced) {
			t.Fatal("S + L (the same scalar, not reduced) was accepted")
		}
		if k.confirms(append(msg, 0), sig) {
			t.Fatal("the signature confirmed a longer message")
		}
		if k.confirms(msg, ed25519.Sign(priv, []byte("other"))) {
			t.Fatal("another message's signature was confirmed")
		}
		if k.confirms(msg, sig[:63]) || k.confirms(msg, append(sig, 0)) {
			t.Fatal("a signature of the wrong length was confirmed")
		}
	}
}

// FuzzOwnKey: whatever message and signature bytes come in, ownKey never
// confirms what ed25519.Verify refuses, and confirms what it accepts (every
// accepted signature of a deterministic signer is the genuine one).
func FuzzOwnKey(f *testing.F) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	pub := priv.Public().(ed25519.PublicKey)
	k := newOwnKey(pub, priv)
	f.Add([]byte("hello"), ed25519.Sign(priv, []byte("hello")), uint16(0))
	f.Add([]byte("a.b"), make([]byte, 64), uint16(3))
	f.Fuzz(func(t *testing.T, msg, sig []byte, flip uint16) {
		if len(sig) == 0 {
			sig = ed25519.Sign(priv, msg) // start from a genuine one
		}
		if flip > 0 && len(sig) > 0 {
			sig = append([]byte(nil), sig...)
			sig[int(flip)%len(sig)] ^= byte(flip >> 8)
		}
		if got, want := k.confirms(msg, sig), ed25519.Verify(pub, msg, sig); got != want {
			t.Fatalf("confirms = %v, ed25519.Verify = %v", got, want)
		}
	})
}

// A token signed by this node's key is confirmed by ownKey, and a token
// signed by a key whose private half the node did not load (a key retired
// before the node started, still in its overlap) is verified with the
// public key: both pass Parse, on SQLite and PostgreSQL.
func TestOwnAndPublicKeysBothVerify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		st := storetest.Open(t, driver)
		r := ring(t, st)
		v := NewVerifier(r, iss, iss, time.Second)
		ctx := context.Background()
		raw, err := r.Sign(claims(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		k, err := r.key(ctx, r.SigningKID())
		if err != nil || k.own == nil {
			t.Fatalf("the signing key has no ownKey (err %v): its tokens would all pay a verification", err)
		}
		if _, err := v.Verify(ctx, raw); err != nil {
			t.Fatalf("own-key token: %v", err)
		}
		// The node's copy without the private half, as a node started after
		// the key retired holds it.
		st0 := r.state.Load()
		pubOnly := *st0
		pubOnly.verify = map[string]ringKey{}
		for kid, rk := range st0.verify {
			rk.priv, rk.own = nil, nil
			pubOnly.verify[kid] = rk
		}
		r.state.Store(&pubOnly)
		if _, err := v.Verify(ctx, raw); err != nil {
			t.Fatalf("public-key verification: %v", err)
		}
		forged := raw[:len(raw)-10] + "AAAAAAAAAA"
		if _, err := v.Verify(ctx, forged); err == nil {
			t.Fatal("public-key verification accepted a forged signature")
		}
	})
}

// BenchmarkParseOwnKey and BenchmarkParsePublicKey compare a first-seen
// token's Parse on a node holding the signing key's private half (ownKey)
// with one verifying it against the public key (ed25519.Verify).
func BenchmarkParseOwnKey(b *testing.B)    { benchmarkParse(b, true) }
func BenchmarkParsePublicKey(b *testing.B) { benchmarkParse(b, false) }

func benchmarkParse(b *testing.B, own bool) {
	st := storetest.Open(b, store.SQLite)
	r := ringAt(b, st, time.Now)
	if !own {
		st0 := r.state.Load()
		pubOnly := *st0
		pubOnly.verify = map[string]ringKey{}
		for kid, rk := range st0.verify {
			rk.own = nil
			pubOnly.verify[kid] = rk
		}
		r.state.Store(&pubOnly)
	}
	v := NewVerifier(r, iss, iss, time.Second)
	raw, _ := r.Sign(claims(time.Hour))
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Parse(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
}

// decodeOwnClaims decodes what Sign writes exactly as json.Unmarshal into
// Claims does: every field, the times to the second, a single audience and
// several, an actor and extra claims, and absent optional claims as nil.
func TestDecodeOwnClaimsMatchesUnmarshal(t *testing.T) {
	full := claims(time.Hour)
	full.NotBefore = jwt.NewNumericDate(time.Now().Add(-time.Minute))
	full.Audience = jwt.ClaimStrings{"https://a.test", "https://b.test"}
	full.Tenant, full.Legs, full.Subject, full.ConnectAs, full.PlainUser = "t1", 3, "u1", true, true
	full.Act = &Actor{Subject: "c9", ClientID: "c9"}
	full.Ext = map[string]string{"application_id": "app-1", "odd": "<&>\"\\ é 😀 \u2028 \x01 /"}
	bare := &Claims{ClientID: "c", RegisteredClaims: jwt.RegisteredClaims{ID: "j"}}
	for name, c := range map[string]*Claims{"typical": claims(time.Minute), "full": full, "bare": bare} {
		payload, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var want, got Claims
		if err := json.Unmarshal(payload, &want); err != nil {
			t.Fatal(err)
		}
		if err := decodeOwnClaims(payload, &got); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", name, got, want)
		}
	}
	for _, bad := range []string{`{"aud":5}`, `{"aud":["a",5]}`, `{"exp":"soon"}`, `not json`} {
		var c Claims
		if err := decodeOwnClaims([]byte(bad), &c); err == nil {
			t.Errorf("%s decoded without error", bad)
		}
	}
}

// A key row whose public half is not its private key's (a corrupted or
// tampered row; the JWKS publishes that public half, and a node that did
// not load the private half verifies with it) verifies none of the tokens
// the ring signs with it, on a node holding the private half too: ownKey
// must answer as ed25519.Verify with the published key does, so its
// self-test checks that key, not only the private half. On SQLite and
// PostgreSQL.
func TestOwnKeyAnswersForThePublishedKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st := storetest.Open(t, driver)
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		published, _, _ := ed25519.GenerateKey(rand.Reader)
		kid := storeKey(t, st, published, priv)
		r := ring(t, st)
		if r.SigningKID() != kid {
			t.Fatalf("control: the ring signs with %s, not the mismatched key %s", r.SigningKID(), kid)
		}
		raw, err := r.Sign(claims(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		head, payload, sig := splitRaw(t, raw)
		sigBytes, _ := base64.RawURLEncoding.DecodeString(sig)
		if ed25519.Verify(published, []byte(head+"."+payload), sigBytes) {
			t.Fatal("control: the published key verifies a signature of another private key")
		}
		if _, err := NewVerifier(r, iss, iss, time.Second).Verify(ctx, raw); !errors.Is(err, ErrSignature) {
			t.Fatalf("token of a key whose published half is another's: err = %v, want ErrSignature", err)
		}
	})
}

// BenchmarkParseStrangerClaims is a stranger's token of about 15 KB (what
// fits Caddy's header limit) with an aud nested 5,000 deep, under the
// signing key's kid with a forged signature: refused for its signature
// before its claims are decoded, so it costs about what a good token's
// verification does (BenchmarkParsePublicKey), not the claims' JSON.
func BenchmarkParseStrangerClaims(b *testing.B) {
	st := storetest.Open(b, store.SQLite)
	r := ringAt(b, st, time.Now)
	v := NewVerifier(r, iss, iss, time.Second)
	_, foreign, _ := ed25519.GenerateKey(rand.Reader)
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"at+jwt","alg":"EdDSA","kid":"` + r.SigningKID() + `"}`))
	input := head + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":`+strings.Repeat("[", 5000)+strings.Repeat("]", 5000)+`}`))
	raw := input + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(foreign, []byte(input)))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Parse(ctx, raw); !errors.Is(err, ErrSignature) {
			b.Fatalf("err = %v, want ErrSignature", err)
		}
	}
}
