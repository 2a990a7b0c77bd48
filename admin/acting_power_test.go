package admin

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A client's tokens speak for users, so making or managing such a client
// needs the power of those users. A tenant admin of the default tenant may
// not change a super admin user, so it may not make a client that connects
// as one, nor one of the default tenant that may name any user at token time
// (allow_impersonation, allow_user_tokens: super admins are users there);
// and it may neither change nor read the secret of such a client a super
// admin made. A client connecting as a plain user or as an admin of its own
// level stays within its power. In another tenant, where no user holds more
// than a tenant admin, that tenant's admin may make every kind of client.
func TestClientsActingAsUsersNeedTheirPower(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.tenant("acme")
		ta, _ := e.adminToken(store.DefaultTenantID, scope.TenantAdmin)
		root := decode[userView](t, e.want(e.do("POST", "/users", e.super, map[string]any{
			"username": "root", "super_admin": true, "password": consolePassword,
		}), http.StatusCreated))
		plain := decode[userView](t, e.want(e.do("POST", "/users", e.super, map[string]any{"username": "plain"}), http.StatusCreated))
		peer := decode[userView](t, e.want(e.do("POST", "/users", e.super, map[string]any{"username": "peer", "admin": true}), http.StatusCreated))

		for name, body := range map[string]map[string]any{
			"connects as a super admin": {"connect_as_user_id": root.ID},
			"impersonates":              {"allow_impersonation": true},
			"names users":               {"allow_user_tokens": true},
		} {
			body["name"], body["scopes"] = "c-"+strings.ReplaceAll(name, " ", "-"), []string{"demo.read"}
			p := problemOf(t, e.do("POST", "/clients", ta, body), http.StatusForbidden)
			if !strings.Contains(p.Detail, "super admin") {
				t.Fatalf("a client that %s: refusal %q does not say a super admin is needed", name, p.Detail)
			}
			if _, err := e.app.Store().FindClientByName(t.Context(), store.DefaultTenantID, body["name"].(string)); err == nil {
				t.Fatalf("a tenant admin of the default tenant made a client that %s", name)
			}
		}
		e.want(e.do("POST", "/clients", ta, map[string]any{"name": "as-plain", "scopes": []string{"demo.read"}, "connect_as_user_id": plain.ID}), http.StatusCreated)
		e.want(e.do("POST", "/clients", ta, map[string]any{"name": "as-peer", "scopes": []string{"demo.read"}, "connect_as_user_id": peer.ID}), http.StatusCreated)

		// A client that may name any user, made by a super admin: the tenant
		// admin neither changes it, nor reads or rotates its secret, nor
		// turns a client of its own into one.
		imp := e.create(e.super, map[string]any{"name": "imp", "scopes": []string{"demo.read"}, "allow_impersonation": true})
		problemOf(t, e.do("GET", "/clients/"+imp.ClientID+"/secret", ta, nil), http.StatusForbidden)
		problemOf(t, e.do("POST", "/clients/"+imp.ClientID+"/rotate", ta, nil), http.StatusForbidden)
		problemOf(t, e.do("PATCH", "/clients/"+imp.ClientID, ta, map[string]any{"name": "mine"}), http.StatusForbidden)
		own := e.create(ta, map[string]any{"name": "own", "scopes": []string{"demo.read"}})
		problemOf(t, e.do("PATCH", "/clients/"+own.ClientID, ta, map[string]any{"allow_user_tokens": true}), http.StatusForbidden)
		problemOf(t, e.do("PATCH", "/clients/"+own.ClientID, ta, map[string]any{"connect_as_user_id": root.ID}), http.StatusForbidden)
		e.want(e.do("PATCH", "/clients/"+imp.ClientID, e.super, map[string]any{"name": "imp-2"}), http.StatusOK)

		// Another tenant's admin may make every kind of client there.
		acmeAdmin, _ := e.adminToken("acme", scope.TenantAdmin)
		boss := decode[userView](t, e.want(e.do("POST", "/users", acmeAdmin, map[string]any{"username": "boss", "admin": true}), http.StatusCreated))
		e.want(e.do("POST", "/clients", acmeAdmin, map[string]any{"name": "acme-imp", "scopes": []string{"demo.read"}, "allow_impersonation": true, "allow_user_tokens": true}), http.StatusCreated)
		e.want(e.do("POST", "/clients", acmeAdmin, map[string]any{"name": "acme-as-boss", "scopes": []string{"demo.read"}, "connect_as_user_id": boss.ID}), http.StatusCreated)
	})
}

// With connect_as_creator, turning a super admin's user app into an API key
// makes it connect as that super admin: a tenant admin of the default
// tenant may not make that change (403, nothing written), while the super
// admin may.
func TestConnectAsCreatorNeedsTheCreatorsPower(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.h.ConnectAsCreator = true
		root := e.superUser("root")
		rootTok, _ := e.userToken(root, scope.Admin)
		ta, _ := e.adminToken(store.DefaultTenantID, scope.TenantAdmin)
		app := e.create(rootTok, map[string]any{"name": "browser", "scopes": []string{"demo.read"}, "auth_method": "user"})
		problemOf(t, e.do("PATCH", "/clients/"+app.ClientID, ta, map[string]any{"auth_method": "api_key"}), http.StatusForbidden)
		if cl, err := e.app.Store().GetClient(t.Context(), app.ClientID); err != nil || cl.AuthMethod != store.AuthUser || cl.ConnectAsUserID != nil {
			t.Fatalf("after the refused change: %+v %v", cl, err)
		}
		got := decode[clientView](t, e.want(e.do("PATCH", "/clients/"+app.ClientID, rootTok, map[string]any{"auth_method": "api_key"}), http.StatusOK))
		if got.ConnectAsUserID == nil || *got.ConnectAsUserID != root.ID {
			t.Fatalf("root's own change: %+v", got)
		}
	})
}

// An app's client for a tenant (a pair) may not connect as a user: its
// secret is the app developer's, and the tenant's admin allowed scopes,
// not a user's voice. The tenant admin's PATCH naming a user of its tenant
// is a 400 naming connect_as_user_id, and the pair is unchanged.
func TestPairsDoNotConnectAsUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newIntegrationsEnv(t, driver)
		pair := decode[pairView](t, e.want(e.do("POST", "/integrations/"+e.reporter.ID+"/allow", e.t1, map[string]any{"scopes": []string{"demo.read"}}), http.StatusCreated))
		u := decode[userView](t, e.want(e.do("POST", "/users", e.t1, map[string]any{"username": "worker"}), http.StatusCreated))
		p := problemOf(t, e.do("PATCH", "/clients/"+pair.ClientID, e.t1, map[string]any{"connect_as_user_id": u.ID}), http.StatusBadRequest)
		if !strings.Contains(fmt.Sprint(p.Errors), "connect_as_user_id") {
			t.Fatalf("refusal %+v does not name connect_as_user_id", p)
		}
		if cl, err := e.app.Store().GetClient(t.Context(), pair.ClientID); err != nil || cl.ConnectAsUserID != nil {
			t.Fatalf("the pair after the refused change: %v %v", cl, err)
		}
	})
}
