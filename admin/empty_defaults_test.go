package admin

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// An empty default_scopes list, stored, stands for all the client's scopes
// (the issuer reads it so), those added later too. So [] sent to the API is
// written out as the client's scopes of the moment, on create and on PATCH,
// and a client stored with an empty list (an older release, an app
// narrowing) keeps, when its scopes change without naming defaults, the
// scopes it held as its defaults: a scope added does not reach a token
// request naming none.
func TestEmptyDefaultScopesNeverStandForAddedScopes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		defaults := func(id string) []string {
			t.Helper()
			return decode[clientView](t, e.want(e.do("GET", "/clients/"+id, e.super, nil), http.StatusOK)).DefaultScopes
		}
		made := e.create(e.super, map[string]any{"name": "df", "scopes": []string{"demo.read"}, "default_scopes": []string{}})
		if !slices.Equal(made.DefaultScopes, []string{"demo.read"}) {
			t.Errorf("created with default_scopes []: defaults %v, want [demo.read]", made.DefaultScopes)
		}
		e.want(e.do("PATCH", "/clients/"+made.ClientID, e.super, map[string]any{"scopes": []string{"demo.read", "demo.write"}}), http.StatusOK)
		if got := defaults(made.ClientID); !slices.Equal(got, []string{"demo.read"}) {
			t.Errorf("demo.write added: defaults %v, want [demo.read]", got)
		}
		e.want(e.do("PATCH", "/clients/"+made.ClientID, e.super, map[string]any{"default_scopes": []string{}}), http.StatusOK)
		if got := defaults(made.ClientID); !slices.Equal(got, []string{"demo.read", "demo.write"}) {
			t.Errorf("PATCH default_scopes []: defaults %v, want [demo.read demo.write]", got)
		}

		older := e.storeClient(&store.Client{Name: "older", TenantID: store.DefaultTenantID, AuthMethod: store.AuthAPIKey,
			AllowedScopes: store.Strings{"demo.read"}, DefaultScopes: store.Strings{}})
		e.want(e.do("PATCH", "/clients/"+older.ID, e.super, map[string]any{"scopes": []string{"demo.read", "demo.write"}}), http.StatusOK)
		if got := defaults(older.ID); !slices.Equal(got, []string{"demo.read"}) {
			t.Errorf("a client stored with no defaults, demo.write added: defaults %v, want [demo.read] (what it held)", got)
		}
		// Its scopes replaced by others, it has no default left, and the
		// refusal says why, though its view showed none before.
		oldest := e.storeClient(&store.Client{Name: "oldest", TenantID: store.DefaultTenantID, AuthMethod: store.AuthAPIKey,
			AllowedScopes: store.Strings{"demo.read"}, DefaultScopes: store.Strings{}})
		p := problemOf(t, e.do("PATCH", "/clients/"+oldest.ID, e.super, map[string]any{"scopes": []string{"global"}}), http.StatusBadRequest)
		if len(p.Errors) != 1 || p.Errors[0].Field != "default_scopes" || !strings.Contains(p.Errors[0].Message, "were empty, standing for all its scopes (demo.read)") {
			t.Errorf("scopes replaced on a client stored with no defaults: %+v", p.Errors)
		}
	})
}

// An app narrowing may leave a tenant's pair with no scope. The pair stays
// editable (renamed: 200), and widened again by the tenant's admin without
// naming defaults it gets the scopes given as its defaults, as a client
// created with them (not an empty list, which would let every scope added
// later reach a bare token request).
func TestEmptiedPairStaysEditable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newIntegrationsEnv(t, driver)
		pair := decode[pairView](t, e.want(e.do("POST", "/integrations/"+e.reporter.ID+"/allow", e.t1,
			map[string]any{"scopes": []string{"demo.read"}}), http.StatusCreated))
		e.want(e.do("PATCH", "/apps/"+e.reporter.ID, e.dev, map[string]any{"scopes": []string{"global"}}), http.StatusOK)
		view := func() clientView {
			t.Helper()
			return decode[clientView](t, e.want(e.do("GET", "/clients/"+pair.ClientID, e.t1, nil), http.StatusOK))
		}
		if v := view(); len(v.Scopes) != 0 {
			t.Fatalf("after the app dropped demo.read the pair holds %v, want none", v.Scopes)
		}
		e.want(e.do("PATCH", "/clients/"+pair.ClientID, e.t1, map[string]any{"name": "Reporter, paused"}), http.StatusOK)
		e.want(e.do("PATCH", "/clients/"+pair.ClientID, e.t1, map[string]any{"scopes": []string{"global"}}), http.StatusOK)
		e.want(e.do("PATCH", "/apps/"+e.reporter.ID, e.dev, map[string]any{"scopes": []string{"global", "demo.read"}}), http.StatusOK)
		e.want(e.do("PATCH", "/clients/"+pair.ClientID, e.t1, map[string]any{"scopes": []string{"global", "demo.read"}}), http.StatusOK)
		if v := view(); !slices.Equal(v.DefaultScopes, []string{"global"}) || v.Name != "Reporter, paused" {
			t.Errorf("pair after widening: name %q defaults %v, want %q and [global]", v.Name, v.DefaultScopes, "Reporter, paused")
		}
	})
}

// A tenant's pair of an app is that tenant's answer to the app: a super
// admin moving it to another tenant is 409 and nothing changes, so the
// tenant can still decline (or disable) the app.
func TestAppPairStaysInItsTenant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newIntegrationsEnv(t, driver)
		base := "/integrations/" + e.reporter.ID
		pair := decode[pairView](t, e.want(e.do("POST", base+"/allow", e.t2, map[string]any{"scopes": []string{"demo.read"}}), http.StatusCreated))
		problemOf(t, e.do("PATCH", "/clients/"+pair.ClientID, e.super, map[string]any{"tenant_id": e.t1Tenant}), http.StatusConflict)
		if got := decode[clientView](t, e.want(e.do("GET", "/clients/"+pair.ClientID, e.super, nil), http.StatusOK)).TenantID; got != e.t2Tenant {
			t.Fatalf("the refused move left the pair in %q", got)
		}
		// Naming its own tenant is no move.
		e.want(e.do("PATCH", "/clients/"+pair.ClientID, e.super, map[string]any{"tenant_id": e.t2Tenant}), http.StatusOK)
		e.want(e.do("POST", base+"/disable", e.t2, nil), http.StatusOK)
	})
}
