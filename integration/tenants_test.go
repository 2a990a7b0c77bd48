package integration

import (
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/module/scope"
)

// tenantAdmin creates a scopegate.tenant_admin client of tenant through the
// super admin and returns a token of it and its client id.
func tenantAdmin(t *testing.T, g *gateway, super, tenant, name string) (string, string) {
	t.Helper()
	id, secret := createClient(t, g, super, map[string]any{
		"name": name, "scopes": []string{"scopegate.tenant_admin"}, "tenant_id": tenant,
	})
	return mustToken(t, g, id, secret, nil), id
}

// listItems returns the items of an admin listing, failing unless it is 200.
func listItems(t *testing.T, g *gateway, tok, path string) []map[string]any {
	t.Helper()
	status, body, _ := call(t, "GET", g.URL+"/admin"+path, tok, nil)
	raw, ok := body["items"].([]any)
	if status != http.StatusOK || !ok {
		t.Fatalf("GET %s: %d %v", path, status, body)
	}
	out := make([]map[string]any, 0, len(raw))
	for _, v := range raw {
		out = append(out, v.(map[string]any))
	}
	return out
}

// wantStatus fails unless the admin call answers status; it returns the body.
func wantStatus(t *testing.T, g *gateway, tok, method, path string, body any, status int) map[string]any {
	t.Helper()
	got, out, _ := call(t, method, g.URL+"/admin"+path, tok, body)
	if got != status {
		t.Fatalf("%s %s: %d %v, want %d", method, path, got, out, status)
	}
	return out
}

