package guard

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// serverExchange is newExchange on a request whose server has the given
// errors routes (nil: no handle_errors), for host.
func serverExchange(host string, errorRoutes caddyhttp.RouteList, lines ...string) *exchange {
	x := &exchange{w: httptest.NewRecorder(), repl: caddy.NewReplacer()}
	r := httptest.NewRequest(http.MethodGet, "http://"+host+"/api/items", nil)
	for i := 0; i+1 < len(lines); i += 2 {
		r.Header.Set(lines[i], lines[i+1])
	}
	srv := &caddyhttp.Server{}
	if errorRoutes != nil {
		srv.Errors = &caddyhttp.HTTPErrorConfig{Routes: errorRoutes}
	}
	x.r = caddyhttp.PrepareRequest(r, x.repl, x.w, srv)
	return x
}

// A refusal goes through caddyhttp.Error, as caddyauth's does, when the
// server has a handle_errors route for the request: the guard sets the
// RFC 6750 challenge and returns a HandlerError with the status and the
// oauth.Error, writes no status or body of its own, and exposes the RFC 6750
// fields as {http.error.oauth_*}. Without such a route (none at all, or only
// another site's) it answers the JSON body itself, since Caddy would send
// the status alone. A 503 carries Retry-After either way.
func TestRefusalGoesThroughHandleErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g := e.guard(&Guard{Scopes: []string{"demo.write"}})
		readOnly := "Bearer " + e.token(svc, "", "demo.read")
		anySite := caddyhttp.RouteList{{}}
		otherSite := caddyhttp.RouteList{{MatcherSets: caddyhttp.MatcherSets{{caddyhttp.MatchHost{"other.test"}}}}}

		for name, tc := range map[string]struct {
			routes caddyhttp.RouteList
			authz  string
			status int
			code   string
			desc   string
			scope  string
		}{
			"403 with handle_errors":            {anySite, readOnly, http.StatusForbidden, oauth.InsufficientScope, "the token lacks scope demo.write", "demo.write"},
			"401 with handle_errors":            {anySite, "", http.StatusUnauthorized, oauth.InvalidToken, "no bearer token: send Authorization: Bearer <token>", ""},
			"403 with this site's handle_error": {append(otherSite, caddyhttp.Route{MatcherSets: caddyhttp.MatcherSets{{caddyhttp.MatchHost{"api.test"}}}}), readOnly, http.StatusForbidden, oauth.InsufficientScope, "the token lacks scope demo.write", "demo.write"},
		} {
			t.Run(name, func(t *testing.T) {
				var lines []string
				if tc.authz != "" {
					lines = []string{"Authorization", tc.authz}
				}
				x := serverExchange("api.test", tc.routes, lines...)
				up := new(upstream)
				err := g.ServeHTTP(x.w, x.r, up)
				var he caddyhttp.HandlerError
				if !errors.As(err, &he) || he.StatusCode != tc.status {
					t.Fatalf("ServeHTTP returned %v, want a caddyhttp.HandlerError with status %d", err, tc.status)
				}
				var oe *oauth.Error
				if !errors.As(he.Err, &oe) || oe.Code != tc.code || oe.Description != tc.desc {
					t.Fatalf("the handler error carries %v, want %s: %s", he.Err, tc.code, tc.desc)
				}
				if up.calls.Load() != 0 {
					t.Fatal("the upstream was called")
				}
				if got, want := x.w.Header().Get("WWW-Authenticate"), challenge("scopegate", tc.code, tc.desc, tc.scope); got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
				if x.w.Body.Len() != 0 || x.w.Header().Get("Content-Type") != "" {
					t.Errorf("the guard wrote %q (Content-Type %q); the error routes write the page", x.w.Body.String(), x.w.Header().Get("Content-Type"))
				}
				for k, want := range map[string]string{"http.error.oauth_error": tc.code, "http.error.oauth_error_description": tc.desc, "http.error.oauth_scope": tc.scope} {
					if got := x.placeholder(k); got != want {
						t.Errorf("{%s} = %q, want %q", k, got, want)
					}
				}
			})
		}

		for name, routes := range map[string]caddyhttp.RouteList{"no handle_errors": nil, "another site's handle_errors": otherSite} {
			t.Run(name, func(t *testing.T) {
				x := serverExchange("api.test", routes, "Authorization", readOnly)
				wantRefused(t, x, x.serve(t, g), http.StatusForbidden, oauth.InsufficientScope, "the token lacks scope demo.write", "demo.write")
			})
		}
	})
}
