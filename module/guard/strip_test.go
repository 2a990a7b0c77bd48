package guard

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// chain is a handler that runs h in front of next, as a route does.
type chain struct {
	h    caddyhttp.MiddlewareHandler
	next caddyhttp.Handler
}

func (c chain) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	return c.h.ServeHTTP(w, r, c.next)
}

// scopegate_strip removes, on a route without any guard, every header a
// caller could forge an identity with: the default prefix X-Scopegate-, the
// header_prefix of each guard of the config (X-Identity- here), the default
// impersonation header and each guard's (X-On-Behalf), in the dash, the
// underscore and the dot spelling and in any letter case; so are the headers
// that override the method or path (X-Original-URL, X-HTTP-Method-Override…),
// which upstream frameworks obey after the gateway checked the request's own.
// Other headers, look-alikes included, reach the upstream untouched.
func TestStripRemovesCallerIdentityHeaders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.guard(&Guard{HeaderPrefix: "X-Identity-", Impersonation: &Impersonation{Header: "X-On-Behalf"}})
		s := &Strip{app: e.a}

		x := newExchange("/public/x",
			"X-Scopegate-User-Id: forged",
			"x-scopegate-client-id: forged",
			"X_Scopegate_Tenant: forged",
			"X-Scopegate_Legs: 3",
			"X-Identity-User-Id: forged",
			"x_identity_scopes: forged",
			"X-Act-As-User: u-alice",
			"X_ACT_AS_USER: u-alice",
			"X.Act.As.User: u-alice",
			"X.Scopegate.User.Id: forged",
			"X-On-Behalf: u-alice",
			"x_on_behalf: u-alice",
			"X-Original-URL: /api/admin",
			"X_Rewrite_Url: /api/admin",
			"X-HTTP-Method-Override: DELETE",
			"x-http-method: DELETE",
			"X.Method.Override: DELETE",
			"X-Forwarded-Uri: /api/admin",
			"x_original_method: DELETE",
			"X-Envoy-Original-Path: /api/admin",
			"X-Original-URL-Info: kept",
			"X-Scopegate: kept",
			"X-Scopegatex-User: kept",
			"X-Act-As-User-Id: kept",
			"X-Other: kept")
		x.r.Header["X-SCOPEGATE-SCOPES"] = []string{"forged"} // raw map entry, as sent
		up := new(upstream)
		if err := (chain{s, up}).ServeHTTP(x.w, x.r); err != nil {
			t.Fatal(err)
		}
		got := slices.Sorted(func(yield func(string) bool) {
			for k := range up.header {
				if !yield(k) {
					return
				}
			}
		})
		if want := []string{"X-Act-As-User-Id", "X-Original-Url-Info", "X-Other", "X-Scopegate", "X-Scopegatex-User"}; !slices.Equal(got, want) {
			t.Fatalf("upstream headers = %q, want %q", got, want)
		}
	})
}

