package app_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/power"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/token"
)

// A signed token verifies with its claims intact and is cached on its
// second verification, not its first; later calls are served from the
// cache: they return the very claims value the second call cached, and
// the signature and parse are skipped (claims cached under bytes that do
// not parse still verify; those bytes uncached are refused and not cached).
func TestVerifyCaches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		c, _ := newClient(t, a, "cached")
		raw, minted := mint(t, a, c.ID, "", time.Hour)

		if _, err := a.Verify(ctx, raw); err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if a.TokenCached(raw) {
			t.Fatal("a token verified once is cached (admission waits for its second verification)")
		}
		first, err := a.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("Verify: %v", err)
		}
		if first.ClientID != c.ID || first.ID != minted.ID || first.Scope != "demo.read" || first.Legs != 2 ||
			first.Issuer != apptest.Issuer || first.Tenant != store.DefaultTenantID || app.Principal(first) != c.ID {
			t.Fatalf("claims = %+v", first)
		}
		if !a.TokenCached(raw) {
			t.Fatal("a verified token is not cached")
		}

		const unparsable = "not-a-token-but-cached"
		if _, err := a.Verify(ctx, unparsable); !errors.Is(err, token.ErrMalformed) {
			t.Fatalf("control: bytes that do not parse passed (%v)", err)
		}
		if a.TokenCached(unparsable) {
			t.Fatal("a refused token was cached")
		}
		a.CacheToken(unparsable, first)
		if got, err := a.Verify(ctx, unparsable); err != nil || got != first {
			t.Fatalf("a cache hit was parsed again: %v", err)
		}
		second, err := a.Verify(ctx, raw)
		if err != nil {
			t.Fatalf("cached token re-checked by the verifier: %v", err)
		}
		if second != first {
			t.Fatal("the second Verify did not return the cached claims")
		}
	})
}

// A client row changed behind the store's back (no feed entry) takes effect
// once the runtime forgets it (until then the cached row is used);
// restoring it through the store lets its tokens in again at once;
// deleting it gives ErrClientGone, as does a token naming a client that
// never existed.
func TestVerifyClientStates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		c, _ := newClient(t, a, "stateful")
		raw, _ := mint(t, a, c.ID, "", time.Hour)
		if _, err := verifyTwice(a, raw); err != nil {
			t.Fatal(err)
		}

		if err := a.Store().DB.Model(&store.Client{}).Where("id = ?", c.ID).Update("disabled", true).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, raw); err != nil {
			t.Fatalf("the client row is not cached: Verify = %v before ForgetClient", err)
		}
		a.Runtime().ForgetClient(c.ID)
		if a.TokenCached(raw) {
			t.Fatal("ForgetClient kept the client's token in the cache")
		}
		if _, err := a.Verify(ctx, raw); !errors.Is(err, app.ErrClientDisabled) || !app.IsTokenError(err) {
			t.Fatalf("disabled client: err = %v, want ErrClientDisabled", err)
		}

		if err := a.Store().SetClientDisabled(ctx, c.ID, false, tester); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, raw); err != nil {
			t.Fatalf("restored client: %v", err)
		}

		if err := a.Store().DeleteClient(ctx, c.ID, tester); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, raw); !errors.Is(err, app.ErrClientGone) {
			t.Fatalf("deleted client: err = %v, want ErrClientGone", err)
		}

		ghost, _ := mint(t, a, "sg_never_existed", "", time.Hour)
		for i := range 2 { // the second time from the negative cache
			if _, err := a.Verify(ctx, ghost); !errors.Is(err, app.ErrClientGone) {
				t.Fatalf("unknown client (call %d): err = %v, want ErrClientGone", i+1, err)
			}
		}
	})
}

