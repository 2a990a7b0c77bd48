package admin

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A tenant's pair stays within what the app requests, however it is edited:
// PATCH /clients/{pair} may narrow its scopes and widen them back, but a
// scope the app never requested is 400 naming scopes, for the tenant's
// admin and for a super admin alike, and nothing is written.
func TestPairScopesStayWithinTheApp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newIntegrationsEnv(t, driver)
		base := "/integrations/" + e.reporter.ID
		pair := decode[pairView](t, e.want(e.do("POST", base+"/allow", e.t1, map[string]any{"scopes": []string{"demo.read"}}), http.StatusCreated))

		e.want(e.do("PATCH", "/clients/"+pair.ClientID, e.t1, map[string]any{"scopes": []string{"demo.read", "global"}}), http.StatusOK)
		e.want(e.do("PATCH", "/clients/"+pair.ClientID, e.t1, map[string]any{"scopes": []string{"global"}, "default_scopes": []string{"global"}}), http.StatusOK)
		for _, caller := range []string{e.t1, e.super} {
			for _, scopes := range [][]string{{"global", "user.only"}, {"user.only", "global"}, {"global", scope.Introspect}} {
				p := problemOf(t, e.do("PATCH", "/clients/"+pair.ClientID, caller, map[string]any{"scopes": scopes}), http.StatusBadRequest)
				if !slices.Equal(fields(p), []string{"scopes"}) {
					t.Errorf("scopes %v: errors %+v, want one naming scopes", scopes, p.Errors)
				}
			}
		}
		if got := decode[integrationView](t, e.do("GET", base, e.t1, nil)); !slices.Equal(got.GrantedScopes, []string{"global"}) {
			t.Fatalf("granted scopes after refused patches: %v", got.GrantedScopes)
		}
		// Other settings of the pair stay editable.
		e.want(e.do("PATCH", "/clients/"+pair.ClientID, e.t1, map[string]any{"name": "Reporter for t_1"}), http.StatusOK)
	})
}

// scopegate.introspect would let a developer's pair read every token of
// the tenant that allowed it, so no app may request it (400 naming scopes,
// like an admin scope), an app registered before with it is offered
// without it (not grantable; allowing everything leaves it out) and naming
// it in an allow is 400.
func TestAppsNeverGetIntrospection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newIntegrationsEnv(t, driver)
		p := problemOf(t, e.do("POST", "/apps", e.dev, map[string]any{
			"name": "Snoop", "scopes": []string{"demo.read", scope.Introspect}, "tenant_ids": []string{e.t1Tenant},
		}), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"scopes"}) {
			t.Fatalf("requesting %s: errors %+v", scope.Introspect, p.Errors)
		}
		problemOf(t, e.do("PATCH", "/apps/"+e.reporter.ID, e.dev, map[string]any{"scopes": []string{"demo.read", scope.Introspect}}), http.StatusBadRequest)

		older := &store.DeveloperApp{
			ID: store.NewID(), Name: "Older", DeveloperTenantID: "dev", OwnerID: e.devID,
			RequestedScopes: store.Strings{"demo.read", scope.Introspect}, TenantIDs: store.Strings{e.t1Tenant, e.t2Tenant},
			RedirectURIs: store.Strings{}, CreatedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC(),
		}
		if err := e.app.Store().CreateApp(context.Background(), older, store.Actor{Principal: "test"}); err != nil {
			t.Fatal(err)
		}
		view := decode[integrationView](t, e.do("GET", "/integrations/"+older.ID, e.t1, nil))
		for _, ref := range view.RequestedScopes {
			if ref.Grantable != (ref.Name != scope.Introspect) {
				t.Errorf("%s offered as grantable %v", ref.Name, ref.Grantable)
			}
		}
		pair := decode[pairView](t, e.want(e.do("POST", "/integrations/"+older.ID+"/allow", e.t1, nil), http.StatusCreated))
		if !slices.Equal(pair.Scopes, []string{"demo.read"}) {
			t.Fatalf("allowing everything granted %v", pair.Scopes)
		}
		p = problemOf(t, e.do("POST", "/integrations/"+older.ID+"/allow", e.t2, map[string]any{"scopes": []string{"demo.read", scope.Introspect}}), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"scopes"}) {
			t.Fatalf("naming %s in an allow: errors %+v", scope.Introspect, p.Errors)
		}
	})
}
