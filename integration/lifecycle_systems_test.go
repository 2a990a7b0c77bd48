package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Every shipped gateway, not only the tenants example, offers RFC 7009
// revocation and RFC 7662 introspection, published in its RFC 8414 metadata:
// found through the metadata, introspection says a fresh token is active,
// an unauthenticated caller is refused with invalid_client, the token's
// client revokes it and introspection then says it is inactive; a rotated
// secret keeps the old one working through the grace period.
func TestRevocationAndIntrospectionEverywhere(t *testing.T) {
	for _, file := range []string{"quickstart.Caddyfile", "bits.Caddyfile", "nitro.Caddyfile",
		"bigtincan.Caddyfile", "imagen.Caddyfile", "tenants.Caddyfile"} {
		t.Run(file, func(t *testing.T) {
			eachDriverWith(t, file, func(t *testing.T, g *gateway) {
				_, meta, _ := call(t, "GET", g.URL+"/.well-known/oauth-authorization-server", "", nil)
				endpoint := func(name string) string {
					raw, _ := meta[name].(string)
					u, err := url.Parse(raw)
					if raw == "" || err != nil {
						t.Fatalf("%s publishes no %s: %v", file, name, meta)
					}
					return u.Path
				}
				tokenPath, revokePath, introspectPath := endpoint("token_endpoint"), endpoint("revocation_endpoint"), endpoint("introspection_endpoint")

				admin := bootstrapAdmin(t, g, tokenPath)
				sc := plainScope(t, g, admin)
				create := map[string]any{"name": "lifecycle", "scopes": []string{sc}}
				if file == "bigtincan.Caddyfile" || file == "imagen.Caddyfile" { // every key connects as a user there
					create["connect_as_user_id"] = createUser(t, g, admin, map[string]any{"username": "keyholder"})
				}
				id, secret := createClient(t, g, admin, create)
				status, body := tokenBasic(t, g, tokenPath, id, secret, nil)
				tok, _ := body["access_token"].(string)
				if status != http.StatusOK || tok == "" {
					t.Fatalf("token: %d %v", status, body)
				}

				status, info := basicForm(t, g, introspectPath, id, secret, url.Values{"token": {tok}})
				if status != http.StatusOK || info["active"] != true || info["client_id"] != id || info["scope"] != sc {
					t.Fatalf("introspecting a fresh token: %d %v", status, info)
				}
				if status, body := basicForm(t, g, introspectPath, "", "", url.Values{"token": {tok}}); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
					t.Fatalf("unauthenticated introspection: %d %v", status, body)
				}

				// Rotation with the default grace: the old secret still works.
				rot := wantStatus(t, g, admin, "POST", "/clients/"+id+"/rotate", nil, http.StatusOK)
				newSecret, _ := rot["client_secret"].(string)
				for _, s := range []string{secret, newSecret} {
					if status, body := tokenBasic(t, g, tokenPath, id, s, nil); status != http.StatusOK {
						t.Fatalf("a token during the grace period: %d %v", status, body)
					}
				}

				if status, body := basicForm(t, g, revokePath, id, newSecret, url.Values{"token": {tok}}); status != http.StatusOK {
					t.Fatalf("revocation: %d %v", status, body)
				}
				if status, info := basicForm(t, g, introspectPath, id, newSecret, url.Values{"token": {tok}}); status != http.StatusOK || len(info) != 1 || info["active"] != false {
					t.Fatalf("introspecting a revoked token: %d %v", status, info)
				}
			})
		})
	}
}

// plainScope picks a catalogue scope any client may hold in a 2-legged token
// (no required claims, not a built-in scopegate.* scope).
func plainScope(t *testing.T, g *gateway, admin string) string {
	t.Helper()
	for _, s := range listItems(t, g, admin, "/scopes") {
		name, _ := s["name"].(string)
		claims, _ := s["required_claims"].([]any)
		if !strings.HasPrefix(name, "scopegate.") && s["legs"] != "3" && len(claims) == 0 {
			return name
		}
	}
	t.Fatal("the catalogue has no plain scope")
	return ""
}
