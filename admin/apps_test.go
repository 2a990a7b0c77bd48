package admin

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A developer tenant's admin registers an app (201 with every field, in its
// own tenant, owned by its principal, lists deduplicated), reads it, lists
// its tenant's apps page by page and changes it; a super admin registers
// one for another developer tenant, sees every app and filters by
// developer tenant; creating and changing are audited in the developer
// tenant with the acting principal.
func TestApps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		e.tenant("dev")
		e.tenant("dev2")
		devAdmin, devID := e.adminToken("dev", scope.TenantAdmin)

		w := e.want(e.do("POST", "/apps", devAdmin, map[string]any{
			"name": " Reporter ", "description": "Builds reports.\nNightly.",
			"scopes": []string{"demo.read", "demo.write", "demo.read"}, "tenant_ids": []string{"t1", "t_2", "t1"},
			"redirect_uris": []string{"https://reporter.example/cb"},
		}), http.StatusCreated)
		created := decode[appView](t, w)
		if created.ID == "" || created.Name != "Reporter" || created.Description != "Builds reports.\nNightly." ||
			created.DeveloperTenantID != "dev" || created.Owner != devID ||
			!slices.Equal(created.Scopes, []string{"demo.read", "demo.write"}) ||
			!slices.Equal(created.TenantIDs, []string{"t1", "t_2"}) ||
			!slices.Equal(created.RedirectURIs, []string{"https://reporter.example/cb"}) || created.CreatedAt.IsZero() {
			t.Fatalf("create answered %+v", created)
		}
		if loc := w.Header().Get("Location"); loc != "apps/"+created.ID {
			t.Fatalf("Location = %q", loc)
		}
		path := "/apps/" + created.ID
		if got := decode[appView](t, e.want(e.do("GET", path, devAdmin, nil), http.StatusOK)); got.ID != created.ID || got.Name != "Reporter" {
			t.Fatalf("get answered %+v", got)
		}

		second := decode[appView](t, e.want(e.do("POST", "/apps", devAdmin, map[string]any{
			"name": "Second", "scopes": []string{"global"}, "tenant_ids": []string{"t1"},
		}), http.StatusCreated))
		if second.Description != "" || second.RedirectURIs == nil {
			t.Fatalf("optional fields: %+v", second)
		}
		bySuper := decode[appView](t, e.want(e.do("POST", "/apps", e.super, map[string]any{
			"name": "Other dev", "scopes": []string{"demo.read"}, "tenant_ids": []string{"t1"}, "developer_tenant_id": "dev2",
		}), http.StatusCreated))
		if bySuper.DeveloperTenantID != "dev2" || bySuper.Owner != e.superID {
			t.Fatalf("super admin's app: %+v", bySuper)
		}

		page1 := decode[list[appView]](t, e.want(e.do("GET", "/apps?limit=1", devAdmin, nil), http.StatusOK))
		page2 := decode[list[appView]](t, e.want(e.do("GET", "/apps?limit=1&offset=1", devAdmin, nil), http.StatusOK))
		if page1.Total != 2 || len(page1.Items) != 1 || page1.Items[0].ID != created.ID ||
			page2.Total != 2 || len(page2.Items) != 1 || page2.Items[0].ID != second.ID {
			t.Fatalf("developer's pages: %+v / %+v", page1, page2)
		}
		if all := decode[list[appView]](t, e.want(e.do("GET", "/apps", e.super, nil), http.StatusOK)); all.Total != 3 {
			t.Fatalf("super admin sees %d apps, want 3", all.Total)
		}
		filtered := decode[list[appView]](t, e.want(e.do("GET", "/apps?developer_tenant_id=dev2", e.super, nil), http.StatusOK))
		if filtered.Total != 1 || filtered.Items[0].ID != bySuper.ID {
			t.Fatalf("filtered: %+v", filtered)
		}

		patched := decode[appView](t, e.want(e.do("PATCH", path, devAdmin, map[string]any{
			"name": "Reporter 2", "tenant_ids": []string{"t1"},
		}), http.StatusOK))
		if patched.Name != "Reporter 2" || !slices.Equal(patched.TenantIDs, []string{"t1"}) ||
			!slices.Equal(patched.Scopes, created.Scopes) || patched.Description != created.Description ||
			!patched.UpdatedAt.After(created.UpdatedAt) || patched.CreatedAt.Sub(created.CreatedAt).Abs() > time.Millisecond {
			t.Fatalf("patch answered %+v", patched)
		}
		if stored, _ := e.app.Store().GetApp(ctx, created.ID); stored.Name != "Reporter 2" || stored.OwnerID != devID {
			t.Fatalf("patch not stored: %+v", stored)
		}
		e.want(e.do("PATCH", path, e.super, map[string]any{"description": "by the super admin"}), http.StatusOK)

		var actions []string
		entries, _, _ := e.app.Store().ListAudit(ctx, "dev", store.Page{Limit: 100})
		for _, a := range entries {
			if a.Target == created.ID {
				actions = append(actions, a.Action+" by "+a.Actor)
			}
		}
		want := []string{"app.update by " + e.superID, "app.update by " + devID, "app.create by " + devID}
		if !slices.Equal(actions, want) {
			t.Fatalf("audit trail of the app = %v, want %v", actions, want)
		}
	})
}

