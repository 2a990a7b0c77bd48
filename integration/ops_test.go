package integration

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// scrape reads Caddy's admin /metrics and parses it as Prometheus does.
func scrape(t *testing.T, adminURL string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return families
}

// sample is the value of the series of name with exactly these labels (a
// histogram's count), 0 when absent.
func sample(families map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := families[name]
	if f == nil {
		return 0
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
			}
			match = match && found
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// The quickstart run with Caddy's admin endpoint on: after real traffic
// (N tokens minted, a wrong secret, a used-up daily allowance, K guarded
// calls let through, two without a token, one with garbage, one lacking
// the write scope) the scraped /metrics counts exactly that, and no label
// value names a client, a secret or a token.
func TestMetricsThroughCaddyAdmin(t *testing.T) {
	adminAddr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	g := startGateway(t, "quickstart.Caddyfile", store.SQLite, "SCOPEGATE_CADDY_ADMIN", adminAddr)
	adminURL := "http://" + adminAddr
	admin := bootstrapAdmin(t, g, "/oauth2/token")
	id, secret := createClient(t, g, admin, map[string]any{"name": "metered", "scopes": []string{"demo.read"}})
	capID, capSecret := createClient(t, g, admin, map[string]any{"name": "capped", "scopes": []string{"demo.read"},
		"token_lifetime_minutes": 60, "max_minutes_per_day": 60})

	before := scrape(t, adminURL)
	const n, k = 3, 4
	var tok string
	for range n {
		tok = mustToken(t, g, id, secret, nil)
	}
	if status, body := tokenBasic(t, g, "/oauth2/token", id, "wrong-secret", nil); status != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %d %v", status, body)
	}
	capTok := mustToken(t, g, capID, capSecret, nil)
	if status, body := tokenBasic(t, g, "/oauth2/token", capID, capSecret, nil); status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("the used-up allowance: %d %v", status, body)
	}
	for range k {
		if status, body, _ := call(t, "GET", g.URL+"/api/things", tok, nil); status != http.StatusOK {
			t.Fatalf("guarded call: %d %v", status, body)
		}
	}
	for _, bearer := range []string{"", "", "garbage"} {
		if status, _, _ := call(t, "GET", g.URL+"/api/things", bearer, nil); status != http.StatusUnauthorized {
			t.Fatalf("bearer %q: %d", bearer, status)
		}
	}
	if status, _, _ := call(t, "POST", g.URL+"/api/things", tok, map[string]any{}); status != http.StatusForbidden {
		t.Fatalf("a write with a read token: %d", status)
	}
	after := scrape(t, adminURL)

	delta := func(name string, labels ...string) float64 {
		return sample(after, name, labels...) - sample(before, name, labels...)
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"caddy_scopegate_token_requests_total", []string{"grant_type", "client_credentials", "outcome", "issued"}, n + 1},
		{"caddy_scopegate_token_requests_total", []string{"grant_type", "client_credentials", "outcome", "invalid_client"}, 1},
		{"caddy_scopegate_token_requests_total", []string{"grant_type", "client_credentials", "outcome", "invalid_grant"}, 1},
		{"caddy_scopegate_token_request_duration_seconds", []string{"grant_type", "client_credentials"}, n + 3},
		{"caddy_scopegate_allowance_refusals_total", []string{"legs", "2"}, 1},
		{"caddy_scopegate_guard_decisions_total", []string{"decision", "allowed", "reason", ""}, k},
		{"caddy_scopegate_guard_decisions_total", []string{"decision", "unauthorized", "reason", "missing"}, 2},
		{"caddy_scopegate_guard_decisions_total", []string{"decision", "unauthorized", "reason", "malformed"}, 1},
		{"caddy_scopegate_guard_decisions_total", []string{"decision", "forbidden", "reason", "insufficient_scope"}, 1},
		// tok: verified twice (two misses: a token is cached on its second
		// verification), then served from the cache K-1 times (K guarded
		// calls and the refused write); garbage is looked up (a miss)
		// before it fails to parse.
		{"caddy_scopegate_cache_lookups_total", []string{"cache", "tokens", "result", "hit"}, k - 1},
		{"caddy_scopegate_cache_lookups_total", []string{"cache", "tokens", "result", "miss"}, 3},
		{"caddy_scopegate_database_errors_total", []string{"kind", "unavailable"}, 0},
		{"caddy_scopegate_database_errors_total", []string{"kind", "other"}, 0},
		{"caddy_scopegate_change_feed_poll_failures_total", nil, 0},
	} {
		if got := delta(tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v went up by %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if v := sample(after, "caddy_scopegate_cache_entries", "cache", "tokens"); v < 1 {
		t.Errorf("token cache entries %v, want the cached token", v)
	}
	if v := sample(after, "caddy_scopegate_cache_entries", "cache", "clients"); v < 1 {
		t.Errorf("client cache entries %v, want the cached clients", v)
	}
	if f := after["caddy_scopegate_change_feed_lag_seconds"]; f == nil || sample(after, "caddy_scopegate_change_feed_lag_seconds") > 30 {
		t.Errorf("change feed lag: %v", f)
	}
	secrets := []string{id, secret, capID, capSecret, tok, capTok, admin}
	for name, f := range after {
		if !strings.HasPrefix(name, "caddy_scopegate_") {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, s := range secrets {
					if strings.Contains(l.GetValue(), s) {
						t.Errorf("%s label %s=%q names a client, a secret or a token", name, l.GetName(), l.GetValue())
					}
				}
			}
		}
	}
}

