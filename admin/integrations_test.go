package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// integrationsEnv is a developer tenant "dev" with an app offered to "t_1"
// (an id with a LIKE wildcard in it) and "t2", a third tenant "t3" it is
// not offered to, and a tenant admin token for each.
type integrationsEnv struct {
	*env
	reporter                     appView
	dev, t1, t2, t3              string // tenant admin tokens
	devID, t1ID, t2ID, t3ID      string // their client ids
	requested                    []string
	t1Tenant, t2Tenant, t3Tenant string
}

func newIntegrationsEnv(t *testing.T, driver string) *integrationsEnv {
	e := &integrationsEnv{env: newEnv(t, driver), t1Tenant: "t_1", t2Tenant: "t2", t3Tenant: "t3"}
	for _, id := range []string{"dev", e.t1Tenant, e.t2Tenant, e.t3Tenant} {
		e.tenant(id)
	}
	e.dev, e.devID = e.adminToken("dev", scope.TenantAdmin)
	e.t1, e.t1ID = e.adminToken(e.t1Tenant, scope.TenantAdmin)
	e.t2, e.t2ID = e.adminToken(e.t2Tenant, scope.TenantAdmin)
	e.t3, e.t3ID = e.adminToken(e.t3Tenant, scope.TenantAdmin)
	e.requested = []string{"demo.read", "demo.write", "global"}
	e.reporter = e.newApp("Reporter", e.requested, e.t1Tenant, e.t2Tenant)
	return e
}

// newApp registers an app of dev offered to tenants.
func (e *integrationsEnv) newApp(name string, scopes []string, tenants ...string) appView {
	e.t.Helper()
	return decode[appView](e.t, e.want(e.do("POST", "/apps", e.dev, map[string]any{
		"name": name, "description": name + " does things", "scopes": scopes, "tenant_ids": tenants,
		"redirect_uris": []string{"https://reporter.example/cb"},
	}), http.StatusCreated))
}