// strs turns a decoded JSON array into strings.
func strs(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// sameScopes reports whether a space-separated scope string holds exactly want.
func sameScopes(got any, want ...string) bool {
	s, _ := got.(string)
	have := scope.Split(s)
	slices.Sort(have)
	want = slices.Clone(want)
	slices.Sort(want)
	return slices.Equal(have, want)
}

// Tenant integrations end to end, as documented: the super admin creates
// tenants T1, T2, T3 and a developer tenant D, each with a tenant admin
// client; the developer registers an app requesting reports.read,
// reports.write and members.read for T1 and T2; T1's admin sees it with the
// scopes' descriptions and allows a subset, T2's admin allows all: two
// different tenant-specific pairs (X tenants, X pairs); T3 is not offered
// it. T2's pair gets tokens with what T2 allowed; T1's pair cannot get
// reports.write; a T1 token reads /api/reports (the upstream sees tenant
// T1) but cannot write. T1 disables its pair: the unexpired token is 401 at
// once and the token endpoint says invalid_client; restoring brings back
// the same credentials. A fresh app is declined (and may be allowed later).
func TestTenantIntegrations(t *testing.T) {
	eachDriverWith(t, "tenants.Caddyfile", func(t *testing.T, g *gateway) {
		super := bootstrapAdmin(t, g, "/oauth2/token")
		t1 := createTenant(t, g, super, "T1")
		t2 := createTenant(t, g, super, "T2")
		t3 := createTenant(t, g, super, "T3")
		dev := createTenant(t, g, super, "D")
		t1Admin, t1AdminID := tenantAdmin(t, g, super, t1, "t1-admin")
		t2Admin, _ := tenantAdmin(t, g, super, t2, "t2-admin")
		t3Admin, _ := tenantAdmin(t, g, super, t3, "t3-admin")
		devAdmin, devAdminID := tenantAdmin(t, g, super, dev, "d-admin")

		// The developer registers the app for T1 and T2.
		app := wantStatus(t, g, devAdmin, "POST", "/apps", map[string]any{
			"name": "Reporter", "description": "Monthly reports for your organisation",
			"scopes":     []string{"reports.read", "reports.write", "members.read"},
			"tenant_ids": []string{t1, t2}, "redirect_uris": []string{"https://reporter.example/cb"},
		}, http.StatusCreated)
		appID, _ := app["id"].(string)
		if appID == "" || app["developer_tenant_id"] != dev || app["owner"] != devAdminID ||
			!slices.Equal(strs(app["tenant_ids"]), []string{t1, t2}) {
			t.Fatalf("registered app: %v", app)
		}
		integration := "/integrations/" + appID

		// T1's admin sees it, with what each requested scope means.
		items := listItems(t, g, t1Admin, "/integrations")
		if len(items) != 1 || items[0]["app_id"] != appID || items[0]["name"] != "Reporter" || items[0]["status"] != "new" {
			t.Fatalf("T1's integrations: %v", items)
		}
		var described []string
		for _, s := range items[0]["requested_scopes"].([]any) {
			m := s.(map[string]any)
			described = append(described, m["name"].(string)+": "+m["description"].(string))
		}
		if !slices.Equal(described, []string{
			"reports.read: Read your organisation's reports", "reports.write: Create and change reports",
			"members.read: Read your organisation's members",
		}) {
			t.Fatalf("requested scopes as T1's admin sees them: %v", described)
		}

		// T3 is not offered the app.
		if items := listItems(t, g, t3Admin, "/integrations"); len(items) != 0 {
			t.Fatalf("T3 is offered %v", items)
		}
		wantStatus(t, g, t3Admin, "GET", integration, nil, http.StatusNotFound)
		wantStatus(t, g, t3Admin, "POST", integration+"/allow", nil, http.StatusNotFound)

		// T1 allows a subset, T2 everything: one pair per tenant.
		wantStatus(t, g, t1Admin, "POST", integration+"/allow", map[string]any{"scopes": []string{"reports.read", "admin.everything"}}, http.StatusBadRequest)
		pair1 := wantStatus(t, g, t1Admin, "POST", integration+"/allow", map[string]any{"scopes": []string{"reports.read", "members.read"}}, http.StatusCreated)
		pair2 := wantStatus(t, g, t2Admin, "POST", integration+"/allow", nil, http.StatusCreated)
		id1, secret1 := pair1["client_id"].(string), pair1["client_secret"].(string)
		id2, secret2 := pair2["client_id"].(string), pair2["client_secret"].(string)
		if id1 == "" || secret1 == "" || pair1["tenant_id"] != t1 || pair1["app_id"] != appID ||
			!slices.Equal(strs(pair1["scopes"]), []string{"reports.read", "members.read"}) {
			t.Fatalf("T1's pair: %v", pair1)
		}
		if id2 == "" || id2 == id1 || secret2 == secret1 || pair2["tenant_id"] != t2 ||
			!slices.Equal(strs(pair2["scopes"]), []string{"reports.read", "reports.write", "members.read"}) {
			t.Fatalf("T2's pair: %v (T1's: %v)", pair2, pair1)
		}
		wantStatus(t, g, t1Admin, "POST", integration+"/allow", nil, http.StatusConflict)
		got := wantStatus(t, g, t1Admin, "GET", integration, nil, http.StatusOK)
		if got["status"] != "allowed" || got["client_id"] != id1 || !slices.Equal(strs(got["granted_scopes"]), []string{"reports.read", "members.read"}) {
			t.Fatalf("T1's integration after allowing: %v", got)
		}
		// The pair is an ordinary client of T1, owned by the admin who allowed it.
		if c := wantStatus(t, g, t1Admin, "GET", "/clients/"+id1, nil, http.StatusOK); c["tenant_id"] != t1 || c["name"] != "Reporter" ||
			c["owner"] != t1AdminID || c["client_secret"] != "********" {
			t.Fatalf("T1's pair as a client: %v", c)
		}

		// Tokens carry what each tenant allowed (reports.write standing for
		// the reports.read it implies), and their tenant.
		status, body := tokenBasic(t, g, "/oauth2/token", id2, secret2, nil)
		if status != http.StatusOK || !sameScopes(body["scope"], "reports.write", "members.read") {
			t.Fatalf("T2's token: %d %v", status, body)
		}
		status, body = tokenBasic(t, g, "/oauth2/token", id1, secret1, url.Values{"scope": {"reports.write"}})
		if status != http.StatusBadRequest || body["error"] != "invalid_scope" {
			t.Fatalf("T1's pair asking reports.write: %d %v", status, body)
		}
		status, body = tokenBasic(t, g, "/oauth2/token", id1, secret1, nil)
		tok1, _ := body["access_token"].(string)
		if status != http.StatusOK || tok1 == "" || !sameScopes(body["scope"], "reports.read", "members.read") {
			t.Fatalf("T1's token: %d %v", status, body)
		}
		status, echoed, _ := call(t, "GET", g.URL+"/api/reports", tok1, nil)
		if status != http.StatusOK || echoed["tenant"] != t1 || echoed["client_id"] != id1 {
			t.Fatalf("T1's token on /api/reports: %d %v", status, echoed)
		}
		if h, _ := g.Upstream.Last(); h.Get("X-Scopegate-Tenant") != t1 {
			t.Fatalf("the upstream was told tenant %q", h.Get("X-Scopegate-Tenant"))
		}
		if status, _, h := call(t, "POST", g.URL+"/api/reports", tok1, map[string]string{"title": "x"}); status != http.StatusForbidden || challenge(h) != "insufficient_scope" {
			t.Fatalf("T1's token writing a report: %d", status)
		}
		if status, _, _ := call(t, "GET", g.URL+"/api/members", tok1, nil); status != http.StatusOK {
			t.Fatalf("T1's token on /api/members: %d", status)
		}

		// Disable: the unexpired token is refused at once, no new tokens.
		if d := wantStatus(t, g, t1Admin, "POST", integration+"/disable", nil, http.StatusOK); d["status"] != "disabled" || d["client_id"] != id1 {
			t.Fatalf("disable answered %v", d)
		}
		if status, _, h := call(t, "GET", g.URL+"/api/reports", tok1, nil); status != http.StatusUnauthorized || challenge(h) != "invalid_token" {
			t.Fatalf("the disabled pair's token: %d", status)
		}
		if status, body := tokenBasic(t, g, "/oauth2/token", id1, secret1, nil); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("token request of the disabled pair: %d %v", status, body)
		}
		// T2's pair is untouched.
		if status, _ := tokenBasic(t, g, "/oauth2/token", id2, secret2, nil); status != http.StatusOK {
			t.Fatalf("T2's pair while T1's is disabled: %d", status)
		}

		// Restore: the same credentials work again.
		if r := wantStatus(t, g, t1Admin, "POST", integration+"/restore", nil, http.StatusOK); r["status"] != "allowed" || r["client_id"] != id1 {
			t.Fatalf("restore answered %v", r)
		}
		again := mustToken(t, g, id1, secret1, nil)
		if status, echoed, _ := call(t, "GET", g.URL+"/api/reports", again, nil); status != http.StatusOK || echoed["tenant"] != t1 {
			t.Fatalf("restored pair on /api/reports: %d %v", status, echoed)
		}
		wantStatus(t, g, t1Admin, "POST", integration+"/decline", nil, http.StatusConflict)

		// Decline a fresh app: recorded, no pair; allowing later still works.
		app2 := wantStatus(t, g, devAdmin, "POST", "/apps", map[string]any{
			"name": "Member sync", "scopes": []string{"members.read"}, "tenant_ids": []string{t3},
		}, http.StatusCreated)
		second := "/integrations/" + app2["id"].(string)
		if items := listItems(t, g, t3Admin, "/integrations"); len(items) != 1 || items[0]["status"] != "new" {
			t.Fatalf("T3's integrations: %v", items)
		}
		if d := wantStatus(t, g, t3Admin, "POST", second+"/decline", nil, http.StatusOK); d["status"] != "declined" {
			t.Fatalf("decline answered %v", d)
		}
		if d := wantStatus(t, g, t3Admin, "GET", second, nil, http.StatusOK); d["status"] != "declined" || d["client_id"] != nil {
			t.Fatalf("declined integration: %v", d)
		}
		for _, c := range listItems(t, g, t3Admin, "/clients") {
			if c["name"] == "Member sync" {
				t.Fatalf("declining generated a client: %v", c)
			}
		}
		later := wantStatus(t, g, t3Admin, "POST", second+"/allow", nil, http.StatusCreated)
		mustToken(t, g, later["client_id"].(string), later["client_secret"].(string), nil)
	})
}

