package token

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Check is what a cached token goes through on every request: on claims
// Parse returned it decides as Verify does as time passes (expiry with the
// leeway, a key whose overlap ended, nbf and iat ahead, an issuer or
// audience a reload changed), and it allocates nothing.
func TestCheckOnEveryRequest(t *testing.T) {
	st := storetest.Open(t, store.SQLite)
	clock := time.Now()
	r := ringAt(t, st, func() time.Time { return clock })
	v := NewVerifier(r, iss, iss, time.Second)
	ctx := context.Background()
	parsed := func(edit func(*Claims)) *Claims {
		t.Helper()
		c := claims(time.Minute)
		if edit != nil {
			edit(c)
		}
		raw, err := r.Sign(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := v.Parse(ctx, raw)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		return got
	}
	c := parsed(nil)
	now := time.Now()
	if err := v.Check(c, now); err != nil {
		t.Fatalf("a fresh token: %v", err)
	}
	if n := testing.AllocsPerRun(100, func() { _ = v.Check(c, now) }); n != 0 {
		t.Errorf("Check allocates %v times per call", n)
	}
	ahead := func(c *Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Minute)) }
	issuedAhead := func(c *Claims) { c.IssuedAt = jwt.NewNumericDate(now.Add(time.Minute)) }
	noExp := func(c *Claims) { c.ExpiresAt = nil }
	for name, tc := range map[string]struct {
		claims *Claims
		v      *Verifier
		at     time.Time
		want   error
	}{
		"within the leeway":  {c, v, c.ExpiresAt.Add(time.Second / 2), nil},
		"past the leeway":    {c, v, c.ExpiresAt.Add(time.Second), ErrExpired},
		"nbf ahead":          {parsed(ahead), v, now, ErrNotYet},
		"iat ahead":          {parsed(issuedAhead), v, now, ErrNotYet},
		"no exp":             {parsed(noExp), v, now, ErrMalformed},
		"issuer changed":     {c, NewVerifier(r, "https://other.test", iss, time.Second), now, ErrIssuer},
		"audience changed":   {c, NewVerifier(r, iss, "urn:other", time.Second), now, ErrAudience},
		"another ring's key": {c, NewVerifier(ring(t, storetest.Open(t, store.SQLite)), iss, iss, time.Second), now, ErrUnknownKey},
	} {
		if err := tc.v.Check(tc.claims, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	// A retired key's overlap ends on the ring's clock: the claims Parse
	// accepted pass until then and are refused from then on.
	if _, err := r.Rotate(ctx, Rotation{Overlap: time.Hour, Emergency: true}, rotator); err != nil {
		t.Fatal(err)
	}
	if err := v.Check(c, now); err != nil {
		t.Errorf("within the overlap: %v", err)
	}
	clock = clock.Add(2 * time.Hour)
	if err := v.Check(c, now); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("past the overlap: %v, want ErrUnknownKey", err)
	}
}
