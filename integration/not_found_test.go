package integration

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/scopegate/scopegate/module/store"
)

// Every shipped Caddyfile answers a path none of its routes serves with 404
// and a JSON error (Caddy alone would answer an empty 200, which a client
// or a monitor takes for success), for any method, while its own endpoints
// still answer: the metadata with 200 and a guarded route without a token
// with 401, so the catch-all comes after every route; /admin (the
// console without its slash) redirects to /admin/.
func TestShippedFilesAnswerUnknownPathsWith404(t *testing.T) {
	guarded := map[string]string{
		"quickstart.Caddyfile": "/api/hello", "postgres.Caddyfile": "/api/hello", "bits.Caddyfile": "/v1/applications",
		"nitro.Caddyfile": "/api/users/u1", "bigtincan.Caddyfile": "/v5/files/1", "imagen.Caddyfile": "/api/records",
		"tenants.Caddyfile": "/api/reports",
	}
	files, err := filepath.Glob(filepath.Join("..", "caddyfiles", "*.Caddyfile"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no shipped Caddyfiles: %v", err)
	}
	for _, f := range files {
		file := filepath.Base(f)
		route, ok := guarded[file]
		if !ok {
			t.Fatalf("%s has no guarded route listed here", file)
		}
		drivers := []string{store.SQLite, store.Postgres}
		if file == "postgres.Caddyfile" {
			drivers = []string{store.Postgres}
		}
		for _, driver := range drivers {
			t.Run(file+"/"+driver, func(t *testing.T) {
				g := startGateway(t, file, driver)
				for _, m := range []string{"GET", "POST", "DELETE"} {
					status, body, h := call(t, m, g.URL+"/no/such/endpoint", "", nil)
					if status != http.StatusNotFound || body["error"] != "not_found" || h.Get("Content-Type") != "application/json" {
						t.Fatalf("%s an unknown path: %d %v %q, want 404 not_found in JSON", m, status, body, h.Get("Content-Type"))
					}
				}
				if status, _, _ := call(t, "GET", g.URL+"/.well-known/oauth-authorization-server", "", nil); status != http.StatusOK {
					t.Fatalf("the metadata: %d, want 200", status)
				}
				if status, _, _ := call(t, "GET", g.URL+route, "", nil); status != http.StatusUnauthorized {
					t.Fatalf("GET %s without a token: %d, want 401", route, status)
				}
				// The console's address typed without its slash is sent to
				// it, not to the 404.
				noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
				resp, err := noFollow.Get(g.URL + "/admin")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/admin/" {
					t.Fatalf("GET /admin: %d, Location %q; want a redirect to /admin/", resp.StatusCode, resp.Header.Get("Location"))
				}
			})
		}
	}
}
