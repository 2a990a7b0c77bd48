package admin

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A user-bound (3-legged) admin token has no more power than its user, as
// a console session: a token of a user who is not an admin is refused with
// 403 insufficient_scope whatever its scopes (and creates nothing); an admin
// of acme holding scopegate.admin is a tenant admin of acme only; an admin of
// the default tenant is a super admin with scopegate.admin and a tenant admin
// of the default tenant with scopegate.tenant_admin; a token naming a user of
// another tenant than its own is refused; and taking the admin flag away
// refuses the user's token on its next request. 2-legged tokens keep the
// power of their client's scopes.
func TestUserBoundTokenAuthority(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		e.tenant("acme")
		e.tenant("globex")
		root := e.superUser("root")
		plain := e.user(store.DefaultTenantID, "plain")
		boss := e.adminUser("acme", "boss")

		refused := func(name, tok string) {
			t.Helper()
			w := e.do("POST", "/clients", tok, map[string]any{"name": "by-" + name, "scopes": []string{"demo.read"}})
			if w.Code != http.StatusForbidden {
				t.Fatalf("%s: status = %d, want 403; body %s", name, w.Code, w.Body.String())
			}
			if ch := w.Header().Get("WWW-Authenticate"); !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, "not an active admin") {
				t.Fatalf("%s: WWW-Authenticate = %q", name, ch)
			}
			if _, err := e.app.Store().FindClientByName(ctx, store.DefaultTenantID, "by-"+name); err == nil {
				t.Fatalf("%s: a refused token created a client", name)
			}
		}
		plainSuper, _ := e.userToken(plain, scope.Admin)
		refused("plain-super", plainSuper)
		plainTenant, _ := e.userToken(plain, scope.TenantAdmin)
		refused("plain-tenant", plainTenant)

		// boss is an admin of acme: scopegate.admin gives acme only.
		bossSuper, _ := e.userToken(boss, scope.Admin)
		e.want(e.do("GET", "/clients?tenant_id=acme", bossSuper, nil), http.StatusOK)
		problemOf(t, e.do("GET", "/clients?tenant_id=globex", bossSuper, nil), http.StatusForbidden)
		problemOf(t, e.do("POST", "/tenants", bossSuper, map[string]any{"name": "mine"}), http.StatusForbidden)
		if l := decode[list[tenantView]](t, e.want(e.do("GET", "/tenants", bossSuper, nil), http.StatusOK)); l.Total != 1 || l.Items[0].ID != "acme" {
			t.Fatalf("acme's admin with scopegate.admin lists tenants %+v", l.Items)
		}
		made := e.create(bossSuper, map[string]any{"name": "boss-made", "scopes": []string{"demo.read"}})
		if made.TenantID != "acme" || made.Owner != boss.ID {
			t.Fatalf("acme's admin created %+v, want a client of acme owned by boss", made)
		}

		// root is an admin of the default tenant: super with scopegate.admin …
		rootSuper, _ := e.userToken(root, scope.Admin)
		e.want(e.do("GET", "/clients?tenant_id=globex", rootSuper, nil), http.StatusOK)
		e.want(e.do("POST", "/tenants", rootSuper, map[string]any{"name": "initech"}), http.StatusCreated)
		// … and confined to the default tenant with scopegate.tenant_admin.
		rootTenant, _ := e.userToken(root, scope.TenantAdmin)
		problemOf(t, e.do("GET", "/clients?tenant_id=acme", rootTenant, nil), http.StatusForbidden)

		// A token of an acme client naming root (a user of another tenant).
		_, acmeClient := e.adminToken("acme", scope.Admin)
		refused("cross-tenant", e.sign(acmeClient, "acme", root.ID, scope.Admin))

		// Demoted: the very next request is refused.
		e.want(e.do("PATCH", "/users/"+boss.ID, e.super, map[string]any{"admin": false}), http.StatusOK)
		refused("demoted", bossSuper)

		// 2-legged tokens are unchanged: the client's scopes decide.
		e.want(e.do("GET", "/clients?tenant_id=globex", e.super, nil), http.StatusOK)
	})
}
