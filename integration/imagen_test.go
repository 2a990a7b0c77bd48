package integration

import (
	"net/url"
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
