package guard

import (
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app/apptest"
)

// A config whose app failed to start (a reload to a database that is down)
// may still get requests before Caddy unwinds it: the guard answers 503
// temporarily_unavailable (RFC 6749 JSON, as for any database outage) with
// Retry-After and passes nothing upstream, where it panicked on the
// runtime that was never opened.
func TestGuardAfterAFailedStart(t *testing.T) {
	g := &Guard{Scopes: []string{"demo.read"}}
	if err := g.setup(apptest.Unopened(t), zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	x := newExchange("/api/x", bearerLine("e30.e30.c2ln"))
	up := &upstream{}
	if err := g.ServeHTTP(x.w, x.r, up); err != nil {
		t.Fatal(err)
	}
	if x.w.Code != http.StatusServiceUnavailable || x.w.Header().Get("Retry-After") == "" ||
		!strings.Contains(x.w.Body.String(), `"temporarily_unavailable"`) {
		t.Errorf("%d, Retry-After %q, body %s: want 503 temporarily_unavailable with Retry-After",
			x.w.Code, x.w.Header().Get("Retry-After"), x.w.Body)
	}
	if up.calls.Load() != 0 {
		t.Error("the request reached the upstream")
	}
}
