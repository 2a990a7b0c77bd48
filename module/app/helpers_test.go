package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

var tester = store.Actor{Principal: "tester", TenantID: store.DefaultTenantID, RemoteAddr: "127.0.0.1"}

// noPolling keeps a node's watcher from running during a test (no poll, no
// change notification), so that only what the test does (its own writes,
// Poll, ForgetClient) changes its caches.
func noPolling(a *app.App) {
	a.PollInterval = caddy.Duration(time.Hour)
	app.PollOnly(a)
}

// newClient stores an enabled api_key client of the default tenant and
// returns it with its plaintext secret.
func newClient(t testing.TB, a *app.App, name string) (*store.Client, string) {
	t.Helper()
	id := app.NewClientID()
	plain, digest, ct, err := a.NewSecret(id)
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Client{
		ID: id, TenantID: store.DefaultTenantID, Name: name, AuthMethod: store.AuthAPIKey,
		AllowedScopes: store.Strings{"demo.read"}, DefaultScopes: store.Strings{"demo.read"},
		OwnerID: "tester", SecretDigest: digest, SecretCiphertext: ct,
	}
	if err := a.Store().CreateClient(context.Background(), c, tester); err != nil {
		t.Fatal(err)
	}
	return c, plain
}

// newUser stores an active user of the default tenant.
func newUser(t *testing.T, a *app.App, name string) *store.User {
	t.Helper()
	u := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: name}
	if err := a.Store().CreateUser(context.Background(), u, tester); err != nil {
		t.Fatal(err)
	}
	return u
}

// mint signs a token for clientID with a's current key, 2-legged when
// subject is "" and 3-legged (bound to user subject) otherwise.
func mint(t testing.TB, a *app.App, clientID, subject string, ttl time.Duration) (string, *token.Claims) {
	t.Helper()
	return mintIssued(t, a, clientID, subject, time.Now(), ttl)
}

// mintIssued is mint for a token issued at now.
func mintIssued(t testing.TB, a *app.App, clientID, subject string, now time.Time, ttl time.Duration) (string, *token.Claims) {
	t.Helper()
	return mintWith(t, a, clientID, subject, now, ttl, nil)
}

// mintWith is mintIssued with the claims changed by edit before signing.
func mintWith(t testing.TB, a *app.App, clientID, subject string, now time.Time, ttl time.Duration, edit func(*token.Claims)) (string, *token.Claims) {
	t.Helper()
	legs := 3
	if subject == "" {
		legs, subject = 2, clientID
	}
	c := &token.Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: a.Issuer, Subject: subject, Audience: jwt.ClaimStrings{a.Audience}, ID: store.NewID(),
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		},
		ClientID: clientID, Scope: "demo.read", Tenant: store.DefaultTenantID, Legs: legs,
	}
	// As the issuer does: the client's current token generation.
	if cl, err := a.Store().GetClient(context.Background(), clientID); err == nil {
		c.Generation = cl.TokenGeneration
	}
	if edit != nil {
		edit(c)
	}
	raw, err := a.Sign(c)
	if err != nil {
		t.Fatal(err)
	}
	return raw, c
}

// eventually calls check until it reports done or the deadline passes; check
// fails the test itself on an unexpected state.
func eventually(t *testing.T, within time.Duration, what string, check func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !check() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// verifyTwice verifies raw twice, whatever the first answer, and returns
// the second: a valid token is cached on its second verification
// (admission.go), so tests of what the cache keeps or drops start from a
// cached token, and a refused token has had the chance to be cached wrongly.
func verifyTwice(a *app.App, raw string) (*token.Claims, error) {
	a.Verify(context.Background(), raw)
	return a.Verify(context.Background(), raw)
}
