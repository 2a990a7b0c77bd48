package admin

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// POST /clients/{id}/revoke_tokens ends the client's tokens minted until
// then (a 2-legged and a 3-legged one) and leaves the client active: a token
// of its new generation verifies at once, an old-generation one never does
// (whatever its iat), a disable and restore does not bring the old ones back, and the answer shows tokens_revoked_at. Another tenant's
// admin gets 404, the client itself 409, and the audit log names it. (A
// red-team finding: before, only deleting the client ended a leaked token.)
func TestRevokeClientTokensEndsIssuedTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		ada := e.user(store.DefaultTenantID, "ada")
		leaky := e.create(e.super, map[string]any{"name": "leaky", "scopes": []string{"demo.read"}})
		path := "/clients/" + leaky.ClientID
		old2 := e.sign(leaky.ClientID, store.DefaultTenantID, "", "demo.read")
		old3 := e.sign(leaky.ClientID, store.DefaultTenantID, ada.ID, "demo.read")
		for _, tok := range []string{old2, old3} {
			if _, err := e.app.Verify(ctx, tok); err != nil {
				t.Fatalf("a token before the call: %v", err)
			}
		}

		e.tenant("other")
		otherAdmin, _ := e.adminToken("other", scope.TenantAdmin)
		problemOf(t, e.do("POST", path+"/revoke_tokens", otherAdmin, nil), http.StatusNotFound)
		problemOf(t, e.do("POST", "/clients/"+e.superID+"/revoke_tokens", e.super, nil), http.StatusConflict)

		got := decode[clientView](t, e.want(e.do("POST", path+"/revoke_tokens", e.super, nil), http.StatusOK))
		if got.TokensRevokedAt == nil || got.Status != "active" {
			t.Fatalf("the answer: %+v, want active with tokens_revoked_at", got)
		}
		for name, tok := range map[string]string{"2-legged": old2, "3-legged": old3} {
			if _, err := e.app.Verify(ctx, tok); !errors.Is(err, app.ErrRevoked) {
				t.Errorf("the %s token from before: %v, want ErrRevoked", name, err)
			}
		}
		// Which tokens end is the generation's business, not a clock's: a
		// token of the new generation minted at once works, one of the old
		// generation fails even with an iat after the call (a minting node
		// whose clock runs ahead).
		row, err := e.app.Store().GetClient(ctx, leaky.ClientID)
		if err != nil || row.TokenGeneration != 1 {
			t.Fatalf("the client's generation after the call: %+v, %v; want 1", row, err)
		}
		if _, err := e.app.Verify(ctx, e.signAt(leaky.ClientID, time.Now(), 1)); err != nil {
			t.Errorf("a token of the new generation minted at once: %v", err)
		}
		if _, err := e.app.Verify(ctx, e.signAt(leaky.ClientID, time.Now().Add(20*time.Second), 0)); !errors.Is(err, app.ErrRevoked) {
			t.Errorf("an old-generation token with an iat after the call: %v, want ErrRevoked", err)
		}

		e.want(e.do("POST", path+"/disable", e.super, nil), http.StatusOK)
		e.want(e.do("POST", path+"/restore", e.super, nil), http.StatusOK)
		if _, err := e.app.Verify(ctx, old2); !errors.Is(err, app.ErrRevoked) {
			t.Errorf("after a disable and restore the old token: %v, want ErrRevoked", err)
		}
		entries, _, _ := e.app.Store().ListAudit(ctx, store.DefaultTenantID, store.Page{Limit: 100})
		found := false
		for _, en := range entries {
			found = found || en.Action == "client.revoke_tokens" && en.Target == leaky.ClientID
		}
		if !found {
			t.Error("no client.revoke_tokens audit entry")
		}
	})
}

// signAt mints a 2-legged demo.read token of clientID issued at iat, of
// token generation gen.
func (e *env) signAt(clientID string, iat time.Time, gen int) string {
	e.t.Helper()
	c := e.claimsFor(clientID, store.DefaultTenantID, "", nil, "demo.read")
	c.IssuedAt, c.ExpiresAt, c.Generation = jwt.NewNumericDate(iat), jwt.NewNumericDate(iat.Add(time.Hour)), gen
	return e.signClaims(c)
}