// The documented flow: a tenant admin lists the apps offered to its tenant
// (with what each requested scope means), allows one with a subset of its
// scopes and gets a tenant-specific pair (shown once, stored as an api_key
// client of that tenant linked to the app, owned by the admin, with the
// app's redirect URIs); a second tenant allowing gets a second, different
// pair; a tenant the app is not offered to sees nothing; allowing twice and
// declining an allowed app are 409; disabling pauses the pair (tokens and
// the secret refused at once) and restoring brings back the same
// credentials; every step is audited in the tenant.
func TestIntegrationFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newIntegrationsEnv(t, driver)
		ctx := context.Background()
		base := "/integrations/" + e.reporter.ID

		listed := decode[list[integrationView]](t, e.want(e.do("GET", "/integrations", e.t1, nil), http.StatusOK))
		if listed.Total != 1 || len(listed.Items) != 1 {
			t.Fatalf("t_1's integrations: %+v", listed)
		}
		in := listed.Items[0]
		wantScopes := []scopeRef{{"demo.read", "Read demo data", true}, {"demo.write", "Change demo data", true}, {"global", "Tenant-wide", true}}
		if in.AppID != e.reporter.ID || in.Name != "Reporter" || in.Description != "Reporter does things" || in.TenantID != e.t1Tenant ||
			in.DeveloperTenantID != "dev" || !slices.Equal(in.RequestedScopes, wantScopes) || in.Status != integrationNew ||
			in.ClientID != "" || in.GrantedScopes == nil || len(in.GrantedScopes) != 0 {
			t.Fatalf("offered integration: %+v", in)
		}
		if none := decode[list[integrationView]](t, e.want(e.do("GET", "/integrations", e.t3, nil), http.StatusOK)); none.Total != 0 || len(none.Items) != 0 {
			t.Fatalf("t3 is offered %+v", none)
		}
		problemOf(t, e.do("GET", base, e.t3, nil), http.StatusNotFound)
		problemOf(t, e.do("POST", base+"/allow", e.t3, nil), http.StatusNotFound)

		pair1 := decode[pairView](t, e.want(e.do("POST", base+"/allow", e.t1, map[string]any{
			"scopes": []string{"demo.read", "global", "demo.read"},
		}), http.StatusCreated))
		if pair1.ClientID == "" || pair1.ClientSecret == "" || pair1.ClientSecret == masked || pair1.TenantID != e.t1Tenant ||
			pair1.AppID != e.reporter.ID || !slices.Equal(pair1.Scopes, []string{"demo.read", "global"}) {
			t.Fatalf("t_1's pair: %+v", pair1)
		}
		cl, err := e.app.Store().GetClient(ctx, pair1.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		if cl.TenantID != e.t1Tenant || cl.Name != "Reporter" || cl.AuthMethod != store.AuthAPIKey || cl.AppID == nil ||
			*cl.AppID != e.reporter.ID || cl.OwnerID != e.t1ID || !slices.Equal(cl.AllowedScopes, cl.DefaultScopes) ||
			!slices.Equal(cl.RedirectURIs, []string{"https://reporter.example/cb"}) || cl.Disabled {
			t.Fatalf("stored pair: %+v", cl)
		}
		if _, err := e.app.AuthenticateClient(ctx, pair1.ClientID, pair1.ClientSecret); err != nil {
			t.Fatalf("the pair's secret does not authenticate: %v", err)
		}
		got := decode[integrationView](t, e.want(e.do("GET", base, e.t1, nil), http.StatusOK))
		if got.Status != integrationAllowed || got.ClientID != pair1.ClientID || !slices.Equal(got.GrantedScopes, pair1.Scopes) ||
			got.DecidedBy != e.t1ID || got.DecidedAt == nil {
			t.Fatalf("allowed integration: %+v", got)
		}
		// Afterwards the normal secret rules: the allowing admin reads it, a
		// masked view everywhere else.
		if s := decode[secretView](t, e.want(e.do("GET", "/clients/"+pair1.ClientID+"/secret", e.t1, nil), http.StatusOK)); s.ClientSecret != pair1.ClientSecret {
			t.Fatalf("the allowing admin cannot read the pair's secret: %+v", s)
		}
		if v := decode[clientView](t, e.want(e.do("GET", "/clients/"+pair1.ClientID, e.t1, nil), http.StatusOK)); v.ClientSecret != masked {
			t.Fatalf("client view shows the secret: %+v", v)
		}

		problemOf(t, e.do("POST", base+"/allow", e.t1, nil), http.StatusConflict)
		problemOf(t, e.do("POST", base+"/decline", e.t1, nil), http.StatusConflict)

		for name, tc := range map[string]struct {
			scopes []string
			want   []string
		}{
			"not requested": {[]string{"demo.read", "user.only"}, []string{"scopes"}},
			"unknown":       {[]string{"nope"}, []string{"scopes"}},
			"empty":         {[]string{}, []string{"scopes"}},
		} {
			p := problemOf(t, e.do("POST", base+"/allow", e.t2, map[string]any{"scopes": tc.scopes}), http.StatusBadRequest)
			if got := fields(p); !slices.Equal(got, tc.want) {
				t.Errorf("%s: fields %v, want %v", name, got, tc.want)
			}
		}
		pair2 := decode[pairView](t, e.want(e.do("POST", base+"/allow", e.t2, nil), http.StatusCreated))
		if pair2.ClientID == pair1.ClientID || pair2.ClientSecret == pair1.ClientSecret || pair2.TenantID != e.t2Tenant ||
			!slices.Equal(pair2.Scopes, e.requested) {
			t.Fatalf("t2's pair: %+v (t_1's: %+v)", pair2, pair1)
		}
		if _, n, _ := e.app.Store().ListClients(ctx, store.ClientFilter{AppID: e.reporter.ID}); n != 2 {
			t.Fatalf("%d pairs for two allowing tenants", n)
		}

		tok := e.sign(pair1.ClientID, e.t1Tenant, "", "demo.read")
		if _, err := e.app.Verify(ctx, tok); err != nil {
			t.Fatalf("token of the allowed pair: %v", err)
		}
		problemOf(t, e.do("POST", "/integrations/"+e.newApp("Undecided", []string{"demo.read"}, e.t1Tenant).ID+"/disable", e.t1, nil), http.StatusConflict)
		disabled := decode[integrationView](t, e.want(e.do("POST", base+"/disable", e.t1, nil), http.StatusOK))
		if disabled.Status != integrationDisabled || disabled.ClientID != pair1.ClientID {
			t.Fatalf("disable answered %+v", disabled)
		}
		if _, err := e.app.Verify(ctx, tok); !errors.Is(err, app.ErrClientDisabled) {
			t.Fatalf("token of the disabled pair: err = %v, want ErrClientDisabled", err)
		}
		if _, err := e.app.AuthenticateClient(ctx, pair1.ClientID, pair1.ClientSecret); !errors.Is(err, app.ErrClientDisabled) {
			t.Fatalf("secret of the disabled pair: err = %v, want ErrClientDisabled", err)
		}
		if v := decode[clientView](t, e.do("GET", "/clients/"+pair1.ClientID, e.t1, nil)); v.Status != "disabled" {
			t.Fatalf("the pair's client is %q", v.Status)
		}
		restored := decode[integrationView](t, e.want(e.do("POST", base+"/restore", e.t1, nil), http.StatusOK))
		if restored.Status != integrationAllowed || restored.ClientID != pair1.ClientID {
			t.Fatalf("restore answered %+v", restored)
		}
		if _, err := e.app.AuthenticateClient(ctx, pair1.ClientID, pair1.ClientSecret); err != nil {
			t.Fatalf("the same secret after restore: %v", err)
		}
		if _, err := e.app.Verify(ctx, tok); err != nil {
			t.Fatalf("token after restore: %v", err)
		}

		var actions []string
		entries, _, _ := e.app.Store().ListAudit(ctx, e.t1Tenant, store.Page{Limit: 100})
		for _, a := range entries {
			if a.Actor == e.t1ID && (a.Target == e.reporter.ID || a.Target == pair1.ClientID) {
				actions = append(actions, a.Action)
			}
		}
		want := []string{"client.restore", "client.disable", "client.secret.reveal", "integration.allow"}
		if !slices.Equal(actions, want) {
			t.Fatalf("t_1's audit trail = %v, want %v", actions, want)
		}
	})
}