// A revoked token is refused with ErrRevoked once the runtime marks it; the
// client's other tokens still verify; a node that starts later loads the
// revocation from the database.
func TestVerifyRevoked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		c, _ := newClient(t, a, "revoking")
		raw, claims := mint(t, a, c.ID, "", time.Hour)
		keep, _ := mint(t, a, c.ID, "", time.Hour)
		for _, r := range []string{raw, keep} {
			if _, err := a.Verify(ctx, r); err != nil {
				t.Fatal(err)
			}
		}

		if err := a.Store().Revoke(ctx, claims.ID, c.ID, claims.ExpiresAt.Time); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, raw); !errors.Is(err, app.ErrRevoked) || !app.IsTokenError(err) {
			t.Fatalf("revoked token: err = %v, want ErrRevoked", err)
		}
		if _, err := a.Verify(ctx, keep); err != nil {
			t.Fatalf("another token of the client: %v", err)
		}

		late := openOn(t, driver, a.Database.DSN, noPolling)
		if _, err := late.Verify(ctx, raw); !errors.Is(err, app.ErrRevoked) {
			t.Fatalf("node started after the revocation: err = %v, want ErrRevoked", err)
		}
	})
}

// A token is accepted until its exp plus the leeway, so its revocation
// lasts that long too: past exp but within the leeway, a revoked token stays
// refused on the revoking node after the periodic clean-up, on another node
// that learns of it from the change feed, and on a node started afterwards.
// (Revocations used to be dropped at exp, and the token worked again.)
func TestRevocationOutlivesExpiryByLeeway(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		leeway := func(a *app.App) { a.Leeway = caddy.Duration(time.Hour) }
		a := apptest.Open(t, driver, noPolling, leeway)
		b := openOn(t, driver, a.Database.DSN, noPolling, leeway)
		c, _ := newClient(t, a, "revoked-late")
		raw, claims := mint(t, a, c.ID, "", -time.Minute) // expired a minute ago, within the leeway
		for name, n := range map[string]*app.App{"A": a, "B": b} {
			if _, err := n.Verify(ctx, raw); err != nil {
				t.Fatalf("control: node %s refuses a token within the leeway: %v", name, err)
			}
		}

		if err := a.Revoke(ctx, claims); err != nil {
			t.Fatal(err)
		}
		if err := b.Runtime().Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if err := a.Runtime().CleanupNow(ctx); err != nil {
			t.Fatal(err)
		}
		late := openOn(t, driver, a.Database.DSN, noPolling, leeway)
		for name, n := range map[string]*app.App{"A after clean-up": a, "B after the feed": b, "a later node": late} {
			if _, err := n.Verify(ctx, raw); !errors.Is(err, app.ErrRevoked) {
				t.Errorf("%s: Verify = %v, want ErrRevoked", name, err)
			}
		}
		if kept, err := a.Store().IsRevoked(ctx, claims.ID); err != nil || !kept {
			t.Errorf("the revocation row is gone after clean-up (%v)", err)
		}
	})
}

// A revocation is kept at least app.RevocationLeewayFloor past its token's
// exp, whatever the leeway when it was made: a node restarted (or
// reloaded) with a larger leeway takes the token for that much longer, and
// a revocation kept only for the old leeway was purged while the token
// verified again there (seen through the built binary: revoked at leeway
// 1s, 200 after a restart at 5m).
func TestRevocationOutlivesALeewayRaised(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling, func(a *app.App) { a.Leeway = caddy.Duration(time.Second) })
		c, _ := newClient(t, a, "revoked-then-leeway-raised")
		raw, claims := mint(t, a, c.ID, "", -time.Minute) // past exp plus the leeway of 1s
		if err := a.Revoke(ctx, claims); err != nil {
			t.Fatal(err)
		}
		if err := a.Runtime().CleanupNow(ctx); err != nil {
			t.Fatal(err)
		}
		raised := openOn(t, driver, a.Database.DSN, noPolling, func(a *app.App) { a.Leeway = caddy.Duration(4 * time.Minute) })
		if _, err := raised.Verify(ctx, raw); !errors.Is(err, app.ErrRevoked) {
			t.Fatalf("a node with a leeway of 4 min: Verify = %v, want ErrRevoked", err)
		}
	})
}