// Behind scopegate_strip impersonation still works: the guard reads the
// header Strip set aside, honours it on its route and refuses it on a route
// without impersonation, exactly as without Strip, also behind two Strips;
// neither the header nor the set-aside copy reaches the upstream.
func TestStripKeepsImpersonationForTheGuard(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		on := e.guard(&Guard{Impersonation: &Impersonation{}})
		off := e.guard(&Guard{})
		s := &Strip{app: e.a}
		raw := e.token(svc, "", "demo.read")

		x := newExchange("/", bearerLine(raw), "X-Act-As-User: "+alice, "X-Scopegate-User-Id: forged")
		up := new(upstream)
		if err := (chain{s, chain{on, up}}).ServeHTTP(x.w, x.r); err != nil {
			t.Fatal(err)
		}
		wantPassed(t, x, up)
		if got := up.header.Values("X-Scopegate-User-Id"); len(got) != 1 || got[0] != alice {
			t.Errorf("X-Scopegate-User-Id = %q, want [%s]", got, alice)
		}
		if got := up.header.Get("X-Scopegate-Actor-Client-Id"); got != svc {
			t.Errorf("X-Scopegate-Actor-Client-Id = %q, want %s", got, svc)
		}
		if v, ok := up.header["X-Act-As-User"]; ok {
			t.Errorf("the impersonation header reached the upstream: %q", v)
		}
		if v, _ := caddyhttp.GetVar(up.req.Context(), varMoved).(http.Header); len(v) != 0 {
			t.Errorf("the set-aside impersonation headers are still in the request: %v", v)
		}

		x = newExchange("/", bearerLine(raw), "X-Act-As-User: "+alice)
		up = new(upstream)
		if err := (chain{s, chain{off, up}}).ServeHTTP(x.w, x.r); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, x, up, http.StatusForbidden, oauth.InsufficientScope, "impersonation (X-Act-As-User) is not enabled on this route", "")

		// A second Strip on the request (the site's and a route's or a
		// snippet's) keeps what the first set aside: the guard still acts
		// as alice, and refuses where impersonation is not enabled.
		x = newExchange("/", bearerLine(raw), "X-Act-As-User: "+alice)
		up = new(upstream)
		if err := (chain{s, chain{s, chain{on, up}}}).ServeHTTP(x.w, x.r); err != nil {
			t.Fatal(err)
		}
		wantPassed(t, x, up)
		if got := up.header.Get("X-Scopegate-User-Id"); got != alice {
			t.Errorf("behind two Strips: X-Scopegate-User-Id = %q, want %s", got, alice)
		}
		x = newExchange("/", bearerLine(raw), "X-Act-As-User: "+alice)
		up = new(upstream)
		if err := (chain{s, chain{s, chain{off, up}}}).ServeHTTP(x.w, x.r); err != nil {
			t.Fatal(err)
		}
		wantRefused(t, x, up, http.StatusForbidden, oauth.InsufficientScope, "impersonation (X-Act-As-User) is not enabled on this route", "")
	})
}

// scopegate_strip runs on every request: when no caller identity header is
// present it allocates nothing.
func TestStripAllocatesNothingWithoutIdentityHeaders(t *testing.T) {
	e := newEnv(t, "sqlite")
	e.guard(&Guard{HeaderPrefix: "X-Identity-", Impersonation: &Impersonation{Header: "X-On-Behalf"}})
	s := &Strip{app: e.a}
	r := httptest.NewRequest(http.MethodGet, "/public/x", nil)
	for _, h := range []string{"Accept", "Accept-Encoding", "User-Agent", "X-Forwarded-For", "X-Request-Id", "Authorization", "X-Scopegate", "Cookie"} {
		r.Header.Set(h, "v")
	}
	w := httptest.NewRecorder()
	r = caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, nil)
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	if n := testing.AllocsPerRun(200, func() {
		if err := s.ServeHTTP(w, r, next); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("ServeHTTP allocates %.1f times per request without identity headers", n)
	}
	if len(r.Header) != 8 {
		t.Errorf("headers were removed: %v", r.Header)
	}
}

// dropHopByHop removes the headers the caller's Connection names and keeps
// in Connection only close, keep-alive, Upgrade and Authorization (the
// guard still reads it; the proxy removes it later), with Upgrade's header
// kept for WebSockets alone (any case); TE leaves Connection but its header
// stays. Any other upgrade (h2c with its HTTP2-Settings, a list that offers
// h2c too, two Upgrade headers, TLS) loses its Upgrade header and leaves
// Connection, so reverse_proxy never tunnels it.
func TestDropHopByHop(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   http.Header
		want http.Header
	}{
		{"none", http.Header{"A": {"1"}}, http.Header{"A": {"1"}}},
		{"identity names", http.Header{
			"Connection":            {"keep-alive, X-Scopegate-Client-Id", " x-scopegate-tenant ,,X-Own"},
			"X-Scopegate-Client-Id": {"set"}, "X-Scopegate-Tenant": {"set"}, "X-Own": {"1"}, "Keep-Alive": {"timeout=5"},
		}, http.Header{"Connection": {"keep-alive"}, "Keep-Alive": {"timeout=5"}}},
		{"only names", http.Header{"Connection": {"X-Own"}, "X-Own": {"1"}}, http.Header{}},
		{"websocket", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}},
			http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}},
		{"websocket in any case", http.Header{"Connection": {"upgrade"}, "Upgrade": {" WebSocket "}},
			http.Header{"Connection": {"upgrade"}, "Upgrade": {" WebSocket "}}},
		{"h2c", http.Header{"Connection": {"Upgrade, HTTP2-Settings"}, "Upgrade": {"h2c"}, "Http2-Settings": {"AAMAAABkAARAAAAAAAIAAAAA"}},
			http.Header{}},
		{"h2c, settings not named", http.Header{"Connection": {"keep-alive, Upgrade"}, "Upgrade": {"h2c"}, "Http2-Settings": {"AAMAAABk"}},
			http.Header{"Connection": {"keep-alive"}}},
		{"websocket or h2c", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket, h2c"}}, http.Header{}},
		{"two upgrade headers", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket", "h2c"}}, http.Header{}},
		{"tls", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"TLS/1.0"}}, http.Header{}},
		{"upgrade not in connection", http.Header{"Connection": {"close"}, "Upgrade": {"h2c"}}, http.Header{"Connection": {"close"}}},
		{"authorization and te", http.Header{"Connection": {"TE, Authorization, close"}, "Te": {"trailers"}, "Authorization": {"Bearer x"}},
			http.Header{"Connection": {"Authorization, close"}, "Te": {"trailers"}, "Authorization": {"Bearer x"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dropHopByHop(tc.in)
			if !reflect.DeepEqual(tc.in, tc.want) {
				t.Errorf("got %v, want %v", tc.in, tc.want)
			}
		})
	}
}

