package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/scopegate/scopegate/module/app/apptest"
)

// A config whose app failed to start (a reload to a database that is down)
// may still get requests before Caddy unwinds it: the API answers a 503
// problem with Retry-After and the console a 503 page, where both
// dereferenced the runtime that was never opened.
func TestAdminAfterAFailedStart(t *testing.T) {
	a := apptest.Unopened(t)
	h := new(Handler)
	h.setup(a, zaptest.NewLogger(t))
	e := &env{t: t, app: a, h: h}

	w := e.do(http.MethodGet, "/clients", "some.token.here", nil)
	var p problem
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" ||
		w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil {
		t.Errorf("API: %d %q %q %s, want a 503 problem with Retry-After", w.Code, w.Header().Get("Content-Type"), w.Header().Get("Retry-After"), w.Body)
	}

	w = e.do(http.MethodGet, "/console/apps", "", nil)
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" ||
		!strings.Contains(w.Body.String(), "database is unavailable") {
		t.Errorf("console: %d %q, want the 503 page with Retry-After; body %.300s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}

	// The API description needs no database.
	if w = e.do(http.MethodGet, "/openapi.json", "", nil); w.Code != http.StatusOK {
		t.Errorf("openapi.json: %d", w.Code)
	}
}
