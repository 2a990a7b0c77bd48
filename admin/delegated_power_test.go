package admin

import (
	"context"
	"net/http"
	"testing"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// userApp stores a user-auth client of the default tenant holding scopes,
// made by maker (its owner and creator, as the console records an app an
// admin adds), with a secret, and returns its id.
func (e *env) userApp(maker *store.User, scopes ...string) string {
	e.t.Helper()
	id := app.NewClientID()
	return e.storeClient(&store.Client{
		ID: id, TenantID: store.DefaultTenantID, Name: "app-" + id, AuthMethod: store.AuthUser,
		AllowedScopes: scopes, DefaultScopes: scopes, OwnerID: maker.ID, CreatorUserID: maker.ID,
		RedirectURIs: store.Strings{"https://app.example/cb"},
	}).ID
}

// A super admin who approves a tenant admin's app for scopegate.tenant_admin
// hands that app a token acting for the super admin, within the tenant
// admin's power (red team: the app's maker holds its secret, so it redeems
// the code). What the token makes belongs to the app, as if its own token
// had made it, and ends with the app's maker: once the maker is disabled,
// or the app deleted, a client made with the token has no power (it kept a
// tenant admin's, owned by the super admin, whose secret the maker held).
// The token reads and rotates no secret of the super admin's clients (it
// did, as their owner). The same token shape through an app the super
// admin made itself still acts as the super admin's own (owner of what it
// makes, reader of its secrets), so the refusals are not vacuous.
func TestDelegatedTokenActsAsItsAppNotAsTheConsentingUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		root2 := e.superUser("root2")
		dta := e.adminUser(store.DefaultTenantID, "dta")

		appK := e.userApp(dta, scope.TenantAdmin)
		kt := e.sign(appK, store.DefaultTenantID, root2.ID, scope.TenantAdmin)
		madeZ := e.create(kt, map[string]any{"name": "persist-ta", "scopes": []string{scope.TenantAdmin}})
		z, err := e.app.Store().GetClient(context.Background(), madeZ.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		if z.OwnerID != appK || z.CreatorUserID != dta.ID {
			t.Fatalf("client made with the delegated token: owner %q creator %q, want the app %q and its maker %q", z.OwnerID, z.CreatorUserID, appK, dta.ID)
		}
		zt := e.sign(z.ID, store.DefaultTenantID, "", scope.TenantAdmin)
		e.want(e.do("GET", "/users", zt, nil), http.StatusOK)

		// root2's own client Y: its secret is root2's to read and rotate.
		rootApp := e.userApp(root2, scope.Admin)
		rootTok := e.sign(rootApp, store.DefaultTenantID, root2.ID, scope.Admin)
		y := e.userApp(root2, "demo.read")
		if s := decode[secretView](t, e.want(e.do("GET", "/clients/"+y+"/secret", rootTok, nil), http.StatusOK)); s.Masked {
			t.Fatal("root2's own app's token: the secret of root2's client is masked, want it shown")
		}
		if s := decode[secretView](t, e.want(e.do("GET", "/clients/"+y+"/secret", kt, nil), http.StatusOK)); !s.Masked || s.ClientSecret != masked {
			t.Fatalf("delegated token read the secret of the consenting user's client: %+v", s)
		}
		problemOf(t, e.do("POST", "/clients/"+y+"/rotate", kt, map[string]any{"grace_seconds": 0}), http.StatusForbidden)
		w := e.create(rootTok, map[string]any{"name": "root2's", "scopes": []string{"demo.read"}})
		if own, err := e.app.Store().GetClient(context.Background(), w.ClientID); err != nil || own.OwnerID != root2.ID {
			t.Fatalf("client made by root2's own app's token: %+v %v, want owner root2", own, err)
		}

		// The maker disabled: what the delegated token made has no power.
		e.want(e.do("PATCH", "/users/"+dta.ID, e.super, map[string]any{"disabled": true}), http.StatusOK)
		e.refusedToken(zt)
		e.refusedToken(kt)
		e.want(e.do("PATCH", "/users/"+dta.ID, e.super, map[string]any{"disabled": false}), http.StatusOK)
		e.want(e.do("GET", "/users", zt, nil), http.StatusOK)
		// The app deleted: none either.
		e.want(e.do("DELETE", "/clients/"+appK, e.super, nil), http.StatusNoContent)
		e.refusedToken(zt)
	})
}

// A public admin app (a browser tool, whose tokens stay with each user who
// signs in) acts as its user even when another admin made it: a key alice
// makes through it is hers (she reads its secret through the tool, bob
// through the same tool does not, nor rotates it). A confidential app the
// bootstrap client made (no admin user behind it) is delegated like one
// another admin made: alice's token through it makes keys the app owns and
// reads none of her own keys' secrets (review of the first fix).
func TestDelegationFollowsWhoHoldsTheTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		maker := e.adminUser(store.DefaultTenantID, "maker")
		alice := e.adminUser(store.DefaultTenantID, "alice")
		bob := e.adminUser(store.DefaultTenantID, "bob")
		makerTok, _ := e.userToken(maker, scope.TenantAdmin)
		spa := e.create(makerTok, map[string]any{"name": "admin-spa", "scopes": []string{scope.TenantAdmin}, "auth_method": "user",
			"public": true, "redirect_uris": []string{"https://spa.example/cb"}})
		viaSPA := func(u *store.User) string {
			return e.sign(spa.ClientID, store.DefaultTenantID, u.ID, scope.TenantAdmin)
		}
		key := e.create(viaSPA(alice), map[string]any{"name": "alice-key", "scopes": []string{"demo.read"}})
		if s := decode[secretView](t, e.want(e.do("GET", "/clients/"+key.ClientID+"/secret", viaSPA(alice), nil), http.StatusOK)); s.Masked {
			t.Fatal("alice through the public tool: her own key's secret is masked")
		}
		if s := decode[secretView](t, e.want(e.do("GET", "/clients/"+key.ClientID+"/secret", viaSPA(bob), nil), http.StatusOK)); !s.Masked {
			t.Fatal("bob through the same public tool read the secret of alice's key")
		}
		problemOf(t, e.do("POST", "/clients/"+key.ClientID+"/rotate", viaSPA(bob), map[string]any{"grace_seconds": 0}), http.StatusForbidden)

		portal := e.create(e.super, map[string]any{"name": "portal", "scopes": []string{scope.TenantAdmin}, "auth_method": "user",
			"redirect_uris": []string{"https://portal.example/cb"}})
		viaPortal := e.sign(portal.ClientID, store.DefaultTenantID, alice.ID, scope.TenantAdmin)
		made := e.create(viaPortal, map[string]any{"name": "portal-made", "scopes": []string{"demo.read"}})
		if stored, err := e.app.Store().GetClient(context.Background(), made.ClientID); err != nil || stored.OwnerID != portal.ClientID {
			t.Fatalf("a key made through the bootstrap client's app: %+v %v, want it owned by the app", stored, err)
		}
		if s := decode[secretView](t, e.want(e.do("GET", "/clients/"+key.ClientID+"/secret", viaPortal, nil), http.StatusOK)); !s.Masked {
			t.Fatal("the bootstrap client's app, for alice, read the secret of alice's key")
		}
	})
}