// A token that expires while cached is refused with token.ErrExpired by the
// cache itself, which then drops it.
func TestVerifyExpiredWhileCached(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling, func(a *app.App) { a.Leeway = caddy.Duration(time.Millisecond) })
		c, _ := newClient(t, a, "short-lived")
		// exp has one-second precision: 2s from now is at least 1s away.
		raw, claims := mint(t, a, c.ID, "", 2*time.Second)
		if _, err := verifyTwice(a, raw); err != nil {
			t.Fatalf("fresh token: %v", err)
		}
		if !a.TokenCached(raw) {
			t.Fatal("not cached")
		}
		for time.Now().Before(claims.ExpiresAt.Add(5 * time.Millisecond)) {
			time.Sleep(10 * time.Millisecond)
		}
		if !a.TokenCached(raw) {
			t.Fatal("dropped from the cache before Verify saw it")
		}
		if _, err := a.Verify(ctx, raw); !errors.Is(err, token.ErrExpired) || !app.IsTokenError(err) {
			t.Fatalf("expired cached token: err = %v, want token.ErrExpired", err)
		}
		if a.TokenCached(raw) {
			t.Fatal("the expired token stayed in the cache")
		}
		if _, err := a.Verify(ctx, raw); !errors.Is(err, token.ErrExpired) {
			t.Fatalf("expired token, uncached: err = %v", err)
		}
	})
}

// A 3-legged token verifies while its user is active and is refused with
// ErrUserDisabled once the user is disabled (and forgotten) or if the user
// does not exist; Principal names the user.
func TestVerifyThreeLegged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		c, _ := newClient(t, a, "for-users")
		u := newUser(t, a, "alice")
		raw, _ := mint(t, a, c.ID, u.ID, time.Hour)
		got, err := verifyTwice(a, raw)
		if err != nil {
			t.Fatal(err)
		}
		if got.Legs != 3 || got.UserID() != u.ID || app.Principal(got) != u.ID {
			t.Fatalf("claims = %+v", got)
		}

		u.Disabled = true
		if err := a.Store().UpdateUser(ctx, u, tester, "user.disable"); err != nil {
			t.Fatal(err)
		}
		if a.TokenCached(raw) {
			t.Fatal("ForgetUser kept the user's token cached")
		}
		if _, err := a.Verify(ctx, raw); !errors.Is(err, app.ErrUserDisabled) || !app.IsTokenError(err) {
			t.Fatalf("disabled user: err = %v, want ErrUserDisabled", err)
		}

		nobody, _ := mint(t, a, c.ID, store.NewID(), time.Hour)
		if _, err := a.Verify(ctx, nobody); !errors.Is(err, app.ErrUserDisabled) {
			t.Fatalf("unknown user: err = %v, want ErrUserDisabled", err)
		}
	})
}

// A token carries its client's tenant upstream: once a super admin moves
// the client to another tenant, its earlier tokens are refused with
// ErrClientMoved (401 invalid_token) instead of speaking for the old
// tenant, and a token minted for the new tenant verifies. Moving the client
// back does not bring the earlier tokens back (ErrRevoked: the move ended
// them), and a token of its second stay is ended by the second move too.
func TestVerifyClientMovedToAnotherTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		if err := a.Store().CreateTenant(ctx, &store.Tenant{ID: "acme", Name: "Acme"}, tester); err != nil {
			t.Fatal(err)
		}
		c, _ := newClient(t, a, "mover")
		raw, _ := mint(t, a, c.ID, "", time.Hour)
		if _, err := verifyTwice(a, raw); err != nil {
			t.Fatal(err)
		}

		c.TenantID = "acme"
		if err := a.Store().UpdateClientSettings(ctx, c, store.DefaultTenantID, tester); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, raw); !errors.Is(err, app.ErrClientMoved) || !app.IsTokenError(err) {
			t.Fatalf("token of the old tenant: err = %v, want ErrClientMoved", err)
		}
		_, claims := mint(t, a, c.ID, "", time.Hour)
		claims.Tenant, claims.ID = "acme", store.NewID()
		moved, err := a.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, moved); err != nil {
			t.Fatalf("token of the new tenant: %v", err)
		}

		c.TenantID = store.DefaultTenantID
		if err := a.Store().UpdateClientSettings(ctx, c, "acme", tester); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, raw); !errors.Is(err, app.ErrRevoked) || !app.IsTokenError(err) {
			t.Fatalf("token of the first stay, client moved back: err = %v, want ErrRevoked", err)
		}
		if _, err := a.Verify(ctx, moved); !errors.Is(err, app.ErrClientMoved) {
			t.Fatalf("token of the second stay, client moved back: err = %v, want ErrClientMoved", err)
		}
		back, _ := mint(t, a, c.ID, "", time.Hour)
		if _, err := a.Verify(ctx, back); err != nil {
			t.Fatalf("token minted after the move back: %v", err)
		}
		// An edit that moves nothing and changes no connect-as user ends
		// nothing.
		c.Name = "renamed"
		if err := a.Store().UpdateClientSettings(ctx, c, store.DefaultTenantID, tester); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, back); err != nil {
			t.Fatalf("token after a rename: %v", err)
		}
	})
}

