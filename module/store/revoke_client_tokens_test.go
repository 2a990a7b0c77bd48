package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// RevokeClientTokens moves the client to its next token generation (each
// call one more) and records the moment, ends its refresh
// tokens (every user's) and leaves other clients' alone, tells the change
// feed, audits client.revoke_tokens, and is ErrNotFound for an unknown
// client.
func TestRevokeClientTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		createTenants(t, s, store.DefaultTenantID)
		createClients(t, s, store.AuthUser, "c1", "c2")
		refresh := map[string]*store.RefreshToken{}
		for _, k := range []struct{ digest, client, user string }{{"r1", "c1", "u1"}, {"r2", "c1", "u2"}, {"r3", "c2", "u1"}} {
			rt := &store.RefreshToken{Digest: store.Digest(k.digest), FamilyID: k.digest, ClientID: k.client, UserID: k.user,
				Scopes: store.Strings{"demo.read"}, ExpiresAt: time.Now().Add(time.Hour)}
			if err := s.SaveRefreshToken(ctx, rt, ""); err != nil {
				t.Fatal(err)
			}
			refresh[k.digest] = rt
		}
		lastBefore, err := s.Feed().Last(ctx)
		if err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		at, err := s.RevokeClientTokens(ctx, "c1", admin)
		if err != nil {
			t.Fatal(err)
		}
		c1, err := s.GetClient(ctx, "c1")
		if err != nil || c1.TokensRevokedAt == nil || c1.TokensRevokedAt.Before(before.Add(-time.Second)) || c1.TokensRevokedAt.Sub(at).Abs() > time.Millisecond {
			t.Fatalf("c1 after the call: %+v, %v; want tokens_revoked_at %v", c1, err, at)
		}
		if c1.Disabled || c1.TokenGeneration != 1 {
			t.Fatalf("after the call: disabled %v, generation %d; want active, generation 1", c1.Disabled, c1.TokenGeneration)
		}
		if _, err := s.RevokeClientTokens(ctx, "c1", admin); err != nil {
			t.Fatal(err)
		}
		if c1, _ = s.GetClient(ctx, "c1"); c1.TokenGeneration != 2 {
			t.Fatalf("after a second call: generation %d, want 2", c1.TokenGeneration)
		}
		for _, d := range []string{"r1", "r2"} {
			if _, err := s.GetRefreshToken(ctx, refresh[d].Digest); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("refresh token %s of c1 survived: %v", d, err)
			}
		}
		if _, err := s.GetRefreshToken(ctx, refresh["r3"].Digest); err != nil {
			t.Errorf("c2's refresh token was ended too: %v", err)
		}
		if c2, _ := s.GetClient(ctx, "c2"); c2.TokensRevokedAt != nil {
			t.Error("c2 got a tokens_revoked_at")
		}
		if last, err := s.Feed().Last(ctx); err != nil || last <= lastBefore {
			t.Errorf("no change feed entry: last %d before %d (%v)", last, lastBefore, err)
		}
		audit, _, _ := s.ListAudit(ctx, "", store.Page{})
		if len(audit) == 0 || audit[0].Action != "client.revoke_tokens" || audit[0].Target != "c1" {
			t.Errorf("not audited: %+v", audit)
		}
		if _, err := s.RevokeClientTokens(ctx, "nope", admin); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown client: %v, want ErrNotFound", err)
		}
	})
}