// health fetches a probe and decodes its JSON.
func health(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	status, body, h := call(t, "GET", url, "", nil)
	if ct := h.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s: Content-Type %q", url, ct)
	}
	return status, body
}

// The shipped quickstart and PostgreSQL files serve the probes at
// /healthz: ready (200, every check ok) while the database answers; not
// ready (503, the database check says so) once it does not, while
// /healthz/live still answers 200; on PostgreSQL ready again once the
// database is back.
func TestHealthThroughCaddy(t *testing.T) {
	ready := func(t *testing.T, g *gateway) {
		t.Helper()
		status, body := health(t, g.URL+"/healthz")
		checks, _ := body["checks"].(map[string]any)
		if status != http.StatusOK || body["status"] != "ok" || checks["database"] != "ok" || checks["keys"] != "ok" || checks["change_feed"] != "ok" {
			t.Fatalf("ready: %d %v", status, body)
		}
	}
	notReady := func(t *testing.T, g *gateway) {
		t.Helper()
		status, body := health(t, g.URL+"/healthz")
		checks, _ := body["checks"].(map[string]any)
		if status != http.StatusServiceUnavailable || body["status"] != "unavailable" || checks["database"] != "unavailable" || checks["keys"] != "ok" {
			t.Fatalf("with the database down: %d %v", status, body)
		}
		if status, body := health(t, g.URL+"/healthz/live"); status != http.StatusOK || body["status"] != "ok" {
			t.Fatalf("live with the database down: %d %v", status, body)
		}
	}
	t.Run(store.SQLite, func(t *testing.T) {
		g := startGateway(t, "quickstart.Caddyfile", store.SQLite)
		ready(t, g)
		running, err := caddy.ActiveContext().App("scopegate")
		if err != nil {
			t.Fatal(err)
		}
		// An SQLite file does not go away under an open handle: close it.
		if err := running.(*app.App).Store().Close(); err != nil {
			t.Fatal(err)
		}
		notReady(t, g)
	})
	t.Run(store.Postgres, func(t *testing.T) {
		o := storetest.NewOutage(t, store.Postgres)
		g := startGateway(t, "postgres.Caddyfile", store.Postgres, "SCOPEGATE_DSN", o.DSN)
		ready(t, g)
		o.Cut(t, nil)
		notReady(t, g)
		o.Restore(t)
		deadline := time.Now().Add(time.Minute)
		for {
			status, body := health(t, g.URL+"/healthz")
			if status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not ready a minute after the database came back: %d %v", status, body)
			}
			time.Sleep(100 * time.Millisecond)
		}
		ready(t, g)
	})
}

// Two nodes of the shipped postgres.Caddyfile on different ports, one
// database, one SCOPEGATE_ISSUER: a token minted on either passes the
// other's guard, and both publish the same issuer.
func TestOneIssuerAcrossNodes(t *testing.T) {
	g := startGateway(t, "postgres.Caddyfile", store.Postgres, "SCOPEGATE_ISSUER", "https://api.example.test")
	admin := bootstrapAdmin(t, g, "/oauth2/token")
	id, secret := createClient(t, g, admin, map[string]any{"name": "roaming", "scopes": []string{"demo.read"}})
	node2 := &gateway{URL: startSecondNode(t, g), CfgPath: g.CfgPath, Upstream: g.Upstream, Driver: g.Driver}

	for _, tc := range []struct{ mint, use *gateway }{{g, node2}, {node2, g}} {
		tok := mustToken(t, tc.mint, id, secret, nil)
		if status, body, h := call(t, "GET", tc.use.URL+"/api/things", tok, nil); status != http.StatusOK || body["client_id"] != id {
			t.Fatalf("a token from %s on %s: %d %v %s", tc.mint.URL, tc.use.URL, status, body, h.Get("WWW-Authenticate"))
		}
	}
	for _, n := range []*gateway{g, node2} {
		if status, meta, _ := call(t, "GET", n.URL+"/.well-known/oauth-authorization-server", "", nil); status != http.StatusOK || meta["issuer"] != "https://api.example.test" {
			t.Fatalf("%s metadata: %d %v", n.URL, status, meta)
		}
	}
}