// A client that connects as a user gets only tokens for that user: once an
// admin gives a client such a user, its earlier 2-legged tokens (which
// speak for the bare client) are refused with ErrConnectAs, and tokens for
// the user verify; taking the user away again lets new 2-legged tokens in.
// Every change of the connect-as user ends the tokens minted before it for
// good: giving the former user back, or taking the user away, revives none
// of them (ErrRevoked).
func TestVerifyConnectAsAssigned(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		alice := newUser(t, a, "alice")
		c, _ := newClient(t, a, "connected")
		set := func(t *testing.T, user *string) {
			t.Helper()
			c.ConnectAsUserID = user
			if err := a.Store().UpdateClientSettings(ctx, c, store.DefaultTenantID, tester); err != nil {
				t.Fatal(err)
			}
		}
		want := func(t *testing.T, raw string, wantErr error) {
			t.Helper()
			if _, err := a.Verify(ctx, raw); !errors.Is(err, wantErr) || (wantErr != nil && !app.IsTokenError(err)) {
				t.Fatalf("Verify = %v, want %v", err, wantErr)
			}
		}
		asClient, _ := mint(t, a, c.ID, "", time.Hour)
		want(t, asClient, nil)
		set(t, &alice.ID)
		want(t, asClient, app.ErrConnectAs)
		asAlice, _ := mint(t, a, c.ID, alice.ID, time.Hour)
		want(t, asAlice, nil)
		// A token minted for the connect-as user (marked cas) ends when the
		// client connects as someone else, or as nobody.
		_, claims := mint(t, a, c.ID, alice.ID, time.Hour)
		claims.ConnectAs = true
		connected, err := a.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		want(t, connected, nil)
		bob := newUser(t, a, "bob")
		set(t, &bob.ID)
		want(t, connected, app.ErrConnectAs)
		want(t, asAlice, app.ErrRevoked) // the change ended every earlier token
		set(t, &alice.ID)
		want(t, connected, app.ErrRevoked) // alice again: her old token stays ended
		_, claims = mint(t, a, c.ID, alice.ID, time.Hour)
		claims.ConnectAs = true
		again, err := a.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		want(t, again, nil)
		set(t, nil)
		want(t, asClient, app.ErrRevoked) // from before alice: stays ended
		want(t, again, app.ErrConnectAs)
		fresh, _ := mint(t, a, c.ID, "", time.Hour)
		want(t, fresh, nil)
	})
}

// Tokens that fail verification are refused with the token error and never
// cached: garbage, another gateway's key, another issuer.
func TestVerifyRejects(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		a := apptest.Open(t, driver, noPolling)
		c, _ := newClient(t, a, "victim")
		stranger := apptest.Open(t, store.SQLite) // another database, another key
		foreign, _ := mint(t, stranger, c.ID, "", time.Hour)
		_, claims := mint(t, a, c.ID, "", time.Hour)
		claims.Issuer = "https://elsewhere.test"
		otherIss, err := a.Sign(claims) // our key, someone else's issuer
		if err != nil {
			t.Fatal(err)
		}

		for name, tc := range map[string]struct {
			raw  string
			want error
		}{
			"garbage":         {"not-a-token", token.ErrMalformed},
			"empty":           {"", token.ErrMalformed},
			"foreign key":     {foreign, token.ErrUnknownKey},
			"another issuer":  {otherIss, token.ErrIssuer},
			"expired on mint": {func() string { r, _ := mint(t, a, c.ID, "", -time.Hour); return r }(), token.ErrExpired},
		} {
			_, err := verifyTwice(a, tc.raw)
			if !errors.Is(err, tc.want) || !app.IsTokenError(err) {
				t.Errorf("%s: err = %v, want %v", name, err, tc.want)
			}
			if a.TokenCached(tc.raw) {
				t.Errorf("%s: refused token cached", name)
			}
		}
	})
}

