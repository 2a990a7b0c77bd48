package integration

import (
	"net/http"
	"net/url"
	"testing"
)

// Changing whom a client's tokens speak for ends the tokens it held, for
// good. Through Caddy on the shipped bigtincan.Caddyfile: an API key
// connected as one user is given another user and then the first one
// again, and a key is moved to another tenant (with a user there, as
// require_connect_as asks: a move without one is a 400 that ends nothing)
// and back. Each old
// token is refused with 401 invalid_token after the first change and stays
// refused after the change back (before, it came back to life); a token
// the key gets afterwards works, and an edit that changes neither (a
// rename) ends nothing.
func TestIdentityChangeEndsTokensForGood(t *testing.T) {
	eachDriverWith(t, "bigtincan.Caddyfile", func(t *testing.T, g *gateway) {
		super := bootstrapAdmin(t, g, "/oauth/token")
		ua := createUser(t, g, super, map[string]any{"username": "ua"})
		ub := createUser(t, g, super, map[string]any{"username": "ub"})
		works := func(tok, user, what string) {
			t.Helper()
			status, body, _ := call(t, "GET", g.URL+"/v5/files/1", tok, nil)
			if status != http.StatusOK || (user != "" && body["user_id"] != user) {
				t.Fatalf("%s: %d %v, want 200 as %q", what, status, body, user)
			}
		}
		ended := func(tok, what string) {
			t.Helper()
			status, body, h := call(t, "GET", g.URL+"/v5/files/1", tok, nil)
			if status != http.StatusUnauthorized || challenge(h) != "invalid_token" {
				t.Fatalf("%s: %d %v %q, want 401 invalid_token", what, status, body, h.Get("WWW-Authenticate"))
			}
		}

		keyID, keySecret := createClient(t, g, super, map[string]any{"name": "sync", "scopes": []string{"files.read"}, "connect_as_user_id": ua})
		asUA := mustTokenAt(t, g, "/oauth/token", keyID, keySecret)
		works(asUA, ua, "the key's token as ua")
		wantStatus(t, g, super, "PATCH", "/clients/"+keyID, map[string]any{"connect_as_user_id": ub}, http.StatusOK)
		ended(asUA, "ua's token once the key connects as ub")
		wantStatus(t, g, super, "PATCH", "/clients/"+keyID, map[string]any{"connect_as_user_id": ua}, http.StatusOK)
		ended(asUA, "ua's token once the key connects as ua again")
		again := mustTokenAt(t, g, "/oauth/token", keyID, keySecret)
		works(again, ua, "a new token as ua")
		wantStatus(t, g, super, "PATCH", "/clients/"+keyID, map[string]any{"name": "sync-renamed"}, http.StatusOK)
		works(again, ua, "the new token after a rename")

		// Every key connects as a user of its tenant (require_connect_as),
		// so a move names one of the new tenant.
		other := createTenant(t, g, super, "elsewhere")
		uo := createUser(t, g, super, map[string]any{"username": "uo", "tenant_id": other})
		movedID, movedSecret := createClient(t, g, super, map[string]any{"name": "moved", "scopes": []string{"files.read"}, "connect_as_user_id": ua})
		before := mustTokenAt(t, g, "/oauth/token", movedID, movedSecret)
		works(before, ua, "the key's token before the move")
		wantStatus(t, g, super, "PATCH", "/clients/"+movedID, map[string]any{"tenant_id": other}, http.StatusBadRequest)
		works(before, ua, "the token after a move refused for lack of a user there")
		wantStatus(t, g, super, "PATCH", "/clients/"+movedID, map[string]any{"tenant_id": other, "connect_as_user_id": uo}, http.StatusOK)
		ended(before, "the token once its key moved to another tenant")
		works(mustTokenAt(t, g, "/oauth/token", movedID, movedSecret), uo, "a new token in the other tenant")
		wantStatus(t, g, super, "PATCH", "/clients/"+movedID, map[string]any{"tenant_id": "default", "connect_as_user_id": ua}, http.StatusOK)
		ended(before, "the token once its key moved back")
		works(mustTokenAt(t, g, "/oauth/token", movedID, movedSecret), ua, "a new token after the move back")
	})
}