// Bad app bodies are 400 naming every bad field; a tenant admin may not
// request scopegate.admin or register for another developer tenant (403);
// the developer tenant cannot be changed.
func TestAppValidation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.tenant("dev")
		devAdmin, _ := e.adminToken("dev", scope.TenantAdmin)
		ok := func() map[string]any {
			return map[string]any{"name": "App", "scopes": []string{"demo.read"}, "tenant_ids": []string{"t1"}}
		}
		with := func(k string, v any) map[string]any {
			b := ok()
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
			return b
		}
		for name, tc := range map[string]struct {
			body any
			want []string
		}{
			"no name":          {with("name", nil), []string{"name"}},
			"blank name":       {with("name", "  "), []string{"name"}},
			"long name":        {with("name", strings.Repeat("n", 201)), []string{"name"}},
			"long description": {with("description", strings.Repeat("d", maxDescription+1)), []string{"description"}},
			"control char":     {with("description", "a\x00b"), []string{"description"}},
			"bidi override":    {with("name", "Evil \u202egnp.exe"), []string{"name"}},
			"bidi isolate":     {with("description", "a\u2067b\u2069"), []string{"description"}},
			"no scopes":        {with("scopes", nil), []string{"scopes"}},
			"empty scopes":     {with("scopes", []string{}), []string{"scopes"}},
			"unknown scope":    {with("scopes", []string{"demo.read", "nope"}), []string{"scopes"}},
			"no tenants":       {with("tenant_ids", nil), []string{"tenant_ids"}},
			"empty tenants":    {with("tenant_ids", []string{}), []string{"tenant_ids"}},
			"bad tenant id":    {with("tenant_ids", []string{"t1", "a b", ""}), []string{"tenant_ids", "tenant_ids"}},
			"bad redirect":     {with("redirect_uris", []string{"ftp://x", "https://a.example/#f"}), []string{"redirect_uris", "redirect_uris"}},
			"unknown member":   {with("color", "red"), []string{"color"}},
			"wrong type":       {with("tenant_ids", "t1"), []string{"tenant_ids"}},
		} {
			p := problemOf(t, e.do("POST", "/apps", devAdmin, tc.body), http.StatusBadRequest)
			if got := fields(p); !slices.Equal(got, tc.want) {
				t.Errorf("%s: fields %v, want %v", name, got, tc.want)
			}
		}
		p := problemOf(t, e.do("POST", "/apps", e.super, with("developer_tenant_id", "nope")), http.StatusBadRequest)
		if !slices.Equal(fields(p), []string{"developer_tenant_id"}) {
			t.Fatalf("unknown developer tenant: %v", fields(p))
		}

		problemOf(t, e.do("POST", "/apps", devAdmin, with("developer_tenant_id", store.DefaultTenantID)), http.StatusForbidden)
		e.want(e.do("POST", "/apps", devAdmin, with("developer_tenant_id", "dev")), http.StatusCreated)

		a := decode[appView](t, e.want(e.do("POST", "/apps", devAdmin, ok()), http.StatusCreated))
		for name, tc := range map[string]struct {
			body any
			want []string
		}{
			"move":         {map[string]any{"developer_tenant_id": store.DefaultTenantID}, []string{"developer_tenant_id"}},
			"empty scopes": {map[string]any{"scopes": []string{}}, []string{"scopes"}},
			"bad tenants":  {map[string]any{"tenant_ids": []string{"ok", "../x"}}, []string{"tenant_ids"}},
		} {
			p := problemOf(t, e.do("PATCH", "/apps/"+a.ID, e.super, tc.body), http.StatusBadRequest)
			if got := fields(p); !slices.Equal(got, tc.want) {
				t.Errorf("patch %s: fields %v, want %v", name, got, tc.want)
			}
		}
		problemOf(t, e.do("PATCH", "/apps/"+a.ID, devAdmin, map[string]any{"developer_tenant_id": "x"}), http.StatusBadRequest)
		if got := decode[appView](t, e.do("GET", "/apps/"+a.ID, devAdmin, nil)); !slices.Equal(got.Scopes, []string{"demo.read"}) {
			t.Fatalf("a refused patch changed the app: %+v", got)
		}
	})
}

