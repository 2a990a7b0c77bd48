package integration

import (
	"net/http"
	"testing"
)

// The shipped Bigtincan and Imagen files tie every API key to a user (a
// client's token has no user to default to): a key the bootstrap client
// creates without naming one is a 400 naming connect_as_user_id, and
// nothing is created; naming a user makes a key whose client_credentials
// token reaches the guarded route as that user (3-legged). Taking the user
// away again is a 400 too.
func TestShippedFilesTieEveryKeyToAUser(t *testing.T) {
	for _, tc := range []struct{ file, scope, route string }{
		{"bigtincan.Caddyfile", "files.read", "/v5/files/1"},
		{"imagen.Caddyfile", "readUsersData", "/api/records"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			eachDriverWith(t, tc.file, func(t *testing.T, g *gateway) {
				admin := bootstrapAdmin(t, g, "/oauth/token")
				status, body, _ := call(t, "POST", g.URL+"/admin/clients", admin, map[string]any{"name": "untied", "scopes": []string{tc.scope}})
				errs, _ := body["errors"].([]any)
				if status != http.StatusBadRequest || len(errs) != 1 || errs[0].(map[string]any)["field"] != "connect_as_user_id" {
					t.Fatalf("a key naming no user: %d %v, want 400 naming connect_as_user_id", status, body)
				}
				for _, c := range listItems(t, g, admin, "/clients") {
					if c["name"] == "untied" {
						t.Fatalf("the refused key exists: %v", c)
					}
				}
				user := createUser(t, g, admin, map[string]any{"username": "integration-bot"})
				id, secret := createClient(t, g, admin, map[string]any{"name": "tied", "scopes": []string{tc.scope}, "connect_as_user_id": user})
				tok := mustTokenAt(t, g, "/oauth/token", id, secret)
				status, body, _ = call(t, "GET", g.URL+tc.route, tok, nil)
				if status != http.StatusOK || body["user_id"] != user || body["legs"] != "3" {
					t.Fatalf("the tied key's token: %d %v, want 200 as %s, 3-legged", status, body, user)
				}
				wantStatus(t, g, admin, "PATCH", "/clients/"+id, map[string]any{"connect_as_user_id": ""}, http.StatusBadRequest)
			})
		})
	}
}
