package health

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store/storetest"
)

func probe(t *testing.T, h *Health, method, target string) (int, answer, http.Header) {
	t.Helper()
	w := httptest.NewRecorder()
	err := h.ServeHTTP(w, httptest.NewRequest(method, target, nil), nil)
	if err != nil {
		if he, ok := err.(caddyhttp.HandlerError); ok {
			return he.StatusCode, answer{}, w.Header()
		}
		t.Fatal(err)
	}
	var a answer
	if method != http.MethodHead {
		if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil {
			t.Fatalf("%s %s: not JSON: %q", method, target, w.Body.String())
		}
	}
	return w.Code, a, w.Header()
}

// Liveness (/live or ?live) answers 200 whatever the database; readiness
// answers 200 with every check "ok" while the database answers, and 503
// naming the failed check once it does not. Other methods than GET and
// HEAD are 405.
func TestHealth(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		o := storetest.NewOutage(t, driver)
		a := apptest.Open(t, driver, func(a *app.App) { a.Database.DSN = o.DSN })
		h := &Health{app: a, logger: zap.NewNop()}

		status, body, hdr := probe(t, h, "GET", "/healthz")
		if status != 200 || body.Status != "ok" || body.Checks["database"] != "ok" || body.Checks["keys"] != "ok" ||
			body.Checks["change_feed"] != "ok" || hdr.Get("Content-Type") != "application/json" || hdr.Get("Cache-Control") != "no-store" {
			t.Fatalf("ready: %d %+v %v", status, body, hdr)
		}
		if status, _, _ := probe(t, h, "HEAD", "/healthz/ready"); status != 200 {
			t.Fatalf("HEAD: %d", status)
		}
		if status, _, hdr := probe(t, h, "POST", "/healthz"); status != 405 || hdr.Get("Allow") != "GET, HEAD" {
			t.Fatalf("POST: %d, Allow %q", status, hdr.Get("Allow"))
		}

		o.Cut(t, a.Store())
		status, body, _ = probe(t, h, "GET", "/healthz")
		if status != http.StatusServiceUnavailable || body.Status != "unavailable" || body.Checks["database"] != "unavailable" || body.Checks["keys"] != "ok" {
			t.Fatalf("database down: %d %+v", status, body)
		}
		for _, live := range []string{"/healthz/live", "/healthz/live/", "/healthz?live"} {
			if status, body, _ := probe(t, h, "GET", live); status != 200 || body.Status != "ok" || body.Checks != nil {
				t.Errorf("%s with the database down: %d %+v", live, status, body)
			}
		}
	})
}

// `scopegate health` takes no arguments and no options.
func TestHealthCaddyfile(t *testing.T) {
	for _, tc := range []struct {
		input string
		ok    bool
	}{
		{"health", true},
		{"health extra", false},
		{"health {\n\tcheck db\n}", false},
	} {
		d := caddyfile.NewTestDispenser(tc.input)
		d.Next() // "health", as the scopegate dispatcher leaves it
		err := new(Health).UnmarshalCaddyfile(d)
		if (err == nil) != tc.ok {
			t.Errorf("%q: error %v", tc.input, err)
		}
	}
	var _ caddy.Module = new(Health)
}
