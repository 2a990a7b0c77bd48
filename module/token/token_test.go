package token

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"gorm.io/gorm"

	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

const iss = "https://issuer.test"

func ring(t *testing.T, st *store.Store) *KeyRing { return ringAt(t, st, time.Now) }

// ringAt is ring with its clock set to now before the first Load.
func ringAt(t testing.TB, st *store.Store, now func() time.Time) *KeyRing {
	t.Helper()
	sealer, _ := secret.NewSealer(bytes.Repeat([]byte{3}, secret.KeySize))
	r := NewKeyRing(st, sealer)
	r.now = now
	if err := r.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return r
}

// storeKey stores the first signing key of st, active now, with public
// half pub and private half priv sealed as ringAt's sealer does (a row
// whose halves differ when pub is not priv's), and returns its kid.
func storeKey(t testing.TB, st *store.Store, pub ed25519.PublicKey, priv ed25519.PrivateKey) string {
	t.Helper()
	kid := Thumbprint(pub)
	sealer, _ := secret.NewSealer(bytes.Repeat([]byte{3}, secret.KeySize))
	sealed, err := sealer.Seal(priv.Seed(), []byte(kid))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	row := &store.SigningKey{KID: kid, Algorithm: Algorithm, PublicKey: pub, PrivateCiphertext: sealed, CreatedAt: now, ActivatesAt: &now}
	if ok, err := st.AddFirstSigningKey(context.Background(), row); !ok || err != nil {
		t.Fatalf("storing key %s: stored %v, %v", kid, ok, err)
	}
	return kid
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
		c, err := NewVerifier(r2, iss, iss, time.Second).Verify(context.Background(), raw)
		if err != nil || c.ClientID != "c1" || c.Scopes()[1] != "b" || c.UserID() != "" {
			t.Fatalf("Verify = %+v, %v", c, err)
		}
	})
}

// After an emergency rotation new tokens use the new key at once; old
// tokens still verify during the overlap, on this node and on another that shares the database, and
// the JWKS lists both keys, the signing one first. Once the overlap ends
// (the rings' clock moved past it; no reload, no clean-up, the old key's
// row still in the database) both nodes refuse the old key's tokens as
// signed by an unknown key, exactly as a node started afterwards does, and
// publish only the new key; tokens of the new key still verify.
func TestRotateOverlap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st := storetest.Open(t, driver)
		var ahead atomic.Int64 // how far the rings' clock runs ahead of real time
		clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
		r, other := ringAt(t, st, clock), ringAt(t, st, clock)
		old, _ := r.Sign(claims(3 * time.Hour)) // exp is checked in real time: it stays valid
		oldKID := r.SigningKID()
		next, err := r.Rotate(ctx, Rotation{Prepublish: time.Hour, Overlap: time.Hour, Emergency: true}, store.Actor{Principal: "t"})
		kid := next.KID
		if err != nil || kid == oldKID || r.SigningKID() != kid || next.State != KeySigning {
			t.Fatalf("rotate: %v %s %s", err, kid, oldKID)
		}
		if err := other.Load(ctx); err != nil { // as the change feed makes it do
			t.Fatal(err)
		}
		fresh, _ := r.Sign(claims(3 * time.Hour))
		nodes := map[string]*KeyRing{"rotating node": r, "other node": other}
		for name, n := range nodes {
			if _, err := NewVerifier(n, iss, iss, 0).Verify(ctx, old); err != nil {
				t.Fatalf("%s: old token during the overlap: %v", name, err)
			}
			if keys := n.JWKS()["keys"]; len(keys) != 2 || keys[0].KeyID != kid || keys[1].KeyID != oldKID || keys[0].Curve != "Ed25519" {
				t.Fatalf("%s: JWKS during the overlap = %+v", name, keys)
			}
		}

		ahead.Store(int64(time.Hour + time.Second))
		nodes["node started after the overlap"] = ringAt(t, st, clock)
		for name, n := range nodes {
			if _, err := NewVerifier(n, iss, iss, 0).Verify(ctx, old); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("%s: old token after the overlap: err = %v, want ErrUnknownKey", name, err)
			}
			if n.Verifies(oldKID, clock()) || !n.Verifies(kid, clock()) {
				t.Errorf("%s: Verifies(old) = %v, Verifies(new) = %v after the overlap", name, n.Verifies(oldKID, clock()), n.Verifies(kid, clock()))
			}
			if keys := n.JWKS()["keys"]; len(keys) != 1 || keys[0].KeyID != kid {
				t.Errorf("%s: JWKS after the overlap = %+v, want the new key alone", name, keys)
			}
			if _, err := NewVerifier(n, iss, iss, 0).Verify(ctx, fresh); err != nil {
				t.Errorf("%s: new key's token after the overlap: %v", name, err)
			}
		}
		if keys, _ := st.ListSigningKeys(ctx, time.Now()); len(keys) != 2 {
			t.Fatalf("control: %d key rows in real time, want both (nothing cleaned up)", len(keys))
		}
	})
}

