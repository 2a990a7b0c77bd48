package integration

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// basicForm posts form to path with HTTP Basic client authentication (none
// when id is "") and returns the status and the decoded JSON body.
func basicForm(t *testing.T, g *gateway, path, id, secret string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// introspect asks the RFC 7662 endpoint about tok as client id.
func introspect(t *testing.T, g *gateway, id, secret, tok string) map[string]any {
	t.Helper()
	status, body := basicForm(t, g, "/oauth2/introspect", id, secret, url.Values{"token": {tok}})
	if status != http.StatusOK {
		t.Fatalf("introspection: %d %v", status, body)
	}
	return body
}

// A token's life around the admin API and the RFC 7662 and 7009 endpoints,
// on tenants.Caddyfile: introspection by a client of the same tenant
// allowed scopegate.introspect says an issued token is active with its
// scope, client, expiry, subject and tenant, and that a revoked or garbage
// token is not (nor another client's token, to a client of the tenant
// without scopegate.introspect or to a client of another tenant); without client
// authentication it is 401 invalid_client. A client cannot revoke another
// client's token, which keeps working. Rotating a secret with the default
// grace leaves the old and new secrets both working; rotating with
// grace_seconds 0 ends the previous one at once. The audit log lists those
// actions with actor, action, target, time and remote address, newest
// first, and a tenant admin sees its own tenant's entries only.
func TestLifecycle(t *testing.T) {
	eachDriverWith(t, "tenants.Caddyfile", func(t *testing.T, g *gateway) {
		super := bootstrapAdmin(t, g, "/oauth2/token")
		acme := createTenant(t, g, super, "Acme")
		globex := createTenant(t, g, super, "Globex")
		acmeAdmin, acmeAdminID := tenantAdmin(t, g, super, acme, "acme-admin")
		globexAdmin, _ := tenantAdmin(t, g, super, globex, "globex-admin")
		id, secret := createClient(t, g, acmeAdmin, map[string]any{"name": "reporter", "scopes": []string{"reports.read", "members.read"}})
		otherID, otherSecret := createClient(t, g, acmeAdmin, map[string]any{"name": "other", "scopes": []string{"members.read", "scopegate.introspect"}})
		bystanderID, bystanderSecret := createClient(t, g, acmeAdmin, map[string]any{"name": "bystander", "scopes": []string{"members.read"}})
		globexID, globexSecret := createClient(t, g, globexAdmin, map[string]any{"name": "reporter", "scopes": []string{"reports.read"}})

		// Introspection of an active token, asked by another client.
		tok := mustToken(t, g, id, secret, url.Values{"scope": {"reports.read"}})
		info := introspect(t, g, otherID, otherSecret, tok)
		exp, _ := info["exp"].(float64)
		if info["active"] != true || info["scope"] != "reports.read" || info["client_id"] != id || info["sub"] != id ||
			info["tenant"] != acme || time.Unix(int64(exp), 0).Before(time.Now()) {
			t.Fatalf("active token: %v", info)
		}
		// A client of another tenant, or of this one without
		// scopegate.introspect, learns nothing about the token.
		if info := introspect(t, g, globexID, globexSecret, tok); len(info) != 1 || info["active"] != false {
			t.Fatalf("another tenant's client introspected the token: %v", info)
		}
		if info := introspect(t, g, bystanderID, bystanderSecret, tok); len(info) != 1 || info["active"] != false {
			t.Fatalf("a client without scopegate.introspect introspected another client's token: %v", info)
		}
		if info := introspect(t, g, id, secret, "not.a.token"); len(info) != 1 || info["active"] != false {
			t.Fatalf("garbage token: %v", info)
		}
		if status, body := basicForm(t, g, "/oauth2/introspect", "", "", url.Values{"token": {tok}}); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("unauthenticated introspection: %d %v", status, body)
		}
		if status, body := basicForm(t, g, "/oauth2/introspect", id, "wrong", url.Values{"token": {tok}}); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("introspection with a wrong secret: %d %v", status, body)
		}

		// RFC 7009: another client's revocation is refused and the token
		// keeps working; its own client's revocation ends it everywhere.
		if status, body := basicForm(t, g, "/oauth2/revoke", otherID, otherSecret, url.Values{"token": {tok}}); status != http.StatusBadRequest || body["error"] != "unauthorized_client" {
			t.Fatalf("another client revoked the token: %d %v", status, body)
		}
		if status, _, _ := call(t, "GET", g.URL+"/api/reports", tok, nil); status != http.StatusOK {
			t.Fatalf("the token after a refused revocation: %d", status)
		}
		if info := introspect(t, g, otherID, otherSecret, tok); info["active"] != true {
			t.Fatalf("introspection after a refused revocation: %v", info)
		}
		// A token_type_hint the server does not know is ignored (RFC 7009
		// §2.1), not refused: the token is revoked all the same.
		if status, body := basicForm(t, g, "/oauth2/revoke", id, secret, url.Values{"token": {tok}, "token_type_hint": {"jwt"}}); status != http.StatusOK {
			t.Fatalf("revocation by the token's client, with an unknown hint: %d %v", status, body)
		}
		if info := introspect(t, g, otherID, otherSecret, tok); len(info) != 1 || info["active"] != false {
			t.Fatalf("revoked token: %v", info)
		}
		if status, _, h := call(t, "GET", g.URL+"/api/reports", tok, nil); status != http.StatusUnauthorized || challenge(h) != "invalid_token" {
			t.Fatalf("the revoked token on the guard: %d", status)
		}

		// Rotation with the default grace: both secrets work.
		rot := wantStatus(t, g, acmeAdmin, "POST", "/clients/"+id+"/rotate", nil, http.StatusOK)
		secret2, _ := rot["client_secret"].(string)
		if secret2 == "" || secret2 == secret || rot["previous_secret_valid_until"] == nil {
			t.Fatalf("rotate answered %v", rot)
		}
		mustToken(t, g, id, secret, nil)
		mustToken(t, g, id, secret2, nil)
		// Rotation without grace: the previous secret stops at once.
		rot = wantStatus(t, g, acmeAdmin, "POST", "/clients/"+id+"/rotate", map[string]any{"grace_seconds": 0}, http.StatusOK)
		secret3, _ := rot["client_secret"].(string)
		if secret3 == "" || rot["previous_secret_valid_until"] != nil {
			t.Fatalf("rotate without grace answered %v", rot)
		}
		for _, old := range []string{secret, secret2} {
			if status, body := tokenBasic(t, g, "/oauth2/token", id, old, nil); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
				t.Fatalf("an old secret after rotating without grace: %d %v", status, body)
			}
		}
		mustToken(t, g, id, secret3, nil)

		// The audit log, newest first, with who, what, on what, when, whence.
		entries := listItems(t, g, super, "/audit?limit=500")
		var trail []string
		var last time.Time
		for i, e := range entries {
			at, err := time.Parse(time.RFC3339Nano, e["at"].(string))
			whence := "127.0.0.1" // over HTTP; the bootstrap command runs on the machine itself
			if e["actor"] == "bootstrap" {
				whence = "local"
			}
			if err != nil || e["actor"] == "" || e["action"] == "" || e["remote_addr"] != whence {
				t.Fatalf("audit entry %v (%v)", e, err)
			}
			if i > 0 && (at.After(last) || e["id"].(float64) >= entries[i-1]["id"].(float64)) {
				t.Fatalf("the audit log is not newest first at %v", e)
			}
			last = at
			if e["target"] == id {
				trail = append(trail, e["action"].(string)+" by "+e["actor"].(string))
			}
		}
		want := []string{"client.rotate by " + acmeAdminID, "client.rotate by " + acmeAdminID, "client.create by " + acmeAdminID}
		if strings.Join(trail, ", ") != strings.Join(want, ", ") {
			t.Fatalf("the client's audit trail = %v, want %v", trail, want)
		}

		// A tenant admin sees its own tenant's entries only.
		mine := listItems(t, g, acmeAdmin, "/audit?limit=500")
		if len(mine) == 0 || len(mine) >= len(entries) {
			t.Fatalf("Acme's admin sees %d of %d entries", len(mine), len(entries))
		}
		for _, e := range mine {
			if e["tenant_id"] != acme || e["target"] == globexID {
				t.Fatalf("Acme's admin sees %v", e)
			}
		}
		wantStatus(t, g, acmeAdmin, "GET", "/audit?tenant_id="+globex, nil, http.StatusForbidden)
	})
}
