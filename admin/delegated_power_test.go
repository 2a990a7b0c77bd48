package admin

import (
	"context"
	"net/http"
	"strings"
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

// A super admin who approves a tenant admin's app for
// scopegate.tenant_admin hands whoever serves the app's redirect URI (its
// maker, confidential or public app alike) a token acting for the super
// admin, within the tenant admin's power. It manages what that power
// covers, but makes no credentials (a client made with it kept a tenant
// admin's power, owned by the super admin, after the maker was disabled
// and the app deleted: console red team) and reads or rotates no secret of
// the super admin's clients (it did, as their owner). Through an app the
// super admin made itself, or one the operator made (the bootstrap
// client's token), the same token shape acts as the super admin's own, so
// the refusals are not vacuous.
func TestDelegatedTokenMakesNoCredentials(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		root2 := e.superUser("root2")
		dta := e.adminUser(store.DefaultTenantID, "dta")
		y := e.userApp(root2, "demo.read") // root2's client: its secret is root2's
		for _, public := range []bool{false, true} {
			id := app.NewClientID()
			appK := e.storeClient(&store.Client{ID: id, TenantID: store.DefaultTenantID, Name: "app-" + id, AuthMethod: store.AuthUser,
				AllowedScopes: store.Strings{scope.TenantAdmin}, OwnerID: dta.ID, CreatorUserID: dta.ID, Public: public,
				RedirectURIs: store.Strings{"https://app.example/cb"}}).ID
			kt := e.sign(appK, store.DefaultTenantID, root2.ID, scope.TenantAdmin)
			e.want(e.do("GET", "/users", kt, nil), http.StatusOK) // management within the power
			key := map[string]any{"name": "persist-ta", "scopes": []string{scope.TenantAdmin}}
			for _, tc := range []struct {
				method, path string
				body         map[string]any
			}{
				{"POST", "/clients", key}, {"POST", "/clients/ensure", key},
				{"POST", "/apps", map[string]any{"name": "an app", "scopes": []string{"demo.read"}, "tenant_ids": []string{"t1"}}},
				{"POST", "/clients/" + y + "/rotate", map[string]any{"grace_seconds": 0}},
			} {
				if p := problemOf(t, e.do(tc.method, tc.path, kt, tc.body), http.StatusForbidden); !strings.Contains(p.Detail, "another admin set up") {
					t.Fatalf("public %v: %s %s with the delegated token: %+v", public, tc.method, tc.path, p)
				}
			}
			if s := decode[secretView](t, e.want(e.do("GET", "/clients/"+y+"/secret", kt, nil), http.StatusOK)); !s.Masked {
				t.Fatalf("public %v: the delegated token read the secret of the consenting user's client", public)
			}
		}

		for name, maker := range map[string]string{"root2's own app": root2.ID, "the operator's app": ""} {
			id := app.NewClientID()
			e.storeClient(&store.Client{ID: id, TenantID: store.DefaultTenantID, Name: "own-" + id, AuthMethod: store.AuthUser,
				AllowedScopes: store.Strings{scope.Admin}, OwnerID: map[bool]string{true: root2.ID, false: id}[maker != ""],
				CreatorUserID: maker, RedirectURIs: store.Strings{"https://app.example/cb"}})
			tok := e.sign(id, store.DefaultTenantID, root2.ID, scope.Admin)
			if s := decode[secretView](t, e.want(e.do("GET", "/clients/"+y+"/secret", tok, nil), http.StatusOK)); s.Masked {
				t.Fatalf("%s: the secret of root2's client is masked, want it shown", name)
			}
			w := e.create(tok, map[string]any{"name": "made-by-" + id, "scopes": []string{"demo.read"}})
			if own, err := e.app.Store().GetClient(context.Background(), w.ClientID); err != nil || own.OwnerID != root2.ID {
				t.Fatalf("%s: client made with the token: %+v %v, want owner root2", name, own, err)
			}
		}
	})
}