// When a reload changes the issuer, tokens the previous config cached in the
// shared runtime are refused by the new config with token.ErrIssuer.
func TestVerifyCacheRespectsIssuerAcrossReload(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn := storetest.DSN(t, driver)
		cctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		defer cancel()
		cfg := func(issuer string) *app.App {
			a := &app.App{Database: &app.Database{Driver: driver, DSN: dsn}, MasterKey: apptest.MasterKey,
				Issuer: issuer, PollInterval: caddy.Duration(time.Hour)}
			if err := provisionAndStart(cctx, a); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Cleanup() })
			return a
		}
		oldCfg := cfg("https://old.example")
		c, _ := newClient(t, oldCfg, "reloaded")
		raw, _ := mint(t, oldCfg, c.ID, "", time.Hour)
		if _, err := verifyTwice(oldCfg, raw); err != nil {
			t.Fatal(err)
		}
		newCfg := cfg("https://new.example")
		if newCfg.Runtime() != oldCfg.Runtime() || !newCfg.TokenCached(raw) {
			t.Fatal("the reload did not share the runtime and its cache")
		}
		if _, err := newCfg.Verify(ctx, raw); !errors.Is(err, token.ErrIssuer) {
			t.Fatalf("old issuer's cached token under the new issuer: err = %v, want ErrIssuer", err)
		}
		if _, err := oldCfg.Verify(ctx, raw); err != nil {
			t.Fatalf("the old config still accepts its own token: %v", err)
		}
	})
}

// A token minted for another audience is refused with token.ErrAudience
// and not cached; when a reload changes the audience, tokens the previous
// config cached in the shared runtime are refused by the new config too.
func TestVerifyAudience(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn := storetest.DSN(t, driver)
		cctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		defer cancel()
		cfg := func(audience string) *app.App {
			a := &app.App{Database: &app.Database{Driver: driver, DSN: dsn}, MasterKey: apptest.MasterKey,
				Issuer: apptest.Issuer, Audience: audience, PollInterval: caddy.Duration(time.Hour)}
			if err := provisionAndStart(cctx, a); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Cleanup() })
			return a
		}
		oldCfg := cfg("urn:api-one")
		c, _ := newClient(t, oldCfg, "audience")
		raw, claims := mint(t, oldCfg, c.ID, "", time.Hour)
		claims.Audience, claims.ID = jwt.ClaimStrings{"urn:api-two"}, store.NewID()
		elsewhere, err := oldCfg.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := verifyTwice(oldCfg, elsewhere); !errors.Is(err, token.ErrAudience) || !app.IsTokenError(err) {
			t.Fatalf("token for another audience: err = %v, want ErrAudience", err)
		}
		if oldCfg.TokenCached(elsewhere) {
			t.Fatal("a token for another audience was cached")
		}
		if _, err := verifyTwice(oldCfg, raw); err != nil {
			t.Fatal(err)
		}
		newCfg := cfg("urn:api-two")
		if !newCfg.TokenCached(raw) {
			t.Fatal("the reload did not share the cache")
		}
		if _, err := newCfg.Verify(ctx, raw); !errors.Is(err, token.ErrAudience) {
			t.Fatalf("old audience's cached token under the new audience: err = %v, want ErrAudience", err)
		}
		if _, err := newCfg.Verify(ctx, elsewhere); err != nil {
			t.Fatalf("the new audience's token under the new config: %v", err)
		}
	})
}

