package integration

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A client's grant_types, set through the admin API, is what the token and
// authorize endpoints of the running gateway allow it: client_credentials
// is unauthorized_client while the list leaves it out and works once the
// list is emptied; a client without authorization_code is sent back to its
// redirect URI with unauthorized_client for response_type=code.
func TestClientGrantTypesThroughCaddy(t *testing.T) {
	eachDriverWith(t, "imagen.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		const redirect = "https://app.example/callback"
		ada := createUser(t, g, admin, map[string]any{"username": "ada"}) // every Imagen key is tied to a user
		id, secret := createClient(t, g, admin, map[string]any{"name": "web only", "scopes": []string{"readUsersData"}, "connect_as_user_id": ada,
			"redirect_uris": []string{redirect}, "grant_types": []string{"authorization_code", "refresh_token"}})

		status, body := tokenBasic(t, g, "/oauth/token", id, secret, nil)
		if status != http.StatusBadRequest || body["error"] != "unauthorized_client" {
			t.Fatalf("client_credentials left out of grant_types: %d %v", status, body)
		}
		if status, body, _ := call(t, "PATCH", g.URL+"/admin/clients/"+id, admin, map[string]any{"grant_types": []string{}}); status != 200 {
			t.Fatalf("emptying grant_types: %d %v", status, body)
		}
		if status, body := tokenBasic(t, g, "/oauth/token", id, secret, nil); status != http.StatusOK {
			t.Fatalf("client_credentials once grant_types is empty: %d %v", status, body)
		}

		if status, body, _ := call(t, "PATCH", g.URL+"/admin/clients/"+id, admin, map[string]any{"grant_types": []string{"client_credentials"}}); status != 200 {
			t.Fatalf("limiting to client_credentials: %d %v", status, body)
		}
		noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		q := url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {redirect}, "state": {"st"}}
		resp, err := noFollow.Get(g.URL + "/oauth/authorize?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), redirect+"?") ||
			loc.Query().Get("error") != "unauthorized_client" || loc.Query().Get("state") != "st" {
			t.Fatalf("response_type=code without authorization_code: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
}

// The shipped files that mount no authorize endpoint (quickstart, tenants,
// postgres) hand out no codes and no refresh tokens: their token endpoint
// answers those grants unsupported_grant_type, as their metadata lists
// client_credentials alone (protocol red team: it answered invalid_grant,
// as for a code it might have issued).
func TestCodeGrantsUnsupportedWithoutAuthorize(t *testing.T) {
	for _, file := range []string{"quickstart.Caddyfile", "tenants.Caddyfile"} {
		t.Run(file, func(t *testing.T) {
			g := startGateway(t, file, "sqlite")
			status, meta, _ := call(t, "GET", g.URL+"/.well-known/oauth-authorization-server", "", nil)
			if grants, _ := meta["grant_types_supported"].([]any); status != 200 || len(grants) != 1 || grants[0] != "client_credentials" {
				t.Fatalf("metadata: %d grant_types_supported %v", status, meta["grant_types_supported"])
			}
			id, secret := bootstrapCredentials(t, g)
			for _, extra := range []url.Values{
				{"grant_type": {"authorization_code"}, "code": {"x"}},
				{"grant_type": {"refresh_token"}, "refresh_token": {"x"}},
			} {
				status, body := tokenBasic(t, g, "/oauth2/token", id, secret, extra)
				if status != http.StatusBadRequest || body["error"] != "unsupported_grant_type" {
					t.Errorf("%s: %d %v, want 400 unsupported_grant_type", extra.Get("grant_type"), status, body)
				}
			}
		})
	}
}