// Tenant isolation, tried rather than assumed: T1's admin cannot read,
// change, rotate, disable, delete or read the secret of T2's client (404);
// cannot read or change a T2 user (404) nor list T2's users (403); cannot
// allow, decline, disable or restore T2's integration (403 naming T2, 404
// for an app offered to T2 only); cannot see or change the developer's app
// through /apps (404); cannot create a client in T2 (403). T2's client and
// integration still work afterwards.
func TestTenantIsolationEndToEnd(t *testing.T) {
	eachDriverWith(t, "tenants.Caddyfile", func(t *testing.T, g *gateway) {
		super := bootstrapAdmin(t, g, "/oauth2/token")
		t1 := createTenant(t, g, super, "T1")
		t2 := createTenant(t, g, super, "T2")
		dev := createTenant(t, g, super, "D")
		t1Admin, _ := tenantAdmin(t, g, super, t1, "t1-admin")
		t2Admin, _ := tenantAdmin(t, g, super, t2, "t2-admin")
		devAdmin, _ := tenantAdmin(t, g, super, dev, "d-admin")

		app := wantStatus(t, g, devAdmin, "POST", "/apps", map[string]any{
			"name": "Reporter", "scopes": []string{"reports.read"}, "tenant_ids": []string{t2},
		}, http.StatusCreated)
		appID := app["id"].(string)
		pair := wantStatus(t, g, t2Admin, "POST", "/integrations/"+appID+"/allow", nil, http.StatusCreated)
		t2Client, t2Secret := pair["client_id"].(string), pair["client_secret"].(string)
		t2User := createUser(t, g, super, map[string]any{"username": "alice", "tenant_id": t2})

		for _, req := range []struct {
			method, path string
			body         any
			status       int
		}{
			{"GET", "/clients/" + t2Client, nil, http.StatusNotFound},
			{"PATCH", "/clients/" + t2Client, map[string]any{"name": "mine now"}, http.StatusNotFound},
			{"POST", "/clients/" + t2Client + "/rotate", nil, http.StatusNotFound},
			{"POST", "/clients/" + t2Client + "/disable", nil, http.StatusNotFound},
			{"DELETE", "/clients/" + t2Client, nil, http.StatusNotFound},
			{"GET", "/clients/" + t2Client + "/secret", nil, http.StatusNotFound},
			{"GET", "/users/" + t2User, nil, http.StatusNotFound},
			{"PATCH", "/users/" + t2User, map[string]any{"disabled": true}, http.StatusNotFound},
			{"GET", "/users?tenant_id=" + t2, nil, http.StatusForbidden},
			{"GET", "/clients?tenant_id=" + t2, nil, http.StatusForbidden},
			{"GET", "/integrations?tenant_id=" + t2, nil, http.StatusForbidden},
			{"POST", "/integrations/" + appID + "/allow?tenant_id=" + t2, nil, http.StatusForbidden},
			{"POST", "/integrations/" + appID + "/disable?tenant_id=" + t2, nil, http.StatusForbidden},
			{"GET", "/integrations/" + appID, nil, http.StatusNotFound},
			{"POST", "/integrations/" + appID + "/allow", nil, http.StatusNotFound},
			{"POST", "/integrations/" + appID + "/decline", nil, http.StatusNotFound},
			{"POST", "/integrations/" + appID + "/disable", nil, http.StatusNotFound},
			{"POST", "/integrations/" + appID + "/restore", nil, http.StatusNotFound},
			{"GET", "/apps/" + appID, nil, http.StatusNotFound},
			{"PATCH", "/apps/" + appID, map[string]any{"tenant_ids": []string{t1}}, http.StatusNotFound},
			{"GET", "/apps?developer_tenant_id=" + dev, nil, http.StatusForbidden},
			{"POST", "/clients", map[string]any{"name": "planted", "scopes": []string{"reports.read"}, "tenant_id": t2}, http.StatusForbidden},
			{"POST", "/users", map[string]any{"username": "planted", "tenant_id": t2}, http.StatusForbidden},
		} {
			status, out, _ := call(t, req.method, g.URL+"/admin"+req.path, t1Admin, req.body)
			if status != req.status {
				t.Errorf("T1's admin: %s %s = %d %v, want %d", req.method, req.path, status, out, req.status)
			}
		}

		// What T1's admin lists is T1's only.
		for _, c := range listItems(t, g, t1Admin, "/clients") {
			if c["tenant_id"] != t1 {
				t.Errorf("T1's admin lists %v", c)
			}
		}
		if apps := listItems(t, g, t1Admin, "/apps"); len(apps) != 0 {
			t.Errorf("T1's admin lists apps %v", apps)
		}
		if items := listItems(t, g, t1Admin, "/integrations"); len(items) != 0 {
			t.Errorf("T1's admin lists integrations %v", items)
		}

		// T2's things are untouched.
		if c := wantStatus(t, g, t2Admin, "GET", "/clients/"+t2Client, nil, http.StatusOK); c["name"] != "Reporter" || c["status"] != "active" {
			t.Fatalf("T2's client after T1's attempts: %v", c)
		}
		if u := wantStatus(t, g, super, "GET", "/users/"+t2User, nil, http.StatusOK); u["disabled"] != false {
			t.Fatalf("T2's user after T1's attempts: %v", u)
		}
		if a := wantStatus(t, g, devAdmin, "GET", "/apps/"+appID, nil, http.StatusOK); !slices.Equal(strs(a["tenant_ids"]), []string{t2}) {
			t.Fatalf("the app after T1's attempts: %v", a)
		}
		tok := mustToken(t, g, t2Client, t2Secret, nil)
		if status, echoed, _ := call(t, "GET", g.URL+"/api/reports", tok, nil); status != http.StatusOK || echoed["tenant"] != t2 {
			t.Fatalf("T2's pair after T1's attempts: %d %v", status, echoed)
		}
		if items := listItems(t, g, super, "/clients?tenant_id="+t2); slices.ContainsFunc(items, func(c map[string]any) bool { return c["name"] == "planted" }) {
			t.Fatal("T1's admin planted a client in T2")
		}
	})
}
