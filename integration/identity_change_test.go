package integration

import (
	"net/http"
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
