package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A client holding an admin scope may connect only as the user who created
// it and may neither take user_id nor act on behalf of users: a tenant
// admin cannot make a scopegate.tenant_admin client that connects as another
// admin of its tenant (and so act and be audited as that admin), nor one
// with allow_user_tokens or allow_impersonation; each is a 400 naming the
// field, on POST /clients, on POST /clients/ensure and on PATCH, including a
// PATCH that adds an admin scope to a client that already has such a
// setting. An admin user may make an admin-scoped client that connects as
// itself. Nothing refused is written.
func TestAdminScopedClientRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		e.tenant("acme")
		ta, _ := e.adminToken("acme", scope.TenantAdmin)
		boss := e.adminUser("acme", "boss")
		una := e.adminUser("acme", "una")
		bossTok, _ := e.userToken(boss, scope.TenantAdmin)

		refuse := func(name, tok, method, path string, body map[string]any, want ...string) {
			t.Helper()
			p := problemOf(t, e.do(method, path, tok, body), http.StatusBadRequest)
			got := fields(p)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("%s: fields %v, want %v (%+v)", name, got, want, p.Errors)
			}
			for _, fe := range p.Errors {
				if !strings.Contains(fe.Message, scope.TenantAdmin) {
					t.Errorf("%s: message %q does not say why (the admin scope)", name, fe.Message)
				}
			}
		}
		admin := []string{scope.TenantAdmin}
		refuse("connect as another admin", ta, "POST", "/clients",
			map[string]any{"name": "as-una", "scopes": admin, "connect_as_user_id": una.ID}, "connect_as_user_id")
		refuse("user tokens", ta, "POST", "/clients",
			map[string]any{"name": "any-user", "scopes": admin, "allow_user_tokens": true}, "allow_user_tokens")
		refuse("impersonation", ta, "POST", "/clients",
			map[string]any{"name": "on-behalf", "scopes": admin, "allow_impersonation": true}, "allow_impersonation")
		refuse("all three, through ensure", ta, "POST", "/clients/ensure",
			map[string]any{"name": "all", "scopes": admin, "connect_as_user_id": una.ID, "allow_user_tokens": true, "allow_impersonation": true},
			"connect_as_user_id", "allow_user_tokens", "allow_impersonation")
		refuse("an admin user connecting its client as another", bossTok, "POST", "/clients",
			map[string]any{"name": "boss-as-una", "scopes": admin, "connect_as_user_id": una.ID}, "connect_as_user_id")
		refuse("super admin client connecting as a user", e.super, "POST", "/clients",
			map[string]any{"name": "super-as-una", "tenant_id": "acme", "scopes": []string{scope.Admin}, "connect_as_user_id": una.ID}, "connect_as_user_id")
		for _, name := range []string{"as-una", "any-user", "on-behalf", "all", "boss-as-una", "super-as-una"} {
			if _, err := e.app.Store().FindClientByName(ctx, "acme", name); err == nil {
				t.Fatalf("refused client %q was stored", name)
			}
		}

		// An admin user's own key.
		own := e.create(bossTok, map[string]any{"name": "boss-key", "scopes": admin, "connect_as_user_id": boss.ID})
		if own.ConnectAsUserID == nil || *own.ConnectAsUserID != boss.ID || own.Owner != boss.ID {
			t.Fatalf("boss's own admin key: %+v", own)
		}
		refuse("patch impersonation on", bossTok, "PATCH", "/clients/"+own.ClientID, map[string]any{"allow_impersonation": true}, "allow_impersonation")
		refuse("patch connect-as away", bossTok, "PATCH", "/clients/"+own.ClientID, map[string]any{"connect_as_user_id": una.ID}, "connect_as_user_id")

		// Adding an admin scope to clients that already have such settings.
		tokens := e.create(ta, map[string]any{"name": "tokens", "scopes": []string{"demo.read"}, "allow_user_tokens": true})
		asUna := e.create(ta, map[string]any{"name": "una-key", "scopes": []string{"demo.read"}, "connect_as_user_id": una.ID})
		withAdmin := map[string]any{"scopes": []string{"demo.read", scope.TenantAdmin}}
		refuse("patch adding admin to allow_user_tokens", ta, "PATCH", "/clients/"+tokens.ClientID, withAdmin, "allow_user_tokens")
		refuse("patch adding admin to connect-as", ta, "PATCH", "/clients/"+asUna.ClientID, withAdmin, "connect_as_user_id")
		for _, id := range []string{tokens.ClientID, asUna.ClientID} {
			if c, _ := e.app.Store().GetClient(ctx, id); e.holdsAdmin(c) {
				t.Fatalf("a refused patch gave %s an admin scope", id)
			}
		}
		// Dropping the setting in the same patch is fine.
		e.want(e.do("PATCH", "/clients/"+tokens.ClientID, ta, map[string]any{
			"scopes": []string{"demo.read", scope.TenantAdmin}, "allow_user_tokens": false,
		}), http.StatusOK)
	})
}

