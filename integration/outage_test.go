package integration

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// When PostgreSQL becomes unreachable under a running gateway (a relay
// between them is cut: new connections refused, open ones reset), every
// endpoint that needs the database answers 503 with Retry-After in its
// protocol's format, none a 500: the token endpoint and the guard RFC 6749
// temporarily_unavailable, the admin API an RFC 9457 problem. Once the
// database is back they answer again.
func TestDatabaseOutageThroughCaddy(t *testing.T) {
	o := storetest.NewOutage(t, store.Postgres)
	g := startGateway(t, "postgres.Caddyfile", store.Postgres, "SCOPEGATE_DSN", o.DSN)
	admin := bootstrapAdmin(t, g, "/oauth2/token")
	id, secret := createClient(t, g, admin, map[string]any{"name": "outage", "scopes": []string{"demo.read"}})
	tok := mustToken(t, g, id, secret, nil)
	// The change drops the client from the gateway's cache: the next
	// request for it needs the database.
	if status, body, _ := call(t, "PATCH", g.URL+"/admin/clients/"+id, admin, map[string]any{"name": "outage 2"}); status != http.StatusOK {
		t.Fatalf("rename: %d %v", status, body)
	}
	o.Cut(t, nil)

	unavailable := func(what string, status int, h http.Header, body map[string]any, contentType string) {
		t.Helper()
		if status != http.StatusServiceUnavailable || h.Get("Retry-After") != store.RetryAfter ||
			!strings.HasPrefix(h.Get("Content-Type"), contentType) {
			t.Errorf("%s during the outage: %d, Retry-After %q, %s %v; want 503, %q, %s",
				what, status, h.Get("Retry-After"), h.Get("Content-Type"), body, store.RetryAfter, contentType)
		}
	}
	status, body, h := callForm(t, g.URL+"/oauth2/token", id, secret)
	unavailable("token endpoint", status, h, body, "application/json")
	if body["error"] != "temporarily_unavailable" {
		t.Errorf("token endpoint during the outage: %v", body)
	}
	status, body, h = call(t, "GET", g.URL+"/api/things", tok, nil)
	unavailable("guard", status, h, body, "application/json")
	if body["error"] != "temporarily_unavailable" {
		t.Errorf("guard during the outage: %v", body)
	}
	status, body, h = call(t, "GET", g.URL+"/admin/clients", admin, nil)
	unavailable("admin API", status, h, body, "application/problem+json")

	o.Restore(t)
	o.AwaitBack(t, "the guard", func() (int, string) {
		status, body, _ := call(t, "GET", g.URL+"/api/things", tok, nil)
		return status, fmt.Sprint(body)
	})
}

// callForm posts a client_credentials request with HTTP Basic credentials
// and returns what came back, whatever the status.
func callForm(t *testing.T, rawURL, id, secret string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, rawURL, strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out, resp.Header
}