// Declining is recorded (and repeating it changes nothing); a declined app
// can still be allowed later; a tenant client already bearing the app's name
// makes allowing 409 with a detail naming it, and leaves nothing behind;
// an app that stops offering itself to a tenant is gone for a tenant that
// never decided and stays visible, with its pair, for one that allowed it.
func TestIntegrationDeclineAndConflicts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newIntegrationsEnv(t, driver)
		ctx := context.Background()
		base := "/integrations/" + e.reporter.ID

		declined := decode[integrationView](t, e.want(e.do("POST", base+"/decline", e.t1, nil), http.StatusOK))
		if declined.Status != integrationDeclined || declined.ClientID != "" || declined.DecidedBy != e.t1ID {
			t.Fatalf("decline answered %+v", declined)
		}
		e.want(e.do("POST", base+"/decline", e.t1, nil), http.StatusOK)
		if got := decode[integrationView](t, e.do("GET", base, e.t1, nil)); got.Status != integrationDeclined {
			t.Fatalf("after decline: %+v", got)
		}
		if got := decode[integrationView](t, e.do("GET", base, e.t2, nil)); got.Status != integrationNew {
			t.Fatalf("t_1's decline shows in t2: %+v", got)
		}
		problemOf(t, e.do("POST", base+"/restore", e.t1, nil), http.StatusConflict)
		pair := decode[pairView](t, e.want(e.do("POST", base+"/allow", e.t1, map[string]any{"scopes": []string{"demo.read"}}), http.StatusCreated))
		if got := decode[integrationView](t, e.do("GET", base, e.t1, nil)); got.Status != integrationAllowed || got.ClientID != pair.ClientID {
			t.Fatalf("allowed after a decline: %+v", got)
		}
		entries, _, _ := e.app.Store().ListAudit(ctx, e.t1Tenant, store.Page{Limit: 100})
		if len(entries) < 2 || entries[0].Action != "integration.allow" || entries[1].Action != "integration.decline" {
			t.Fatalf("audit: %+v", entries)
		}

		e.want(e.do("POST", "/clients", e.t2, map[string]any{"name": "Reporter", "scopes": []string{"demo.read"}}), http.StatusCreated)
		p := problemOf(t, e.do("POST", base+"/allow", e.t2, nil), http.StatusConflict)
		if p.Detail != `tenant "t2" already has a client named "Reporter": rename or delete that client, then allow the app again` {
			t.Fatalf("name clash detail: %q", p.Detail)
		}
		if got := decode[integrationView](t, e.do("GET", base, e.t2, nil)); got.Status != integrationNew {
			t.Fatalf("a refused allow was recorded: %+v", got)
		}
		if _, n, _ := e.app.Store().ListClients(ctx, store.ClientFilter{AppID: e.reporter.ID}); n != 1 {
			t.Fatalf("a refused allow left a pair: %d pairs", n)
		}

		// The developer narrows the app to t2: t_1 allowed, so it keeps seeing
		// it with its pair; the app is offered to t2 still.
		e.want(e.do("PATCH", "/apps/"+e.reporter.ID, e.dev, map[string]any{"tenant_ids": []string{e.t2Tenant}}), http.StatusOK)
		if got := decode[integrationView](t, e.want(e.do("GET", base, e.t1, nil), http.StatusOK)); got.Status != integrationAllowed || got.ClientID != pair.ClientID {
			t.Fatalf("t_1's pair after the app stopped offering itself: %+v", got)
		}
		if l := decode[list[integrationView]](t, e.do("GET", "/integrations", e.t1, nil)); l.Total != 1 || l.Items[0].ClientID != pair.ClientID {
			t.Fatalf("t_1's list: %+v", l)
		}
		// Deleting the pair frees t_1: nothing left to show, nothing to allow.
		e.want(e.do("DELETE", "/clients/"+pair.ClientID, e.t1, nil), http.StatusNoContent)
		problemOf(t, e.do("GET", base, e.t1, nil), http.StatusNotFound)
		problemOf(t, e.do("POST", base+"/allow", e.t1, nil), http.StatusNotFound)

		// An app withdrawn from a tenant that declined: still shown as
		// declined, and allowing it is refused.
		app2 := e.newApp("Withdrawn", []string{"demo.read"}, e.t3Tenant)
		e.want(e.do("POST", "/integrations/"+app2.ID+"/decline", e.t3, nil), http.StatusOK)
		e.want(e.do("PATCH", "/apps/"+app2.ID, e.dev, map[string]any{"tenant_ids": []string{e.t2Tenant}}), http.StatusOK)
		if got := decode[integrationView](t, e.want(e.do("GET", "/integrations/"+app2.ID, e.t3, nil), http.StatusOK)); got.Status != integrationDeclined {
			t.Fatalf("withdrawn, declined: %+v", got)
		}
		problemOf(t, e.do("POST", "/integrations/"+app2.ID+"/allow", e.t3, nil), http.StatusConflict)
	})
}