// Taking a power away from a client ends the tokens minted with it. Through
// Caddy on the shipped nitro.Caddyfile: a client with allow_user_tokens
// gets a 3-legged token naming an admin of its tenant (only allow_user_tokens
// lets a client name an admin); once an admin turns allow_user_tokens off,
// that token is refused with 401 invalid_token at the guard and is inactive
// at introspection (before, it worked until it expired, a day later), and
// the client's 2-legged tokens end with it (it gets a new one on the 401).
// Giving the power back does not revive the old token.
func TestTakingAPowerAwayEndsItsTokens(t *testing.T) {
	eachDriverWith(t, "nitro.Caddyfile", func(t *testing.T, g *gateway) {
		super := bootstrapAdmin(t, g, "/oauth/token")
		boss := createUser(t, g, super, map[string]any{"username": "boss", "admin": true})
		id, secret := createClient(t, g, super, map[string]any{
			"name": "delegate", "scopes": []string{"gamification_user", "global"},
			"default_scopes": []string{"global"}, "allow_user_tokens": true,
		})
		status, body, _ := nitroToken(t, g, id, secret, url.Values{"user_id": {boss}, "scope": {"gamification_user"}})
		if status != http.StatusOK {
			t.Fatalf("a token naming an admin with allow_user_tokens: %d %v", status, body)
		}
		asBoss := body["access_token"].(string)
		if status, body, _ := call(t, "GET", g.URL+"/api/users/me/points", asBoss, nil); status != http.StatusOK || body["user_id"] != boss {
			t.Fatalf("the token as boss before the change: %d %v", status, body)
		}
		twoLegged := mustTokenAt(t, g, "/oauth/token", id, secret)

		wantStatus(t, g, super, "PATCH", "/clients/"+id, map[string]any{"allow_user_tokens": false}, http.StatusOK)
		for what, tok := range map[string]string{"the token as boss": asBoss, "the 2-legged token": twoLegged} {
			path := "/api/users/me/points"
			if tok == twoLegged {
				path = "/api/admin/groups/g1"
			}
			status, body, h := call(t, "GET", g.URL+path, tok, nil)
			if status != http.StatusUnauthorized || challenge(h) != "invalid_token" {
				t.Fatalf("%s once allow_user_tokens is off: %d %v %q, want 401 invalid_token", what, status, body, h.Get("WWW-Authenticate"))
			}
		}
		if status, body := basicForm(t, g, "/oauth/introspect", id, secret, url.Values{"token": {asBoss}}); status != http.StatusOK || body["active"] != false {
			t.Fatalf("introspection of the token as boss once allow_user_tokens is off: %d %v, want active false", status, body)
		}
		if status, body, _ := nitroToken(t, g, id, secret, url.Values{"user_id": {boss}, "scope": {"gamification_user"}}); status != http.StatusBadRequest || body["error"] != "unauthorized_client" {
			t.Fatalf("a new token naming boss without allow_user_tokens: %d %v, want 400 unauthorized_client", status, body)
		}
		fresh := mustTokenAt(t, g, "/oauth/token", id, secret)
		if status, body, _ := call(t, "PUT", g.URL+"/api/admin/groups/g1", fresh, map[string]string{}); status != http.StatusOK {
			t.Fatalf("a new 2-legged token after the change: %d %v", status, body)
		}

		wantStatus(t, g, super, "PATCH", "/clients/"+id, map[string]any{"allow_user_tokens": true}, http.StatusOK)
		if status, _, _ := call(t, "GET", g.URL+"/api/users/me/points", asBoss, nil); status != http.StatusUnauthorized {
			t.Fatalf("the token as boss once allow_user_tokens is on again: %d, want 401", status)
		}
	})
}
