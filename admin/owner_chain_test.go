package admin

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Admin clients made with each other's tokens, one after the other, hold
// their power only as far as the owner chain is walked: a client made past
// that would have tokens carrying no power, so its creation with an admin
// scope is a 400 naming scopes (the inputs red team got a 201 for the 9th
// and 403 on every call of its tokens). Each one made before works, and
// the last in the chain may still make clients without admin scopes.
func TestAdminClientChainEndsAtCreation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		tok, _ := e.adminToken(store.DefaultTenantID, scope.Admin)
		made := 0
		for ; made < 20; made++ {
			w := e.do("POST", "/clients", tok, map[string]any{"name": fmt.Sprint("chain ", made), "scopes": []string{scope.TenantAdmin}})
			if w.Code != http.StatusCreated {
				if p := problemOf(t, w, http.StatusBadRequest); !slices.Equal(fields(p), []string{"scopes"}) {
					t.Fatalf("client %d of the chain: %+v, want a 400 naming scopes", made+1, p)
				}
				break
			}
			next := decode[clientView](t, w)
			tok = e.sign(next.ClientID, store.DefaultTenantID, "", scope.TenantAdmin)
			e.want(e.do("GET", "/clients", tok, nil), http.StatusOK)
			e.want(e.do("PATCH", "/clients/"+next.ClientID, tok, map[string]any{"name": fmt.Sprint("chain ", made, ", renamed")}), http.StatusOK)
		}
		if made == 0 || made == 20 {
			t.Fatalf("%d admin clients made in a chain, want the chain to end after some", made)
		}
		// Nor given an admin scope later (review: made plain, then patched).
		plain := e.create(tok, map[string]any{"name": "plain", "scopes": []string{"demo.read"}})
		p := problemOf(t, e.do("PATCH", "/clients/"+plain.ClientID, tok, map[string]any{"scopes": []string{"demo.read", scope.TenantAdmin}}), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"scopes"}) {
			t.Fatalf("an admin scope patched onto the chain's last client: %+v, want a 400 naming scopes", p)
		}
	})
}
