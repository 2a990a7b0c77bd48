package integration

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A status-limited handle_errors in a server with more than one site
// (every named-host deployment), where Caddy nests the status expression a
// level down under the site's route: the refusals of its statuses get the
// page, those of other statuses keep the JSON (it was handed over anyway and
// answered with an empty body: a review).
func TestStatusListInMultiSiteServer(t *testing.T) {
	page := "\thandle_errors 401 400 {\n\t\trespond \"custom {err.status_code} {err.oauth_error}\"\n\t}\n"
	path := caddyfileVariant(t, "quickstart.Caddyfile", "", page)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\nhttp://other.test:{$SCOPEGATE_PORT:8080} {\n\trespond \"other\"\n}\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	g := startGateway(t, path, store.SQLite)
	admin := bootstrapAdmin(t, g, "/oauth2/token")
	id, secret := createClient(t, g, admin, map[string]any{"name": "reader", "scopes": []string{"demo.read"}})
	tok := mustToken(t, g, id, secret, nil)
	if status, body, _ := getAs(t, g, "GET", "localhost", "/api/x", ""); status != 401 || body != "custom 401 invalid_token" {
		t.Errorf("GET /api/x with no token: %d %q, want the page for 401", status, body)
	}
	status, body, h := getAs(t, g, "POST", "localhost", "/api/x", tok)
	if status != 403 || h.Get("Content-Type") != "application/json" || !strings.Contains(body, `"error":"insufficient_scope"`) {
		t.Errorf("POST /api/x, a status the list leaves out: %d %q %q, want the JSON 403", status, h.Get("Content-Type"), body)
	}
}

// The documented maintenance shape starts in a site with a host name too
// (the start check read only the site's host matcher, not the status
// expression a level down: a review).
func TestMaintenanceProxyInNamedSiteStarts(t *testing.T) {
	body, err := os.ReadFile("../caddyfiles/quickstart.Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(body), "\n:{$SCOPEGATE_PORT:8080} {\n",
		"\nhttp://localhost:{$SCOPEGATE_PORT:8080} {\n\thandle_errors 502 503 {\n\t\treverse_proxy {$SCOPEGATE_UPSTREAM}\n\t}\n", 1)
	path := t.TempDir() + "/named.Caddyfile"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, path, store.SQLite)
	if status, _, _ := getAs(t, g, "GET", "localhost", "/api/x", ""); status != http.StatusUnauthorized {
		t.Fatalf("GET /api/x with no token: %d, want 401", status)
	}
}

// The guard's own failures (503, the database down) are answered by the
// guard, not handed to handle_errors: with the documented `handle_errors
// 502 503 { reverse_proxy … }`, a DELETE the guard could not authorize
// reached that upstream, method and body as sent (a review).
func TestOutageRefusalNeverReachesErrorsProxy(t *testing.T) {
	o := storetest.NewOutage(t, store.Postgres)
	site := "\thandle_errors 502 503 {\n\t\treverse_proxy {$SCOPEGATE_UPSTREAM}\n\t}\n"
	g := startGateway(t, caddyfileVariant(t, "postgres.Caddyfile", "", site), store.Postgres, "SCOPEGATE_DSN", o.DSN)
	admin := bootstrapAdmin(t, g, "/oauth2/token")
	id, secret := createClient(t, g, admin, map[string]any{"name": "outage", "scopes": []string{"demo.read"}})
	tok := mustToken(t, g, id, secret, nil)
	if status, body, _ := call(t, "PATCH", g.URL+"/admin/clients/"+id, admin, map[string]any{"name": "outage 2"}); status != http.StatusOK {
		t.Fatalf("rename: %d %v", status, body)
	}
	_, before := g.Upstream.Last()
	o.Cut(t, nil)
	status, body, _ := call(t, "DELETE", g.URL+"/api/things", tok, map[string]any{"x": 1})
	_, after := g.Upstream.Last()
	if status != http.StatusServiceUnavailable || body["error"] != "temporarily_unavailable" {
		t.Errorf("DELETE during the outage: %d %v, want 503 temporarily_unavailable", status, body)
	}
	if after != before {
		t.Errorf("the DELETE the guard could not authorize reached the upstream (method %v)", body["method"])
	}
	o.Restore(t)
}