// A Connection header that names only what stays in it (a browser's
// keep-alive, or what scopegate_strip left for the guard) costs no
// allocation and is left as it is.
func TestDropHopByHopKeepsCleanConnectionForFree(t *testing.T) {
	h := http.Header{"Connection": {"keep-alive, Upgrade"}, "Upgrade": {"websocket"}}
	if n := testing.AllocsPerRun(100, func() { dropHopByHop(h) }); n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
	if got := h["Connection"]; len(got) != 1 || got[0] != "keep-alive, Upgrade" {
		t.Errorf("Connection = %q, want it unchanged", got)
	}
}

// scopegate_strip refuses, on every route, a request whose path is unclear
// (dot segments raw or encoded, ';', backslashes, escapes left after
// decoding, control characters, invalid UTF-8) with 400 invalid_request in
// JSON, before any handler behind it runs: Caddy matches routes by the
// cleaned path but proxies the path as sent, so such a path could leave a
// guarded prefix or reach a guarded resource of the upstream through an
// unguarded route. Clear paths (empty segments, dots inside names, UTF-8)
// pass, and allow_unclear_paths lets the unclear ones through.
func TestStripRefusesUnclearPaths(t *testing.T) {
	e := newEnv(t, "sqlite")
	core, logs := observer.New(zap.InfoLevel)
	strict, lenient := &Strip{app: e.a, refusals: zap.New(core)}, &Strip{app: e.a, AllowUnclearPaths: true}
	unclear := []string{"/public/..;/api/x", "/api/../public/x", "/api/%2e%2e/public/x", "/public/.%2E/api/x",
		"/public/x%5c..%5capi", "/public/x;jsessionid=1", "/public/%252e%252e/api", "/public/a%00b", "/public/%ff", "/public/./x",
		"/public/%EF%BC%8E%EF%BC%8E/api/x", "/public/%E2%80%A5/api/x", "/public/..%ef%bc%8f..%ef%bc%8fapi", "/public/%25u002e%25u002e/api/x", "/public/..+/api/x",
		"//public/api/items/1", "//", "/%2Fpublic/api/x", "/∕public/api/items/1", "/%C2%A5public/api/x"}
	for _, p := range unclear {
		x := newExchange(p)
		up := new(upstream)
		if err := (chain{strict, up}).ServeHTTP(x.w, x.r); err != nil {
			t.Fatal(err)
		}
		body := x.w.Body.String()
		if x.w.Code != http.StatusBadRequest || up.calls.Load() != 0 || !strings.Contains(body, `"error":"invalid_request"`) ||
			!strings.Contains(x.w.Header().Get("Content-Type"), "application/json") {
			t.Errorf("%s: %d %s (upstream called %d times), want 400 invalid_request before the upstream", p, x.w.Code, body, up.calls.Load())
		}
		x = newExchange(p)
		up = new(upstream)
		if err := (chain{lenient, up}).ServeHTTP(x.w, x.r); err != nil {
			t.Fatal(err)
		}
		if up.calls.Load() != 1 {
			t.Errorf("%s with allow_unclear_paths: the upstream was not called (%d)", p, x.w.Code)
		}
	}
	// Each refusal is logged (the first lines of a second: sampled), with
	// the path, so an operator sees why a caller got 400.
	if lines := logs.FilterMessage("unclear path refused").All(); len(lines) != len(unclear) || lines[0].ContextMap()["path"] != unclear[0] {
		t.Errorf("logged refusals: %d lines (first %v), want %d starting with path %s", len(lines), lines, len(unclear), unclear[0])
	}
	for _, p := range []string{"/public/x", "/public//x", "/public/a.b/c..d", "/public/%E2%82%AC", "/", "/.well-known/jwks.json", "/public/50%25off"} {
		x := newExchange(p)
		up := new(upstream)
		if err := (chain{strict, up}).ServeHTTP(x.w, x.r); err != nil {
			t.Fatal(err)
		}
		if up.calls.Load() != 1 {
			t.Errorf("clear path %s: %d %s, want it passed on", p, x.w.Code, x.w.Body.String())
		}
	}
}