// holdsAdmin reports whether a stored client holds an admin scope.
func (e *env) holdsAdmin(c *store.Client) bool { return e.h.holdsAdminScope(c.AllowedScopes) }

// Clients stored before the admin-client rules existed cannot use them: a
// user-bound token of a tenant_admin client that connects as another admin
// (made by a tenant admin, the attack the rules close) is refused with 403
// and cannot read the secret of a client that admin owns; so is one of an
// admin-scoped client that takes user_id, even for its own creator. The
// admin's own clients keep working.
func TestLegacyAdminClientsCarryNoUserAuthority(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		e.tenant("acme")
		_, taID := e.adminToken("acme", scope.TenantAdmin)
		una := e.adminUser("acme", "una")
		unaTok, _ := e.userToken(una, scope.TenantAdmin)
		unas := e.create(unaTok, map[string]any{"name": "una-secret", "scopes": []string{"demo.read"}})

		legacy := func(name, owner string, connectAs *string, userTokens bool) string {
			t.Helper()
			id := app.NewClientID()
			_, digest, ct, err := e.app.NewSecret(id)
			if err != nil {
				t.Fatal(err)
			}
			c := &store.Client{
				ID: id, TenantID: "acme", Name: name, AuthMethod: store.AuthAPIKey, ConnectAsUserID: connectAs, AllowUserTokens: userTokens,
				AllowedScopes: store.Strings{scope.TenantAdmin}, DefaultScopes: store.Strings{scope.TenantAdmin},
				OwnerID: owner, SecretDigest: digest, SecretCiphertext: ct,
			}
			if err := e.app.Store().CreateClient(ctx, c, store.Actor{Principal: "test"}); err != nil {
				t.Fatal(err)
			}
			return id
		}
		rogue := legacy("as-una", taID, &una.ID, false)
		anyUser := legacy("any-user", una.ID, nil, true)
		for name, tok := range map[string]string{
			"connects as another admin": e.sign(rogue, "acme", una.ID, scope.TenantAdmin),
			"takes user_id":             e.sign(anyUser, "acme", una.ID, scope.TenantAdmin),
		} {
			w := e.do("GET", "/clients/"+unas.ClientID+"/secret", tok, nil)
			if w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), unas.ClientSecret) {
				t.Fatalf("%s: status %d, body %s; want 403 without the secret", name, w.Code, w.Body.String())
			}
			if ch := w.Header().Get("WWW-Authenticate"); !strings.Contains(ch, "carry no admin power") {
				t.Fatalf("%s: WWW-Authenticate = %q", name, ch)
			}
		}
		if s := decode[secretView](t, e.want(e.do("GET", "/clients/"+unas.ClientID+"/secret", unaTok, nil), http.StatusOK)); s.ClientSecret != unas.ClientSecret {
			t.Fatal("una's own token no longer reads una's secret")
		}
	})
}