// IsTokenError sorts every token and app refusal (also wrapped) as the
// caller's fault and anything else as the server's.
func TestIsTokenError(t *testing.T) {
	for _, err := range []error{
		token.ErrMalformed, token.ErrExpired, token.ErrNotYet, token.ErrSignature, token.ErrIssuer,
		token.ErrType, token.ErrAlgorithm, token.ErrUnknownKey, token.ErrAudience,
		app.ErrRevoked, app.ErrClientDisabled, app.ErrClientGone, app.ErrUserDisabled,
		app.ErrClientMoved, app.ErrConnectAs,
		fmt.Errorf("verifying: %w", app.ErrRevoked),
	} {
		if !app.IsTokenError(err) {
			t.Errorf("IsTokenError(%v) = false", err)
		}
	}
	for _, err := range []error{
		nil, errors.New("connection refused"), context.DeadlineExceeded, store.ErrNotFound,
		app.ErrBadCredentials, app.ErrAlreadyBootstrapped,
	} {
		if app.IsTokenError(err) {
			t.Errorf("IsTokenError(%v) = true", err)
		}
	}
}

// A client connected as a plain user does not speak for that user once a
// super admin promotes them, unless its owner (who may read its secret) is
// a super admin or the user: its connect-as tokens are refused with
// ErrConnectAsPromoted, a token error (401). A promotion to tenant admin
// changes nothing; a token the user got by signing in (no cas mark) stays
// theirs; an owner promoted to super admin, or the user owning the client,
// makes it speak for them again.
func TestVerifyConnectAsPromotedToSuperAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		alice := newUser(t, a, "alice")
		boss := newUser(t, a, "boss")
		c, _ := newClient(t, a, "connected")
		c.ConnectAsUserID, c.OwnerID = &alice.ID, boss.ID
		if err := a.Store().UpdateClient(ctx, c, tester, "client.update"); err != nil {
			t.Fatal(err)
		}
		_, claims := mint(t, a, c.ID, alice.ID, time.Hour)
		claims.ConnectAs = true
		connected, err := a.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		own, _ := mint(t, a, c.ID, alice.ID, time.Hour)
		// A token the client got naming alice with user_id
		// (allow_user_tokens) is held to the same rule.
		_, claims = mint(t, a, c.ID, alice.ID, time.Hour)
		claims.NamedUser = true
		named, err := a.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		want := func(t *testing.T, raw string, wantErr error) {
			t.Helper()
			if _, err := a.Verify(ctx, raw); !errors.Is(err, wantErr) || (wantErr != nil && !app.IsTokenError(err)) {
				t.Fatalf("Verify = %v, want %v", err, wantErr)
			}
		}
		promote := func(t *testing.T, u *store.User, super bool) {
			t.Helper()
			u.Admin, u.SuperAdmin = true, super
			if err := a.Store().UpdateUser(ctx, u, tester, "user.update"); err != nil {
				t.Fatal(err)
			}
		}
		promote(t, boss, false) // boss: a tenant admin of the default tenant
		want(t, connected, nil)
		promote(t, alice, false)
		want(t, connected, nil) // a tenant admin covers a tenant admin
		promote(t, alice, true)
		want(t, connected, app.ErrConnectAsPromoted)
		want(t, named, app.ErrConnectAsPromoted)
		want(t, own, nil)
		promote(t, boss, true)
		want(t, connected, nil)
		want(t, named, nil)
		promote(t, boss, false)
		want(t, connected, app.ErrConnectAsPromoted)
		want(t, named, app.ErrConnectAsPromoted)
		c.OwnerID = alice.ID
		if err := a.Store().UpdateClient(ctx, c, tester, "client.update"); err != nil {
			t.Fatal(err)
		}
		want(t, connected, nil)
	})
}