// Strip refuses an unclear path before any route, so it cannot tell whether
// a guard would have answered: a caller that sent a bearer token (any case
// of the scheme) gets the RFC 6750 challenge a guard gives its 400s
// (Bearer realm="scopegate", error="invalid_request"), beside the same JSON
// body; a caller without one, or with another scheme, gets the JSON alone.
func TestStripChallengesBearerCallersOnUnclearPaths(t *testing.T) {
	e := newEnv(t, "sqlite")
	s := &Strip{app: e.a}
	for _, tc := range []struct {
		lines     []string
		challenge bool
	}{
		{[]string{"Authorization: Bearer abc"}, true},
		{[]string{"Authorization: bearer abc"}, true},
		{nil, false},
		{[]string{"Authorization: Basic YTpi"}, false},
	} {
		x := newExchange("/api/../api/x", tc.lines...)
		up := new(upstream)
		if err := (chain{s, up}).ServeHTTP(x.w, x.r); err != nil {
			t.Fatal(err)
		}
		if x.w.Code != http.StatusBadRequest || up.calls.Load() != 0 || !strings.Contains(x.w.Body.String(), `"error":"invalid_request"`) {
			t.Fatalf("%q: %d %s, want 400 invalid_request", tc.lines, x.w.Code, x.w.Body.String())
		}
		got := x.w.Header().Get("WWW-Authenticate")
		want := ""
		if tc.challenge {
			want = `Bearer realm="scopegate", error="invalid_request", error_description="` + descUnclearPath + `"`
		}
		if got != want {
			t.Errorf("%q: WWW-Authenticate %q, want %q", tc.lines, got, want)
		}
	}
}