// Only the developer tenant's admins (and super admins) see an app: another
// tenant's admin gets 404 on read and change (even when the app is offered
// to its tenant), its listing holds its own apps only, and it cannot list
// another developer tenant's apps (403).
func TestAppIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.tenant("dev")
		e.tenant("t1")
		devAdmin, _ := e.adminToken("dev", scope.TenantAdmin)
		t1Admin, _ := e.adminToken("t1", scope.TenantAdmin)
		a := decode[appView](t, e.want(e.do("POST", "/apps", devAdmin, map[string]any{
			"name": "Reporter", "scopes": []string{"demo.read"}, "tenant_ids": []string{"t1"},
		}), http.StatusCreated))

		for _, req := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/apps/" + a.ID, nil},
			{"PATCH", "/apps/" + a.ID, map[string]any{"name": "pwned"}},
			{"GET", "/apps/no-such-app", nil},
			{"GET", "/apps/%00", nil},
		} {
			if p := problemOf(t, e.do(req.method, req.path, t1Admin, req.body), http.StatusNotFound); p.Detail != "no such app" {
				t.Errorf("%s %s: detail %q", req.method, req.path, p.Detail)
			}
		}
		if mine := decode[list[appView]](t, e.want(e.do("GET", "/apps", t1Admin, nil), http.StatusOK)); mine.Total != 0 {
			t.Fatalf("t1's admin lists %+v", mine)
		}
		problemOf(t, e.do("GET", "/apps?developer_tenant_id=dev", t1Admin, nil), http.StatusForbidden)
		if got := decode[appView](t, e.do("GET", "/apps/"+a.ID, devAdmin, nil)); got.Name != "Reporter" {
			t.Fatalf("the app changed: %+v", got)
		}
	})
}

// A scope a catalogue keeps for clients of given names (Nitro's
// batch_import, for the client named batch-import) fits an app only under
// that name: each tenant's client of an app is named after it, and one
// holding the scope under another name could never get a token with it
// (the console red team got 201 and a pair refused at the token endpoint).
// The rule holds on create and on a rename; the named app may request it.
func TestAppKeepsScopesForNamedClients(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver, func(a *app.App) {
			a.Scopes = append(slices.Clone(a.Scopes), scope.Scope{Name: "batch_import", Clients: []string{"batch-import"}})
		})
		body := func(name string) map[string]any {
			return map[string]any{"name": name, "scopes": []string{"batch_import"}, "tenant_ids": []string{"t1"}}
		}
		p := problemOf(t, e.do("POST", "/apps", e.super, body("Foo Importer")), http.StatusBadRequest)
		if !slices.Contains(fields(p), "scopes") || !strings.Contains(p.Detail+strings.Join(fields(p), " "), "scopes") {
			t.Fatalf("an app of another name requesting batch_import: %+v", p)
		}
		named := decode[appView](t, e.want(e.do("POST", "/apps", e.super, body("batch-import")), http.StatusCreated))
		problemOf(t, e.do("PATCH", "/apps/"+named.ID, e.super, map[string]any{"name": "renamed"}), http.StatusBadRequest)
	})
}