// An app made with an API key is delegated as one an admin user made: the
// key's holder serves the redirect URI. The tenancy red team's case was a
// tenant admin key made with the bootstrap client's token (no admin user
// behind it): the super admin who approved its app handed the key's holder
// a token that read and rotated the super admin's secrets and made clients
// owned by the super admin. The same holds for a tenant admin key made at
// the command line, and for a super admin key made with another client's
// token (its holder is not the operator). An app made with the token of a
// super admin client the operator made at the command line (the bootstrap
// client) still acts as the user, so the refusals are not vacuous.
func TestAppOfAnAPIKeyIsDelegated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		root2 := e.superUser("root2")
		y := e.userApp(root2, "demo.read") // root2's client: its secret is root2's
		key := func(owner string, scopes ...string) *store.Client {
			id := app.NewClientID()
			if owner == "" {
				owner = id // owns itself, as bootstrap's client
			}
			return e.storeClient(&store.Client{ID: id, TenantID: store.DefaultTenantID, Name: "key-" + id,
				AllowedScopes: scopes, OwnerID: owner})
		}
		boot := key("", scope.Admin)
		appOf := func(maker *store.Client, scopes ...string) string {
			id := app.NewClientID()
			return e.storeClient(&store.Client{ID: id, TenantID: store.DefaultTenantID, Name: "app-" + id, AuthMethod: store.AuthUser,
				AllowedScopes: scopes, OwnerID: maker.ID, RedirectURIs: store.Strings{"https://app.example/cb"}}).ID
		}
		for name, maker := range map[string]*store.Client{
			"a tenant admin key made with the bootstrap token": key(boot.ID, scope.TenantAdmin),
			"a tenant admin key made at the command line":      key(store.CLIPrincipal, scope.TenantAdmin),
			"a super admin key made with the bootstrap token":  key(boot.ID, scope.Admin),
		} {
			wantDelegated(t, e, name, e.sign(appOf(maker, scope.TenantAdmin), store.DefaultTenantID, root2.ID, scope.TenantAdmin), y)
		}

		tok := e.sign(appOf(boot, scope.Admin), store.DefaultTenantID, root2.ID, scope.Admin)
		if s := decode[secretView](t, e.want(e.do("GET", "/clients/"+y+"/secret", tok, nil), http.StatusOK)); s.Masked {
			t.Fatal("an app made with the bootstrap token: the secret of root2's client is masked, want it shown")
		}
	})
}

// wantDelegated asserts that tok, a user-bound token of an app named by
// what, is delegated: it manages what its power covers, but reads the
// secret of y (a client of the approving user) masked, and rotating y or
// creating a client is 403.
func wantDelegated(t *testing.T, e *env, what, tok, y string) {
	t.Helper()
	e.want(e.do("GET", "/users", tok, nil), http.StatusOK) // management within the power
	if s := decode[secretView](t, e.want(e.do("GET", "/clients/"+y+"/secret", tok, nil), http.StatusOK)); !s.Masked {
		t.Errorf("%s: the app's token read the secret of the approving user's client", what)
	}
	for _, tc := range []struct {
		method, path string
		body         map[string]any
	}{
		{"POST", "/clients/" + y + "/rotate", map[string]any{"grace_seconds": 0}},
		{"POST", "/clients", map[string]any{"name": "persist", "scopes": []string{scope.TenantAdmin}}},
	} {
		if p := problemOf(t, e.do(tc.method, tc.path, tok, tc.body), http.StatusForbidden); !strings.Contains(p.Detail, "another admin set up") {
			t.Errorf("%s: %s %s with the app's token: %+v, want 403", what, tc.method, tc.path, p)
		}
	}
}

// An app made with the approving admin's own API key is delegated too:
// the key's holder serves the app's redirect URI. The tenancy red team made
// an app with a tenant admin's key, had the admin approve it, and its token
// read and rotated the admin's secrets and made clients owned by the admin,
// which outlived the key's deletion (the app took the admin's power as its
// creator, CreatorUserID). The admin's own app still acts as the admin.
func TestAppOfTheUsersOwnKeyIsDelegated(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		root2 := e.superUser("root2")
		y := e.userApp(root2, "demo.read")
		k := e.storeClient(&store.Client{TenantID: store.DefaultTenantID, Name: "root2's key", AuthMethod: store.AuthAPIKey,
			AllowedScopes: store.Strings{scope.Admin}, OwnerID: root2.ID, CreatorUserID: root2.ID})
		made := e.storeClient(&store.Client{TenantID: store.DefaultTenantID, Name: "Helpful Reports", AuthMethod: store.AuthUser,
			AllowedScopes: store.Strings{scope.Admin}, OwnerID: k.ID, CreatorUserID: root2.ID, RedirectURIs: store.Strings{"https://evil.example/cb"}})
		wantDelegated(t, e, "an app of root2's key", e.sign(made.ID, store.DefaultTenantID, root2.ID, scope.Admin), y)
		own := e.sign(e.userApp(root2, scope.Admin), store.DefaultTenantID, root2.ID, scope.Admin)
		if s := decode[secretView](t, e.want(e.do("GET", "/clients/"+y+"/secret", own, nil), http.StatusOK)); s.Masked {
			t.Fatal("root2's own app: the secret of root2's client is masked, want it shown")
		}
	})
}