// A tenant admin acts on its own tenant only: naming another tenant is 403;
// apps not offered to it are 404 for every route; another tenant's pair
// cannot be reached through /integrations nor /clients. A super admin picks
// the tenant with ?tenant_id= (an unknown one is 400 naming it), sees any
// tenant's integrations and allows and disables on its behalf (the tenant's
// admin cannot restore that); only a super admin may allow an app
// requesting scopegate.admin.
func TestIntegrationIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newIntegrationsEnv(t, driver)
		ctx := context.Background()
		base := "/integrations/" + e.reporter.ID
		only2 := e.newApp("Only t2", []string{"demo.read"}, e.t2Tenant)
		pair2 := decode[pairView](t, e.want(e.do("POST", "/integrations/"+only2.ID+"/allow", e.t2, nil), http.StatusCreated))

		for _, req := range []struct{ method, path string }{
			{"GET", "/integrations?tenant_id=t2"},
			{"GET", base + "?tenant_id=t2"},
			{"POST", base + "/allow?tenant_id=t2"},
			{"POST", base + "/decline?tenant_id=t2"},
			{"POST", "/integrations/" + only2.ID + "/disable?tenant_id=t2"},
			{"POST", "/integrations/" + only2.ID + "/restore?tenant_id=t2"},
		} {
			problemOf(t, e.do(req.method, req.path, e.t1, nil), http.StatusForbidden)
		}
		for _, req := range []struct{ method, path string }{
			{"GET", "/integrations/" + only2.ID},
			{"POST", "/integrations/" + only2.ID + "/allow"},
			{"POST", "/integrations/" + only2.ID + "/decline"},
			{"POST", "/integrations/" + only2.ID + "/disable"},
			{"POST", "/integrations/" + only2.ID + "/restore"},
			{"GET", "/integrations/no-such-app"},
			{"GET", "/integrations/%00"},
		} {
			if p := problemOf(t, e.do(req.method, req.path, e.t1, nil), http.StatusNotFound); p.Detail != "no such integration" {
				t.Errorf("%s %s: detail %q", req.method, req.path, p.Detail)
			}
		}
		for _, path := range []string{"/clients/" + pair2.ClientID, "/clients/" + pair2.ClientID + "/secret"} {
			problemOf(t, e.do("GET", path, e.t1, nil), http.StatusNotFound)
		}
		problemOf(t, e.do("POST", "/clients/"+pair2.ClientID+"/disable", e.t1, nil), http.StatusNotFound)
		if cl, _ := e.app.Store().GetClient(ctx, pair2.ClientID); cl.Disabled {
			t.Fatal("t_1's admin disabled t2's pair")
		}
		if got := decode[integrationView](t, e.do("GET", "/integrations/"+only2.ID, e.t2, nil)); got.Status != integrationAllowed {
			t.Fatalf("t2's integration changed: %+v", got)
		}

		// Super admins.
		if l := decode[list[integrationView]](t, e.want(e.do("GET", "/integrations?tenant_id=t2", e.super, nil), http.StatusOK)); l.Total != 2 {
			t.Fatalf("t2's integrations as the super admin: %+v", l)
		}
		if l := decode[list[integrationView]](t, e.want(e.do("GET", "/integrations?tenant_id=t2&limit=1&offset=1", e.super, nil), http.StatusOK)); l.Total != 2 || len(l.Items) != 1 || l.Items[0].AppID != only2.ID {
			t.Fatalf("second page: %+v", l)
		}
		if l := decode[list[integrationView]](t, e.want(e.do("GET", "/integrations?offset=99", e.t2, nil), http.StatusOK)); l.Total != 2 || len(l.Items) != 0 {
			t.Fatalf("past the end: %+v", l)
		}
		if l := decode[list[integrationView]](t, e.want(e.do("GET", "/integrations", e.super, nil), http.StatusOK)); l.Total != 0 || l.Items == nil {
			t.Fatalf("the super admin's own (default) tenant: %+v", l)
		}
		for _, q := range []string{"nope", "%00"} {
			p := problemOf(t, e.do("GET", "/integrations?tenant_id="+q, e.super, nil), http.StatusBadRequest)
			if !slices.Equal(fields(p), []string{"tenant_id"}) {
				t.Fatalf("unknown tenant %q: %v", q, fields(p))
			}
		}
		bySuper := decode[pairView](t, e.want(e.do("POST", base+"/allow?tenant_id=t2", e.super, map[string]any{"scopes": []string{"global"}}), http.StatusCreated))
		if bySuper.TenantID != e.t2Tenant {
			t.Fatalf("the super admin's allow landed in %q", bySuper.TenantID)
		}
		e.want(e.do("POST", base+"/disable?tenant_id=t2", e.super, nil), http.StatusOK)
		if got := decode[integrationView](t, e.do("GET", base, e.t2, nil)); got.Status != integrationDisabled {
			t.Fatalf("t2 sees %+v", got)
		}
		// What a super admin disabled only a super admin restores
		// (TestWhatASuperAdminDisabledStaysDisabled).
		problemOf(t, e.do("POST", base+"/restore", e.t2, nil), http.StatusForbidden)
		e.want(e.do("POST", base+"/restore?tenant_id=t2", e.super, nil), http.StatusOK)
	})
}