// Every kind of bad token is refused with the matching error (a token for
// another audience among them, RFC 9068 §4); a token whose aud lists this
// audience among others passes.
func TestVerifyRejects(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	r := ring(t, st)
	v := NewVerifier(r, iss, iss, time.Second)
	ctx := context.Background()

	several := claims(time.Minute)
	several.Audience = jwt.ClaimStrings{"https://other-api.test", iss}
	severalRaw, _ := r.Sign(several)
	if _, err := v.Verify(ctx, severalRaw); err != nil {
		t.Errorf("aud listing this audience among others: %v", err)
	}

	for name, tc := range badTokens(t, r) {
		if _, err := v.Verify(ctx, tc.raw); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", name, err, tc.want)
		}
	}
}

// badToken is a token Verify must refuse, and the error it must give.
type badToken struct {
	raw  string
	want error
}

// badTokens returns, by name, tokens that Verify refuses with r's keys:
// well-signed ones whose claims are wrong, forged and confused ones, and
// genuine tokens of r's signing key tampered with (ownKey confirms those
// instead of ed25519.Verify, and must refuse each). FuzzVerifierParse
// starts from them too.
func badTokens(t testing.TB, r *KeyRing) map[string]badToken {
	t.Helper()
	expired, _ := r.Sign(claims(-time.Minute))
	otherIss := claims(time.Minute)
	otherIss.Issuer = "https://evil.test"
	wrongIss, _ := r.Sign(otherIss)
	otherAud := claims(time.Minute)
	otherAud.Audience = jwt.ClaimStrings{"https://other-api.test"}
	wrongAud, _ := r.Sign(otherAud)
	noAud := claims(time.Minute)
	noAud.Audience = nil
	noAudRaw, _ := r.Sign(noAud)

	none := jwt.NewWithClaims(jwt.SigningMethodNone, claims(time.Minute))
	none.Header["typ"] = Type
	none.Header["kid"] = r.SigningKID()
	noneRaw, _ := none.SignedString(jwt.UnsafeAllowNoneSignatureType)

	// HMAC confusion: sign with the public key bytes as an HMAC secret.
	hs := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(time.Minute))
	hs.Header["typ"] = Type
	hs.Header["kid"] = r.SigningKID()
	hsRaw, _ := hs.SignedString([]byte(r.state.Load().verify[r.SigningKID()].pub))

	_, foreign, _ := ed25519.GenerateKey(rand.Reader)
	fk := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims(time.Minute))
	fk.Header["typ"] = Type
	fk.Header["kid"] = "someone-else"
	foreignRaw, _ := fk.SignedString(foreign)
	fk.Header["kid"] = r.SigningKID()
	forgedRaw, _ := fk.SignedString(foreign)

	idTok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims(time.Minute))
	idTok.Header["kid"] = r.SigningKID()
	_, signing := r.state.Load().signer(time.Now())
	idRaw, _ := idTok.SignedString(signing)

	// A genuine token of the signing key whose header is not the key's fixed
	// segment (fields in another order): it takes the decoding path.
	respelledPayload, _ := json.Marshal(claims(time.Minute))
	respelledInput := base64.RawURLEncoding.EncodeToString([]byte(`{"typ":"at+jwt","alg":"EdDSA","kid":"`+r.SigningKID()+`"}`)) +
		"." + base64.RawURLEncoding.EncodeToString(respelledPayload)
	respelledRaw := respelledInput + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(signing, []byte(respelledInput)))
	if _, err := NewVerifier(r, iss, iss, time.Second).Verify(context.Background(), respelledRaw); err != nil {
		t.Fatalf("control: the re-spelled header's token is refused untampered: %v", err)
	}

	// The decoding path checks the signature before it decodes the claims
	// (a stranger's claims cost JSON work): claims that are no JSON are
	// ErrMalformed under a good signature, ErrSignature under a forged one.
	respelledHead, _, _ := strings.Cut(respelledRaw, ".")
	notJSON := respelledHead + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"aud":[[[[`))
	notJSONSigned := notJSON + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(signing, []byte(notJSON)))
	notJSONForged := notJSON + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(foreign, []byte(notJSON)))
	hugeHead := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA","typ":"at+jwt","kid":"` + r.SigningKID() + `","x":"` + strings.Repeat("y", 800) + `"}`))
	hugeHeadRaw := hugeHead + "." + base64.RawURLEncoding.EncodeToString(respelledPayload)
	hugeHeadRaw += "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(signing, []byte(hugeHeadRaw)))

	good, _ := r.Sign(claims(time.Minute))
	other, _ := r.Sign(otherIss)
	head, payload, sig := splitRaw(t, good)
	_, otherPayload, otherSig := splitRaw(t, other)
	flip := func(seg string, i int) string {
		b := []byte(seg)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	// The last character of a 64-byte signature carries 2 bits and 4 unused
	// ones; setting an unused bit keeps the decoded bytes under lenient
	// base64 decoding, so only strict decoding refuses it.
	lastBits := []byte(sig)
	lastBits[len(lastBits)-1] = b64Alphabet[strings.IndexByte(b64Alphabet, lastBits[len(lastBits)-1])^1]
	// Go's base64 decoders, strict ones included, skip CR and LF: a line
	// break inside the signature segment decodes to the same signature, a
	// second spelling of the same token.
	broken := func(raw, brk string) string {
		i := strings.LastIndexByte(raw, '.') + 40
		return raw[:i] + brk + raw[i:]
	}

	return map[string]badToken{
		"sig byte in R":               {head + "." + payload + "." + flip(sig, 5), ErrSignature},
		"sig byte in S":               {head + "." + payload + "." + flip(sig, 60), ErrSignature},
		"sig unused bits":             {head + "." + payload + "." + string(lastBits), ErrMalformed},
		"sig truncated":               {head + "." + payload + "." + sig[:len(sig)-4], ErrMalformed},
		"sig of another":              {head + "." + payload + "." + otherSig, ErrSignature},
		"sig with LF":                 {broken(good, "\n"), ErrMalformed},
		"sig with CR":                 {broken(good, "\r"), ErrMalformed},
		"sig with CRLF":               {broken(good, "\r\n"), ErrMalformed},
		"sig with LF, decoded header": {broken(respelledRaw, "\n"), ErrMalformed},
		"sig with CR, decoded header": {broken(respelledRaw, "\r"), ErrMalformed},
		"payload of another":          {head + "." + otherPayload + "." + sig, ErrSignature},
		"payload re-encoded":          {head + "." + reencode(t, payload) + "." + sig, ErrSignature},
		"header re-encoded":           {reencode(t, head) + "." + payload + "." + sig, ErrSignature},
		"expired":                     {expired, ErrExpired},
		"wrong issuer":                {wrongIss, ErrIssuer},
		"other aud":                   {wrongAud, ErrAudience},
		"no aud":                      {noAudRaw, ErrMalformed},
		"alg none":                    {noneRaw, ErrAlgorithm},
		"hmac":                        {hsRaw, ErrAlgorithm},
		"unknown key":                 {foreignRaw, ErrUnknownKey},
		"forged":                      {forgedRaw, ErrSignature},
		"no typ":                      {idRaw, ErrType},
		"garbage":                     {"not.a.jwt", ErrMalformed},
		"empty":                       {"", ErrMalformed},
		"two segments":                {"abc.def", ErrMalformed},
		"claims not JSON, signed":     {notJSONSigned, ErrMalformed},
		"claims not JSON, forged":     {notJSONForged, ErrSignature},
		"header over 1 KiB":           {hugeHeadRaw, ErrMalformed},
		"four segments":               {good + ".x", ErrMalformed},
	}
}

const b64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// splitRaw returns a compact JWS's three segments.
func splitRaw(t testing.TB, raw string) (string, string, string) {
	t.Helper()
	p := strings.Split(raw, ".")
	if len(p) != 3 {
		t.Fatalf("%d segments", len(p))
	}
	return p[0], p[1], p[2]
}

// reencode returns the same JSON segment with one more field: what it says
// is unchanged, its bytes (the signed ones) are not.
func reencode(t testing.TB, seg string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	h["x"] = 1
	b, _ = json.Marshal(h)
	return base64.RawURLEncoding.EncodeToString(b)
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

// A token naming a kid the ring does not hold reloads the ring at most once
// a second, however many such tokens arrive at once: a burst of them (made-up
// kids cost an attacker nothing) waits for one query instead of each querying
// the database in turn. The miss is still ErrUnknownKey for every one.
func TestUnknownKidBurstReloadsOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st := storetest.Open(t, driver)
		r := ring(t, st)
		var loads atomic.Int32
		err := st.DB.Callback().Query().After("gorm:query").Register("count_key_loads", func(db *gorm.DB) {
			if db.Statement.Table == "signing_keys" {
				loads.Add(1)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		_, foreign, _ := ed25519.GenerateKey(rand.Reader)
		fk := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims(time.Minute))
		fk.Header["typ"] = Type
		fk.Header["kid"] = "made-up"
		raw, _ := fk.SignedString(foreign)
		// The last load is more than a second old: the next miss may reload.
		stale := *r.state.Load()
		stale.loaded = time.Now().Add(-2 * time.Second)
		r.state.Store(&stale)

		v := NewVerifier(r, iss, iss, 0)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				<-start
				if _, err := v.Verify(ctx, raw); !errors.Is(err, ErrUnknownKey) {
					t.Errorf("made-up kid: err = %v, want ErrUnknownKey", err)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := loads.Load(); n != 1 {
			t.Fatalf("32 concurrent misses loaded the ring %d times, want once", n)
		}
	})
}