// scopegate_strip removes the headers other gateways vouch for a caller
// with (Kong's X-Consumer-*, oauth2-proxy's X-Forwarded-User and
// X-Auth-Request-*, Remote-User, …) on every request, a trusted proxy's
// too (a load balancer passes a caller's copy on unchanged), in any
// spelling; and the headers naming the client's address or scheme that
// Caddy's proxy passes on as sent (Forwarded, X-Real-IP, X-Forwarded-Prefix,
// …) unless the peer is one of trusted_proxies. X-Forwarded-For, -Proto and
// -Host, which the proxy itself sets, and look-alikes are left alone.
// keep_headers keeps the names it lists, whoever the peer.
func TestStripRemovesOtherGatewaysHeaders(t *testing.T) {
	e := newEnv(t, "sqlite")
	identity := []string{"Remote-User: admin", "X-Forwarded-User: admin", "x-forwarded-email: a@b", "X-Auth-Request-User: admin",
		"X-Consumer-Username: admin", "X-Authenticated-Userid: admin", "X-Remote-User: admin", "X-Webauth-User: admin",
		"X-Ms-Client-Principal-Name: admin", "Cf-Access-Authenticated-User-Email: a@b", "X-Amzn-Oidc-Identity: admin",
		"X-Forwarded-Client-Cert: forged", "X-Pomerium-Claim-Email: a@b", "X_Forwarded_User: admin",
		"X-Forwarded-Tls-Client-Cert: forged", "X-Token-User-Email: a@b", "X-Authentik-Username: admin", "Ssl-Client-Verify: SUCCESS"}
	address := []string{"Forwarded: for=10.0.0.1", "X-Real-IP: 10.0.0.1", "True-Client-IP: 10.0.0.1", "X-Client-IP: 10.0.0.1",
		"X-Forwarded-Prefix: /admin", "X-Forwarded-Port: 443", "X-Forwarded-Server: internal", "X-Forwarded-Ssl: on",
		"Wl-Proxy-Client-Ip: 10.0.0.1", "X-Scheme: https"}
	others := []string{"X-Forwarded-For: 10.0.0.1", "X-Forwarded-Proto: https", "X-Forwarded-Host: api.example",
		"X-Remote-Username-Hint: kept", "X-Users: kept", "Remote-Userx: kept", "Accept: */*",
		"X-Auth-Email: api@example.com", "X-Auth-Key: kept"} // Cloudflare-style API credentials
	run := func(t *testing.T, s *Strip, trusted bool) []string {
		t.Helper()
		x := newExchange("/public/x", slices.Concat(identity, address, others)...)
		if trusted {
			caddyhttp.SetVar(x.r.Context(), caddyhttp.TrustedProxyVarKey, true)
		}
		up := new(upstream)
		if err := (chain{s, up}).ServeHTTP(x.w, x.r); err != nil {
			t.Fatal(err)
		}
		return slices.Sorted(func(yield func(string) bool) {
			for k := range up.header {
				if !yield(k) {
					return
				}
			}
		})
	}
	names := func(lines []string) []string {
		var out []string
		for _, l := range lines {
			name, _, _ := strings.Cut(l, ":")
			out = append(out, http.CanonicalHeaderKey(name))
		}
		return out
	}
	s := &Strip{app: e.a}
	if got, want := run(t, s, false), slices.Sorted(slices.Values(names(others))); !slices.Equal(got, want) {
		t.Errorf("from an untrusted peer the upstream got %q, want %q", got, want)
	}
	if got, want := run(t, s, true), slices.Sorted(slices.Values(names(slices.Concat(address, others)))); !slices.Equal(got, want) {
		t.Errorf("from a trusted proxy the upstream got %q, want %q", got, want)
	}
	keep := &Strip{app: e.a, KeepHeaders: []string{"x-real-ip", "Remote-User"}}
	if err := keep.checkKeepHeaders(); err != nil {
		t.Fatal(err)
	}
	if got, want := run(t, keep, false), slices.Sorted(slices.Values(append(names(others), "Remote-User", "X-Real-Ip"))); !slices.Equal(got, want) {
		t.Errorf("with keep_headers the upstream got %q, want %q", got, want)
	}
}

// keep_headers names only headers strip removes as another gateway's
// identity or the client's address: a typo, a header strip never removes,
// Scopegate's own names or an override header are refused at load.
func TestStripKeepHeadersRefusesOtherNames(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, name := range []string{"X-Real-Ipp", "Accept", "X-Forwarded-For", "X-Scopegate-User-Id", "X-Act-As-User",
		"X-Original-URL", "X_Real_IP", "Bad Name", ""} {
		s := &Strip{app: e.a, KeepHeaders: []string{name}}
		if err := s.checkKeepHeaders(); err == nil || !strings.Contains(err.Error(), "keep_headers") {
			t.Errorf("keep_headers %q: %v, want it refused", name, err)
		}
	}
}

// Every name and prefix in the lists of other gateways' headers is found
// by othersHeader, in canonical and lower case (its first-letter filter
// must not skip a name added to a list later), and X-Forwarded-For,
// -Proto and -Host never are.
func TestOthersHeaderFindsEveryListedName(t *testing.T) {
	for _, n := range slices.Concat(othersIdentityHeaders, clientAddressHeaders) {
		for _, spelled := range []string{n, strings.ToLower(n), strings.ReplaceAll(n, "-", "_")} {
			if othersHeader(spelled) == notOthers {
				t.Errorf("%s is not found", spelled)
			}
		}
	}
	for _, p := range othersIdentityPrefixes {
		if othersHeader(p+"Name") != othersIdentity {
			t.Errorf("%sName is not found", p)
		}
	}
	for _, n := range caddyForwarded {
		if othersHeader(n) != notOthers {
			t.Errorf("%s, which Caddy's proxy sets, is removed", n)
		}
	}
}
