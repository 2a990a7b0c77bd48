package admin

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// With require_connect_as on (Bigtincan: every API key "connects as" a
// user), an api_key client an admin user creates without naming anyone
// connects as that admin; naming another user of the tenant is fine; naming
// nobody ("") is a 400 naming connect_as_user_id, and so is a key made with
// a client's token that names no one. Clients holding an admin scope and
// user-auth clients connect as nobody as before, but an admin scope beside
// an API scope exempts nothing, and a tool given an API scope needs a user.
// A PATCH cannot take the user away, nor turn a user-auth client into an API
// key without one; a key stored before the option was turned on can still be
// renamed and narrowed, not widened. A super admin's token holding only
// tenant_admin gets the 400, not a 403. With the option off a client's token
// still makes a key with no user, and a PATCH sending back the null its view
// shows for "no user" clears the user as "" does (other members sent as null
// are kept).
func TestRequireConnectAsAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ada := e.adminUser(store.DefaultTenantID, "ada")
		bob := e.user(store.DefaultTenantID, "bob")
		adaTok, _ := e.userToken(ada, scope.TenantAdmin)
		read := []string{"demo.read"}
		legacy := e.create(e.super, map[string]any{"name": "legacy", "scopes": []string{"demo.read", "demo.write"}})
		if legacy.ConnectAsUserID != nil {
			t.Fatalf("with the option off the key connects as %v", *legacy.ConnectAsUserID)
		}
		user := e.create(e.super, map[string]any{"name": "web", "scopes": read, "auth_method": "user"})
		cleared := e.create(e.super, map[string]any{"name": "cleared", "scopes": read, "connect_as_user_id": bob.ID})
		e.want(e.do("PATCH", "/clients/"+cleared.ClientID, e.super, map[string]any{"connect_as_user_id": nil, "name": nil}), http.StatusOK)
		if c, _ := e.app.Store().GetClient(context.Background(), cleared.ClientID); c.ConnectAsUserID != nil || c.Name != "cleared" {
			t.Fatalf("after a PATCH of connect_as_user_id and name null: connects as %v, named %q; want no one, cleared", c.ConnectAsUserID, c.Name)
		}

		e.h.RequireConnectAs = true
		refused := func(what, method, path, tok string, body map[string]any) {
			t.Helper()
			p := problemOf(t, e.do(method, path, tok, body), http.StatusBadRequest)
			if !slices.Equal(fields(p), []string{"connect_as_user_id"}) || !strings.Contains(p.Errors[0].Message, "require_connect_as") {
				t.Fatalf("%s: %+v, want connect_as_user_id required", what, p.Errors)
			}
		}

		mine := e.create(adaTok, map[string]any{"name": "mine", "scopes": read})
		if mine.ConnectAsUserID == nil || *mine.ConnectAsUserID != ada.ID {
			t.Fatalf("ada's key naming no one: %+v, want it to connect as ada", mine)
		}
		forBob := e.create(adaTok, map[string]any{"name": "for-bob", "scopes": read, "connect_as_user_id": bob.ID})
		if forBob.ConnectAsUserID == nil || *forBob.ConnectAsUserID != bob.ID {
			t.Fatalf("ada's key naming bob: %+v", forBob)
		}
		refused("ada naming nobody", "POST", "/clients", adaTok, map[string]any{"name": "x", "scopes": read, "connect_as_user_id": ""})
		refused("a client's token naming no one", "POST", "/clients", e.super, map[string]any{"name": "x", "scopes": read})
		if c := e.create(e.super, map[string]any{"name": "by-client-bob", "scopes": read, "connect_as_user_id": bob.ID}); c.ConnectAsUserID == nil || *c.ConnectAsUserID != bob.ID {
			t.Fatalf("a client's token naming bob: %+v", c)
		}
		if c := e.create(e.super, map[string]any{"name": "tool", "scopes": []string{scope.TenantAdmin}}); c.ConnectAsUserID != nil {
			t.Fatalf("an admin tool made by a client connects as %v", *c.ConnectAsUserID)
		}
		if c := e.create(adaTok, map[string]any{"name": "browser", "scopes": read, "auth_method": "user"}); c.ConnectAsUserID != nil {
			t.Fatalf("a user-auth client connects as %v", *c.ConnectAsUserID)
		}

		refused("taking bob away", "PATCH", "/clients/"+forBob.ClientID, e.super, map[string]any{"connect_as_user_id": ""})
		refused("taking bob away with null", "PATCH", "/clients/"+forBob.ClientID, e.super, map[string]any{"connect_as_user_id": nil})
		refused("a user client becoming a key", "PATCH", "/clients/"+user.ClientID, e.super, map[string]any{"auth_method": "api_key"})
		e.want(e.do("PATCH", "/clients/"+user.ClientID, e.super, map[string]any{"auth_method": "api_key", "connect_as_user_id": bob.ID}), http.StatusOK)
		e.want(e.do("PATCH", "/clients/"+legacy.ClientID, e.super, map[string]any{"name": "legacy-v2"}), http.StatusOK)
		e.want(e.do("PATCH", "/clients/"+legacy.ClientID, e.super, map[string]any{"scopes": read, "default_scopes": read, "auth_method": "api_key"}), http.StatusOK)
		refused("widening a stored key with no user", "PATCH", "/clients/"+legacy.ClientID, e.super, map[string]any{"scopes": []string{"demo.read", "demo.write"}})

		// An admin scope beside an API scope exempts nothing: the key
		// still calls the API, so it needs a user.
		refused("an API key holding an admin scope too", "POST", "/clients", e.super, map[string]any{"name": "x", "scopes": []string{"demo.read", scope.TenantAdmin}})
		refused("ada's key holding an admin scope, naming nobody", "POST", "/clients", adaTok, map[string]any{"name": "x", "scopes": []string{"demo.read", scope.TenantAdmin}, "connect_as_user_id": ""})
		tool := e.create(e.super, map[string]any{"name": "tool2", "scopes": []string{scope.TenantAdmin}})
		refused("a tool given an API scope", "PATCH", "/clients/"+tool.ClientID, e.super, map[string]any{"scopes": []string{scope.TenantAdmin, "demo.read"}})

		// A super admin's token holding only tenant_admin cannot speak for
		// its user: the key names one (a 400, not a 403 about super admins).
		root := e.superUser("root")
		narrow, _ := e.userToken(root, scope.TenantAdmin)
		refused("a super admin's narrower token naming no one", "POST", "/clients", narrow, map[string]any{"name": "x", "scopes": read})
		if c, _ := e.app.Store().GetClient(context.Background(), forBob.ClientID); c.ConnectAsUserID == nil || *c.ConnectAsUserID != bob.ID {
			t.Fatalf("after the refused patch the key connects as %v", c.ConnectAsUserID)
		}
	})
}

