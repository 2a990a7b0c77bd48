package integration

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Imagen API keys: the key is tied to the user who created it, so the
// upstream sees that user as the creator of what a call creates; a scope
// must be assigned by an admin before the client can ask for it
// (invalid_scope until then).
func TestImagenAPIKeys(t *testing.T) {
	eachDriverWith(t, "imagen.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		creator := createUser(t, g, admin, map[string]any{"username": "media-importer", "display_name": "Media Importer (app)"})
		id, secret := createClient(t, g, admin, map[string]any{"name": "importer", "scopes": []string{"readUsersData", "modifyUsersData"},
			"connect_as_user_id": creator})

		tok := mustTokenAt(t, g, "/oauth/token", id, secret)
		status, body, _ := call(t, "POST", g.URL+"/api/records", tok, map[string]string{"title": "clip"})
		if status != 200 || body["user_id"] != creator {
			t.Fatalf("record created as %v (%d), want the key's creator %s", body["user_id"], status, creator)
		}

		// createJobs is not assigned yet.
		status, refused := tokenBasic(t, g, "/oauth/token", id, secret, url.Values{"scope": {"createJobs"}})
		if status != 400 || refused["error"] != "invalid_scope" {
			t.Fatalf("unassigned scope: %d %v", status, refused)
		}
		if status, _, _ := call(t, "POST", g.URL+"/api/jobs", tok, map[string]string{}); status != 403 {
			t.Fatalf("job creation without createJobs: %d", status)
		}
		// The admin assigns it; now the client may ask for it.
		if status, body, _ := call(t, "PATCH", g.URL+"/admin/clients/"+id, admin, map[string]any{
			"scopes": []string{"readUsersData", "modifyUsersData", "createJobs"}}); status != 200 {
			t.Fatalf("assign createJobs: %d %v", status, body)
		}
		_, granted := tokenBasic(t, g, "/oauth/token", id, secret, url.Values{"scope": {"createJobs"}})
		jobs, _ := granted["access_token"].(string)
		if status, body, _ := call(t, "POST", g.URL+"/api/jobs", jobs, map[string]string{}); status != 200 || body["user_id"] != creator {
			t.Fatalf("job creation with createJobs: %d %v", status, body)
		}
	})
}

// tokenClaims reads the payload of a JWT the gateway issued (its signature
// is the gateway's business; the test reads what it says).
func tokenClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// Imagen ties an API key to the user who created it (connect_as_creator in
// imagen.Caddyfile): an admin user signs in to the console and adds an API
// key without choosing anyone; the key connects as and belongs to that
// user, its client_credentials token is 3-legged and bound to that user, and
// the upstream sees that user as the creator of the record the call makes.
// The same admin makes itself an admin key in the console; with that
// key's user-bound admin token, a key created through the admin API is tied
// to the admin too, and naming another user is a 400 naming
// connect_as_user_id.
func TestImagenKeyTiedToCreator(t *testing.T) {
	eachDriverWith(t, "imagen.Caddyfile", func(t *testing.T, g *gateway) {
		admin := bootstrapAdmin(t, g, "/oauth/token")
		const password = "media admin passphrase"
		ada := createUser(t, g, admin, map[string]any{"username": "ada", "display_name": "Ada (media)", "password": password, "admin": true})
		other := createUser(t, g, admin, map[string]any{"username": "media-importer"})

		cc := signInConsole(t, g, "/admin", "default", "ada", password)
		if status, page := cc.get("/console/apps/new"); status != http.StatusOK || !strings.Contains(page, `id="connect_as_creator"`) {
			t.Fatalf("add-application form: %d, connect-as-creator note shown: %v", status, strings.Contains(page, `id="connect_as_creator"`))
		}
		status, page := cc.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"ada-importer"},
			"scopes": {"readUsersData", "modifyUsersData"}})
		if status != http.StatusCreated {
			t.Fatalf("adding the key in the console: %d", status)
		}
		id, secret := inputValue(t, page, "client_id"), inputValue(t, page, "client_secret")

		_, view, _ := call(t, "GET", g.URL+"/admin/clients/"+id, admin, nil)
		if view["connect_as_user_id"] != ada || view["owner"] != ada {
			t.Fatalf("the console's key connects as %v and belongs to %v, want ada %s", view["connect_as_user_id"], view["owner"], ada)
		}
		tok := mustTokenAt(t, g, "/oauth/token", id, secret)
		if c := tokenClaims(t, tok); c["sub"] != ada || c["legs"] != float64(3) || c["client_id"] != id {
			t.Fatalf("the key's token says sub %v legs %v client %v, want ada, 3, %s", c["sub"], c["legs"], c["client_id"], id)
		}
		status, body, _ := call(t, "POST", g.URL+"/api/records", tok, map[string]string{"title": "clip"})
		if last, _ := g.Upstream.Last(); status != 200 || body["user_id"] != ada || last.Get("X-Scopegate-User-Id") != ada {
			t.Fatalf("record created as %v (%d), want the key's creator ada %s", body["user_id"], status, ada)
		}

		// ada's own admin key, then the admin API with its user-bound token.
		status, page = cc.post("/console/apps/new", url.Values{"auth_method": {"api_key"}, "name": {"ada-admin"}, "scopes": {"scopegate.tenant_admin"}})
		if status != http.StatusCreated {
			t.Fatalf("adding ada's admin key in the console: %d", status)
		}
		adaAdmin := mustTokenAt(t, g, "/oauth/token", inputValue(t, page, "client_id"), inputValue(t, page, "client_secret"))
		if c := tokenClaims(t, adaAdmin); c["sub"] != ada || c["legs"] != float64(3) {
			t.Fatalf("ada's admin token: sub %v legs %v", c["sub"], c["legs"])
		}
		apiID, apiSecret := createClient(t, g, adaAdmin, map[string]any{"name": "ada-api-key", "scopes": []string{"readUsersData"}})
		_, view, _ = call(t, "GET", g.URL+"/admin/clients/"+apiID, admin, nil)
		if view["connect_as_user_id"] != ada || view["owner"] != ada {
			t.Fatalf("the API's key connects as %v and belongs to %v, want ada", view["connect_as_user_id"], view["owner"])
		}
		if status, body, _ := call(t, "GET", g.URL+"/api/records", mustTokenAt(t, g, "/oauth/token", apiID, apiSecret), nil); status != 200 || body["user_id"] != ada {
			t.Fatalf("the API's key reads as %v (%d), want ada", body["user_id"], status)
		}
		status, refused, _ := call(t, "POST", g.URL+"/admin/clients", adaAdmin, map[string]any{"name": "as-other", "scopes": []string{"readUsersData"}, "connect_as_user_id": other})
		errs, _ := refused["errors"].([]any)
		if status != http.StatusBadRequest || len(errs) != 1 || errs[0].(map[string]any)["field"] != "connect_as_user_id" {
			t.Fatalf("naming another user: %d %v", status, refused)
		}
	})
}
