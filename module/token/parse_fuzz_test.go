package token

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// FuzzVerifierParse: whatever string comes in, Parse does not panic; a
// node holding the keys' private halves (fixed-header path, ownKey)
// accepts exactly the tokens a node verifying with the public keys accepts
// (decoding path, ed25519.Verify), with the same claims; and an accepted
// token is spelled the one way its bytes encode (no line break, padding or
// unused bits anywhere), so one token never has two cache entries. Seeds:
// tokens the ring signed, and every hostile token of TestVerifyRejects.
func FuzzVerifierParse(f *testing.F) {
	// One key in every fuzzing process (each runs this setup): the seeds,
	// signed by the coordinating process, must verify in the workers.
	st := storetest.Open(f, store.SQLite)
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	storeKey(f, st, key.Public().(ed25519.PublicKey), key)
	r := ringAt(f, st, time.Now)
	own := NewVerifier(r, iss, iss, time.Second)
	public := NewVerifier(publicOnly(r), iss, iss, time.Second)

	full := claims(time.Hour)
	full.NotBefore = jwt.NewNumericDate(time.Now().Add(-time.Minute))
	full.Audience = jwt.ClaimStrings{"https://a.test", iss}
	full.Tenant, full.Legs, full.Subject, full.ConnectAs, full.PlainUser = "t1", 3, "u1", true, true
	full.Act = &Actor{Subject: "c9", ClientID: "c9"}
	full.Ext = map[string]string{"application_id": "app-1"}
	for _, c := range []*Claims{claims(time.Hour), full} {
		raw, err := r.Sign(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	for _, tc := range badTokens(f, r) {
		f.Add(tc.raw)
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := own.Parse(ctx, raw)
		pc, perr := public.Parse(ctx, raw)
		if (err == nil) != (perr == nil) {
			t.Fatalf("own keys: err = %v; public keys: err = %v", err, perr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(c, pc) {
			t.Fatalf("own keys decoded\n%+v\npublic keys decoded\n%+v", c, pc)
		}
		for i, seg := range strings.Split(raw, ".") {
			b, err := base64.RawURLEncoding.DecodeString(seg)
			if err != nil || base64.RawURLEncoding.EncodeToString(b) != seg {
				t.Fatalf("accepted a token whose segment %d is not the one spelling of its bytes: %q", i, seg)
			}
		}
	})
}

// publicOnly returns a copy of r's keys without their private halves, as a
// node started after they stopped signing holds them: every token is
// verified with ed25519.Verify. It never reloads (a load would decrypt the
// private halves again).
func publicOnly(r *KeyRing) *KeyRing {
	st := *r.state.Load()
	st.verify = map[string]ringKey{}
	st.ownHeaders = map[string]string{}
	for kid, rk := range r.state.Load().verify {
		rk.priv, rk.own = nil, nil
		st.verify[kid] = rk
	}
	st.loaded = time.Now().Add(100 * 365 * 24 * time.Hour)
	p := &KeyRing{store: r.store, sealer: r.sealer, now: r.now}
	p.state.Store(&st)
	return p
}
