package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// An edit that changes whom a client's tokens speak for (its tenant, or its
// connect-as user set, changed or removed) ends every token it holds, as
// RevokeClientTokens does: the client moves to its next token generation,
// the moment is recorded (tokens_revoked_at) and its refresh tokens end. An edit that changes neither (a rename, the
// same user again) ends nothing, and another client is left alone. Taking
// a scope or another power away (allow_user_tokens, allow_impersonation, a
// grant type, the auth method) ends the tokens but not the refresh tokens;
// becoming public ends both (its refresh tokens would need no secret);
// giving a power ends nothing.
func TestIdentityChangeEndsClientTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		createTenants(t, s, store.DefaultTenantID, "acme")
		users := map[string]string{}
		for _, name := range []string{"ua", "ub"} {
			u := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: name}
			if err := s.CreateUser(ctx, u, admin); err != nil {
				t.Fatal(err)
			}
			users[name] = u.ID
		}
		createClients(t, s, store.AuthAPIKey, "c1", "c2")
		refreshOf := func(t *testing.T, client string) string {
			t.Helper()
			d := store.Digest(client + store.NewID())
			rt := &store.RefreshToken{Digest: d, FamilyID: d, ClientID: client, UserID: users["ua"],
				Scopes: store.Strings{"demo.read"}, ExpiresAt: time.Now().Add(time.Hour)}
			if err := s.SaveRefreshToken(ctx, rt, ""); err != nil {
				t.Fatal(err)
			}
			return d
		}
		other := refreshOf(t, "c2")
		edit := func(t *testing.T, change func(c *store.Client), wantGen int, wantRefreshEnded bool) {
			t.Helper()
			c, err := s.GetClient(ctx, "c1")
			if err != nil {
				t.Fatal(err)
			}
			from, before := c.TenantID, c.TokensRevokedAt
			r := refreshOf(t, "c1")
			change(c)
			if err := s.UpdateClientSettingsIfUnchanged(ctx, c, from, admin); err != nil {
				t.Fatal(err)
			}
			got, _ := s.GetClient(ctx, "c1")
			if got.TokenGeneration != wantGen {
				t.Fatalf("generation %d, want %d", got.TokenGeneration, wantGen)
			}
			// The API shows when an admin last ended the client's tokens.
			moved := (before == nil) != (got.TokensRevokedAt == nil) ||
				(before != nil && !before.Equal(*got.TokensRevokedAt))
			if moved != wantRefreshEnded {
				t.Fatalf("tokens_revoked_at %v → %v, want it moved: %v", before, got.TokensRevokedAt, wantRefreshEnded)
			}
			if _, err := s.GetRefreshToken(ctx, r); errors.Is(err, store.ErrNotFound) != wantRefreshEnded {
				t.Fatalf("refresh token: %v, want ended %v", err, wantRefreshEnded)
			}
		}
		ua, ub := users["ua"], users["ub"]
		edit(t, func(c *store.Client) { c.Name = "renamed" }, 0, false)
		edit(t, func(c *store.Client) { c.ConnectAsUserID = &ua }, 1, true)
		edit(t, func(c *store.Client) { c.ConnectAsUserID = &ua; c.Name = "again" }, 1, false)
		edit(t, func(c *store.Client) { c.ConnectAsUserID = &ub }, 2, true)
		edit(t, func(c *store.Client) { c.ConnectAsUserID = nil }, 3, true)
		edit(t, func(c *store.Client) { c.TenantID = "acme" }, 4, true)
		edit(t, func(c *store.Client) { c.TenantID = store.DefaultTenantID }, 5, true)

		// A scope taken away ends the tokens too (one of them may hold
		// it), but not the refresh tokens, which are checked against the
		// client's scopes when used; a scope added, or the same ones in
		// another order, ends nothing.
		edit(t, func(c *store.Client) { c.AllowedScopes = store.Strings{"demo.read", "demo.write"} }, 5, false)
		edit(t, func(c *store.Client) { c.AllowedScopes = store.Strings{"demo.write", "demo.read"} }, 5, false)
		edit(t, func(c *store.Client) {
			c.AllowedScopes, c.DefaultScopes = store.Strings{"demo.write"}, store.Strings{"demo.write"}
		}, 6, false)
		edit(t, func(c *store.Client) { c.Name = "renamed again" }, 6, false)

		// So does any other power taken away, which tokens minted with it
		// would keep: naming users at token time (a tenant taking back an
		// app's delegation), impersonation, a grant type, the client's
		// kind. Giving one ends nothing.
		edit(t, func(c *store.Client) { c.AllowUserTokens = true }, 6, false)
		edit(t, func(c *store.Client) { c.AllowUserTokens = false }, 7, false)
		edit(t, func(c *store.Client) { c.AllowImpersonation = true }, 7, false)
		edit(t, func(c *store.Client) { c.AllowImpersonation = false }, 8, false)
		edit(t, func(c *store.Client) { c.GrantTypes = store.Strings{store.GrantClientCredentials} }, 9, false)
		edit(t, func(c *store.Client) { c.GrantTypes = nil }, 9, false)
		edit(t, func(c *store.Client) { c.DisableImplicit = true }, 10, false)
		edit(t, func(c *store.Client) { c.DisableImplicit = false }, 10, false)
		edit(t, func(c *store.Client) { c.AuthMethod = store.AuthUser }, 11, false)
		edit(t, func(c *store.Client) { c.Public = true }, 12, true) // its refresh tokens would need no secret
		edit(t, func(c *store.Client) { c.Public = false }, 12, false)

		if c2, _ := s.GetClient(ctx, "c2"); c2.TokenGeneration != 0 {
			t.Errorf("c2's generation moved to %d", c2.TokenGeneration)
		}
		if _, err := s.GetRefreshToken(ctx, other); err != nil {
			t.Errorf("c2's refresh token was ended: %v", err)
		}
	})
}

// A client made public forgets its secret, whatever else the edit changes
// (a move to another tenant with it took the path that kept it), so made
// confidential again the old secret, which may have shipped in the app,
// proves nothing; and a rotation of a public client is refused
// (ErrPublicClient) under the row's lock, so one racing the edit cannot
// give it a secret back.
func TestMadePublicForgetsItsSecret(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		createTenants(t, s, store.DefaultTenantID, "acme")
		createClients(t, s, store.AuthUser, "alone", "moved")
		for id, change := range map[string]func(c *store.Client){
			"alone": func(c *store.Client) { c.Public = true },
			"moved": func(c *store.Client) { c.Public, c.TenantID = true, "acme" },
		} {
			c, err := s.GetClient(ctx, id)
			if err != nil || c.SecretDigest == "" {
				t.Fatalf("%s before: %+v, %v", id, c, err)
			}
			from := c.TenantID
			change(c)
			if err := s.UpdateClientSettings(ctx, c, from, admin); err != nil {
				t.Fatal(err)
			}
			got, _ := s.GetClient(ctx, id)
			if !got.Public || got.SecretDigest != "" || len(got.SecretCiphertext) != 0 || got.PreviousSecretDigest != "" || got.TokensRevokedAt == nil {
				t.Errorf("%s made public: public %v, digest %q, previous %q, tokens ended %v; want public, no secret, tokens ended",
					id, got.Public, got.SecretDigest, got.PreviousSecretDigest, got.TokensRevokedAt)
			}
			if err := s.RotateSecret(ctx, id, "new", []byte("sealed"), nil, admin); !errors.Is(err, store.ErrPublicClient) {
				t.Errorf("rotating public client %s: %v, want ErrPublicClient", id, err)
			}
		}
	})
}
