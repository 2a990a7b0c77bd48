package integration

import (
	"encoding/json"
	"strings"
	"testing"
)

// Bigtincan custom apps: scopes cannot be empty; a "user" app cannot use
// server authentication; an api_key app connects as one user of its tenant;
// only an app allowed to "perform actions on behalf of users" may send
// X-Act-As-User, to act as any active user of its tenant (administrators
// included), and the upstream receives both the effective user and the
// acting client; unknown users and users of other tenants get the same 403.
func TestBigtincan(t *testing.T) {
	eachDriverWith(t, "bigtincan.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		eric := createUser(t, g, admin, map[string]any{"username": "eric.zelman", "display_name": "Eric Zelman"})
		boss := createUser(t, g, admin, map[string]any{"username": "boss", "admin": true})
		otherTenant := createTenant(t, g, admin, "Other Co")
		stranger := createUser(t, g, admin, map[string]any{"username": "stranger", "tenant_id": otherTenant})

		// Scopes cannot be empty.
		status, body, _ := call(t, "POST", g.URL+"/admin/clients", admin, map[string]any{"name": "empty", "scopes": []string{}, "connect_as_user_id": eric})
		if status != 400 || !strings.Contains(flatten(body), "scopes") {
			t.Fatalf("empty scopes: %d %v", status, body)
		}

		// Standard OAuth 2.0 (User Authentication) apps cannot use an API key.
		uID, uSecret := createClient(t, g, admin, map[string]any{"name": "portal", "auth_method": "user", "scopes": []string{"files.read"},
			"redirect_uris": []string{"https://portal.example/cb"}})
		if status, body := tokenBasic(t, g, "/oauth/token", uID, uSecret, nil); status != 400 || body["error"] != "unauthorized_client" {
			t.Fatalf("user app with client_credentials: %d %v", status, body)
		}
		if status, _, _ := call(t, "POST", g.URL+"/admin/clients", admin, map[string]any{"name": "portal2", "auth_method": "user",
			"scopes": []string{"files.read"}, "allow_impersonation": true}); status != 400 {
			t.Fatalf("a user app allowed to impersonate: %d", status)
		}

		// Connect as Eric: tokens act as Eric.
		plainID, plainSecret := createClient(t, g, admin, map[string]any{"name": "sync", "scopes": []string{"users.read", "files.read"}, "connect_as_user_id": eric})
		plain := mustTokenAt(t, g, "/oauth/token", plainID, plainSecret)
		status, body, _ = call(t, "GET", g.URL+"/v5/files/1", plain, nil)
		if status != 200 || body["user_id"] != eric || body["legs"] != "3" {
			t.Fatalf("connect-as token: %d %v", status, body)
		}
		// Without the permission, impersonation is refused.
		status, body, h := call(t, "GET", g.URL+"/v5/users/me", plain, nil, "X-Act-As-User", boss)
		if status != 403 || challenge(h) != "insufficient_scope" || !strings.Contains(body["error_description"].(string), "on behalf") {
			t.Fatalf("impersonation without permission: %d %v", status, body)
		}

		// With "perform actions on behalf of users": act as the administrator.
		actID, actSecret := createClient(t, g, admin, map[string]any{"name": "automation", "scopes": []string{"users.write", "stories.read"},
			"connect_as_user_id": eric, "allow_impersonation": true})
		act := mustTokenAt(t, g, "/oauth/token", actID, actSecret)
		status, body, _ = call(t, "POST", g.URL+"/v5/users", act, map[string]string{"name": "new"}, "X-Act-As-User", boss)
		if status != 200 || body["user_id"] != boss || body["actor"] != actID {
			t.Fatalf("acting as the admin: %d %v", status, body)
		}
		seen, _ := g.Upstream.Last()
		if seen.Get("X-Act-As-User") != "" {
			t.Fatal("the raw impersonation header reached the upstream")
		}
		// By username too.
		if status, body, _ := call(t, "GET", g.URL+"/v5/stories/1", act, nil, "X-Act-As-User", "boss"); status != 200 || body["user_id"] != boss {
			t.Fatalf("acting as a username: %d %v", status, body)
		}
		// Unknown users and users of another tenant: the same 403.
		_, unknown, _ := call(t, "GET", g.URL+"/v5/users/me", act, nil, "X-Act-As-User", "nobody")
		status, foreign, _ := call(t, "GET", g.URL+"/v5/users/me", act, nil, "X-Act-As-User", stranger)
		if status != 403 || foreign["error_description"] != unknown["error_description"] || unknown["error_description"] == nil {
			t.Fatalf("other tenant's user: %d %v vs %v", status, foreign, unknown)
		}
		// A disabled user cannot be impersonated.
		if status, _, _ := call(t, "PATCH", g.URL+"/admin/users/"+boss, admin, map[string]any{"disabled": true}); status != 200 {
			t.Fatalf("disable user: %d", status)
		}
		if status, _, _ := call(t, "GET", g.URL+"/v5/users/me", act, nil, "X-Act-As-User", boss); status != 403 {
			t.Fatalf("acting as a disabled user: %d", status)
		}
		// Scope checks still apply to the acting client.
		if status, _, _ := call(t, "GET", g.URL+"/v5/files/1", act, nil, "X-Act-As-User", eric); status != 403 {
			t.Fatalf("impersonation widened the scopes: %d", status)
		}
	})
}

// flatten renders a decoded JSON body for substring checks.
func flatten(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
