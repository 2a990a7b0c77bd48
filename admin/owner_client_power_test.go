package admin

import (
	"net/http"
	"testing"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// An admin client made with another admin client's token has no more power
// than that client has now, as it has no more than the user whose power made
// it: while its maker is disabled it is refused (403 insufficient_scope),
// and works again once the maker is restored; when the maker loses
// scopegate.admin for scopegate.tenant_admin it is a tenant admin (it may
// no longer create tenants); when the maker is deleted it has no power at
// all. A client the bootstrap client made (the bootstrap client owns itself)
// keeps its power throughout, so the check is not vacuous.
func TestAdminPowerEndsWithTheMakingClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		root, _ := e.adminToken(store.DefaultTenantID, scope.Admin)
		create := func(tok, name string) string {
			t.Helper()
			v := decode[clientView](t, e.want(e.do("POST", "/clients", tok, map[string]any{"name": name, "scopes": []string{scope.Admin}}), http.StatusCreated))
			return v.ClientID
		}
		makerID := create(root, "maker")
		maker := e.sign(makerID, store.DefaultTenantID, "", scope.Admin)
		madeID := create(maker, "made")
		made := e.sign(madeID, store.DefaultTenantID, "", scope.Admin)
		siblingID := create(root, "sibling")
		sibling := e.sign(siblingID, store.DefaultTenantID, "", scope.Admin)
		works := func(what, tok string) {
			t.Helper()
			if w := e.do("GET", "/users", tok, nil); w.Code != http.StatusOK {
				t.Fatalf("%s: GET /users %d %s, want 200", what, w.Code, w.Body)
			}
		}
		works("the made client", made)

		e.want(e.do("POST", "/clients/"+makerID+"/disable", root, nil), http.StatusOK)
		e.refusedToken(made)
		works("a client the bootstrap client made, while another is disabled", sibling)
		e.want(e.do("POST", "/clients/"+makerID+"/restore", root, nil), http.StatusOK)
		works("the made client once its maker is restored", made)

		e.want(e.do("PATCH", "/clients/"+makerID, root, map[string]any{"scopes": []string{scope.TenantAdmin}, "default_scopes": []string{scope.TenantAdmin}}), http.StatusOK)
		works("the made client of a tenant admin maker", made)
		problemOf(t, e.do("POST", "/tenants", made, map[string]any{"name": "made's"}), http.StatusForbidden)
		e.want(e.do("POST", "/tenants", sibling, map[string]any{"name": "sibling's"}), http.StatusCreated)

		e.want(e.do("DELETE", "/clients/"+makerID, root, nil), http.StatusNoContent)
		e.refusedToken(made)
		works("a client the bootstrap client made, after another was deleted", sibling)
	})
}