// In the console, with require_connect_as on, the Add application form's
// connect-as choice offers no "nobody" and preselects the signed-in admin,
// and the key it creates connects as that admin; with the option off the
// choice offers nobody and preselects it.
func TestRequireConnectAsConsole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		root := e.superUser("root")
		e.user(store.DefaultTenantID, "bob")
		b := e.browser()
		b.signIn("", "root")
		body := b.page(b.get("/console/apps/new"), http.StatusOK, `<option value="">`)
		if strings.Contains(body, `value="`+root.ID+`" selected`) {
			t.Fatal("with the option off the signed-in admin is preselected")
		}

		e.h.RequireConnectAs = true
		body = b.page(b.get("/console/apps/new"), http.StatusOK, `<select id="connect_as_user_id"`, `value="`+root.ID+`" selected`)
		if strings.Contains(body, `<option value="">`) {
			t.Fatal("the connect-as choice still offers nobody")
		}
		body = b.page(b.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"Importer"}, "scopes": {"demo.read"}, "connect_as_user_id": {""}}),
			http.StatusCreated, "Copy the secret now")
		id := regexp.MustCompile(`id="client_id" value="([^"]+)"`).FindStringSubmatch(body)[1]
		cl, err := e.app.Store().GetClient(context.Background(), id)
		if err != nil || cl.ConnectAsUserID == nil || *cl.ConnectAsUserID != root.ID {
			t.Fatalf("the console's key %+v (%v), want it to connect as root", cl, err)
		}
	})
}
