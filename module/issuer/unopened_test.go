package issuer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/oauth"
)

// A config whose app failed to start (a reload to a database that is down)
// may still get requests before Caddy unwinds it. Every endpoint answers
// 503 temporarily_unavailable with Retry-After, in its own format, instead
// of panicking on the runtime that was never opened (the token endpoint,
// the JWKS and the others dereferenced it and dropped the connection).
func TestEndpointsAfterAFailedStart(t *testing.T) {
	a := apptest.Unopened(t)
	token := &TokenEndpoint{}
	if err := token.setup(a, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	authorize := &Authorize{}
	if err := authorize.setup(a, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	discovery := &Discovery{}
	discovery.setup(a)
	form := func(path string, v url.Values) *http.Request {
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(v.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return withBasic(r, "c-1", "secret")
	}
	for _, tc := range []struct {
		name string
		h    caddyhttp.MiddlewareHandler
		r    *http.Request
		json bool // an RFC 6749 error object; else the HTML error page
	}{
		{"token", token, form("/oauth2/token", ccForm()), true},
		{"revoke", &Revocation{app: a, logger: zap.NewNop()}, form("/oauth2/revoke", url.Values{"token": {"x"}}), true},
		{"introspect", &Introspection{app: a, logger: zap.NewNop()}, form("/oauth2/introspect", url.Values{"token": {"x"}}), true},
		{"jwks", discovery, httptest.NewRequest(http.MethodGet, "/.well-known/jwks.json", nil), true},
		{"authorize", authorize, httptest.NewRequest(http.MethodGet, "/oauth/authorize?response_type=token&client_id=c-1", nil), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			if err := tc.h.ServeHTTP(w, tc.r, &nextRecorder{}); err != nil {
				t.Fatalf("ServeHTTP: %v", err)
			}
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
				t.Fatalf("status %d, Retry-After %q, want 503 with Retry-After; body %s", w.Code, w.Header().Get("Retry-After"), w.Body)
			}
			if !tc.json {
				return
			}
			var body struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != oauth.TemporarilyUnavail {
				t.Errorf("body %s, want error %q", w.Body, oauth.TemporarilyUnavail)
			}
		})
	}
	// A write to the JWKS is a 405 whatever the app's state (a review: it
	// was 503 before the database opened).
	w := httptest.NewRecorder()
	if err := discovery.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/.well-known/jwks.json", nil), &nextRecorder{}); err != nil ||
		w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST to the JWKS of an unopened app: %v %d Allow %q, want 405", err, w.Code, w.Header().Get("Allow"))
	}
	// The metadata names the endpoints from the config alone: it still
	// answers.
	var m map[string]any
	getJSON(t, discovery, "/.well-known/oauth-authorization-server", &m)
	if m["issuer"] != apptest.Issuer {
		t.Errorf("metadata issuer %v", m["issuer"])
	}
}