// OwnerPower reads the power of whoever owns a client, now: the command
// line and bootstrap (a client owning itself) are super admins, a user has
// its own power while active, a client the power its admin scopes give
// capped by the user whose power created it (up the chain of owners for
// rows older than creator_user_id), and a principal that is gone has none.
func TestOwnerPower(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		root, boss, off := newUser(t, a, "root"), newUser(t, a, "boss"), newUser(t, a, "off")
		for u, flags := range map[*store.User][3]bool{root: {true, true, false}, boss: {true, false, false}, off: {true, true, true}} {
			u.Admin, u.SuperAdmin, u.Disabled = flags[0], flags[1], flags[2]
			if err := a.Store().UpdateUser(ctx, u, tester, "user.update"); err != nil {
				t.Fatal(err)
			}
		}
		client := func(t *testing.T, name, owner, creator string, scopes ...string) *store.Client {
			t.Helper()
			c, _ := newClient(t, a, name)
			c.OwnerID, c.CreatorUserID = owner, creator
			if len(scopes) > 0 {
				c.AllowedScopes = scopes
			}
			if owner == "self" {
				c.OwnerID = c.ID
			}
			if err := a.Store().UpdateClient(ctx, c, tester, "client.update"); err != nil {
				t.Fatal(err)
			}
			return c
		}
		superKey := client(t, "super-key", app.CLIPrincipal, "", scope.Admin)
		cappedKey := client(t, "capped-key", app.CLIPrincipal, boss.ID, scope.Admin)
		taKey := client(t, "ta-key", app.CLIPrincipal, "", scope.TenantAdmin)
		// A row from before creator_user_id: the user up the chain of
		// owners caps it, as at the admin API.
		legacyKey := client(t, "legacy-key", boss.ID, "", scope.Admin)
		for _, tc := range []struct {
			name  string
			owner string
			want  power.Power
		}{
			{"the command line", app.CLIPrincipal, power.SuperAdmin},
			{"itself (bootstrap)", "self", power.SuperAdmin},
			{"a super admin", root.ID, power.SuperAdmin},
			{"a tenant admin", boss.ID, power.TenantAdmin(store.DefaultTenantID)},
			{"a disabled super admin", off.ID, power.Nothing},
			{"a client holding scopegate.admin", superKey.ID, power.SuperAdmin},
			{"a scopegate.admin client a tenant admin made", cappedKey.ID, power.TenantAdmin(store.DefaultTenantID)},
			{"a client holding scopegate.tenant_admin", taKey.ID, power.TenantAdmin(store.DefaultTenantID)},
			{"a scopegate.admin client a tenant admin made before creator_user_id", legacyKey.ID, power.TenantAdmin(store.DefaultTenantID)},
			{"nobody left", "gone", power.Nothing},
		} {
			c := client(t, "owned-by-"+strings.ReplaceAll(tc.name, " ", "-"), tc.owner, "")
			if got, err := a.OwnerPower(ctx, c); err != nil || got != tc.want {
				t.Errorf("owned by %s: %v (%v), want %v", tc.name, got, err, tc.want)
			}
		}
	})
}

// A token carrying a scope the catalogue keeps for clients of other names
// (a clients option a reload added, say) is refused with
// ErrScopeNotForClient (401: its client gets a new token, which the token
// endpoint refuses as invalid_scope), cached or not, as the token endpoint
// would not issue it now (ops red team: it was taken for its whole
// lifetime); the named client's token verifies, and so does another
// client's token without the scope.
func TestVerifyRefusesScopesKeptForOtherClients(t *testing.T) {
	a := apptest.Open(t, store.SQLite, noPolling, func(a *app.App) {
		a.Scopes = append(slices.Clone(a.Scopes), scope.Scope{Name: "batch_import", Clients: []string{"batch-import"}})
	})
	withBatch := func(c *token.Claims) { c.Scope = "demo.read batch_import" }
	other, _ := newClient(t, a, "other")
	raw, _ := mintWith(t, a, other.ID, "", time.Now(), time.Hour, withBatch)
	for range 2 { // uncached, then (were it admitted) cached
		if _, err := a.Verify(context.Background(), raw); !errors.Is(err, app.ErrScopeNotForClient) || !app.IsTokenError(err) {
			t.Fatalf("another client's token with batch_import: err = %v, want ErrScopeNotForClient", err)
		}
	}
	named, _ := newClient(t, a, "batch-import")
	ok, _ := mintWith(t, a, named.ID, "", time.Now(), time.Hour, withBatch)
	if _, err := verifyTwice(a, ok); err != nil {
		t.Fatalf("the named client's token: %v", err)
	}
	plain, _ := mint(t, a, other.ID, "", time.Hour)
	if _, err := verifyTwice(a, plain); err != nil {
		t.Fatalf("the other client's token without the scope: %v", err)
	}
}
