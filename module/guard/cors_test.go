package guard

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
)

const pageOrigin = "https://app.example.com"

func corsGuard(e *env) *Guard {
	return e.guard(&Guard{Scopes: []string{"demo.read"}, WriteScopes: []string{"demo.write"},
		CORS: &CORS{Origins: []string{pageOrigin, "https://*.partner.example"}}})
}

// preflight builds a browser's preflight of a method from origin.
func preflight(origin, method string) *exchange {
	x := newExchange("/apps/app-1/items", "Origin: "+origin, "Access-Control-Request-Method: "+method,
		"Access-Control-Request-Headers: authorization,content-type")
	x.r.Method = http.MethodOptions
	return x
}

// A preflight from an allowed origin carries no token and is answered by
// the guard itself (204, the method and headers asked for, the max age),
// never passed to the upstream; wildcard origins match their subdomains.
func TestCORSPreflightAnsweredByTheGuard(t *testing.T) {
	e := newEnv(t, store.SQLite)
	g := corsGuard(e)
	for _, origin := range []string{pageOrigin, "https://eu.partner.example"} {
		x := preflight(origin, "DELETE")
		up := x.serve(t, g)
		if up.calls.Load() != 0 {
			t.Fatalf("%s: the preflight reached the upstream", origin)
		}
		h := x.w.Header()
		if x.w.Code != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != origin ||
			h.Get("Access-Control-Allow-Methods") != "DELETE" || h.Get("Access-Control-Allow-Headers") != "authorization,content-type" ||
			h.Get("Access-Control-Max-Age") != "600" || !strings.Contains(strings.Join(h.Values("Vary"), ","), "Origin") {
			t.Fatalf("%s: preflight answered %d %v, want 204 allowing DELETE for the origin", origin, x.w.Code, h)
		}
		if h.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("%s: credentials allowed: %v", origin, h)
		}
	}
}

// Without an allowed origin a preflight is a request like any other, and
// so is an OPTIONS without Access-Control-Request-Method from an allowed
// origin: no token, 401. A guard without cors refuses preflights as before.
func TestCORSOtherRequestsNeedAToken(t *testing.T) {
	e := newEnv(t, store.SQLite)
	g := corsGuard(e)
	cases := map[string]*exchange{
		"other origin":          preflight("https://evil.example", "GET"),
		"lookalike of wildcard": preflight("https://partner.example.evil", "GET"),
		"null origin":           preflight("null", "GET"),
		"http for https":        preflight("http://app.example.com", "GET"),
	}
	plain := newExchange("/apps/app-1/items", "Origin: "+pageOrigin)
	plain.r.Method = http.MethodOptions
	cases["OPTIONS, no preflight"] = plain
	for name, x := range cases {
		up := x.serve(t, g)
		if n := up.calls.Load(); n != 0 || x.w.Code != http.StatusUnauthorized {
			t.Fatalf("%s: status %d, upstream calls %d; want 401 and no call", name, x.w.Code, n)
		}
	}
	noCORS := e.guard(&Guard{Scopes: []string{"demo.read"}})
	x := preflight(pageOrigin, "GET")
	wantRefused(t, x, x.serve(t, noCORS), http.StatusUnauthorized, oauth.InvalidToken, descNoBearer, "")
	if h := x.w.Header().Get("Access-Control-Allow-Origin"); h != "" {
		t.Fatalf("a guard without cors allowed origin %q", h)
	}
}

// corsUpstream answers with CORS headers of its own, as an API written for
// browsers may.
type corsUpstream struct{ upstream }

func (u *corsUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) error {
	w.Header().Add("Access-Control-Allow-Origin", "*")
	w.Header().Add("Access-Control-Allow-Credentials", "true")
	w.Header().Add("Access-Control-Expose-Headers", "X-Internal")
	return u.upstream.ServeHTTP(w, r)
}

// A call from an allowed origin gets the origin back and WWW-Authenticate
// exposed, passed or refused (the page must read why: refresh on 401,
// another scope on 403); the upstream's own CORS headers are replaced, not
// doubled (a browser refuses two Access-Control-Allow-Origin values). A call
// from another origin passes the guard as before, with no CORS header at
// all, the upstream's removed too.
func TestCORSCallsMarkedReadable(t *testing.T) {
	e := newEnv(t, store.SQLite)
	g := corsGuard(e)
	tok := e.token(svc, alice, "demo.read")
	wantOurs := func(name string, h http.Header) {
		t.Helper()
		if got := h.Values("Access-Control-Allow-Origin"); !slices.Equal(got, []string{pageOrigin}) {
			t.Fatalf("%s: Access-Control-Allow-Origin = %q, want only %s", name, got, pageOrigin)
		}
		if got := h.Values("Access-Control-Expose-Headers"); !slices.Equal(got, []string{"Www-Authenticate"}) {
			t.Fatalf("%s: Access-Control-Expose-Headers = %q", name, got)
		}
		if h.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("%s: credentials allowed", name)
		}
	}

	x := newExchange("/apps/app-1/items", "Origin: "+pageOrigin, bearerLine(tok))
	up := &corsUpstream{}
	if err := g.ServeHTTP(x.w, x.r, up); err != nil {
		t.Fatal(err)
	}
	wantPassed(t, x, &up.upstream)
	wantOurs("passed", x.w.Header())

	x = newExchange("/apps/app-1/items", "Origin: "+pageOrigin, bearerLine(tok))
	x.r.Method = http.MethodDelete
	wantRefused(t, x, x.serve(t, g), http.StatusForbidden, oauth.InsufficientScope, "the token lacks scope demo.write", "demo.write")
	wantOurs("refused for scope", x.w.Header())

	x = newExchange("/apps/app-1/items", "Origin: "+pageOrigin)
	wantRefused(t, x, x.serve(t, g), http.StatusUnauthorized, oauth.InvalidToken, descNoBearer, "")
	wantOurs("refused without token", x.w.Header())

	x = newExchange("/apps/app-1/items", "Origin: https://evil.example", bearerLine(tok))
	up = &corsUpstream{}
	if err := g.ServeHTTP(x.w, x.r, up); err != nil {
		t.Fatal(err)
	}
	wantPassed(t, x, &up.upstream)
	for k := range x.w.Header() {
		if isCORSHeader(k) {
			t.Fatalf("a call from another origin was answered %s: %v", k, x.w.Header())
		}
	}
}

// Configurations that would allow nothing, or look as if they restricted
// more than an origin can, are refused: no origins (an unset {$VAR}),
// "null", paths, users, other schemes, two wildcards, a wildcard outside
// the host; the forms browsers send are accepted.
func TestCORSOriginsChecked(t *testing.T) {
	for _, bad := range [][]string{nil, {""}, {"null"}, {"https://app.example.com/"}, {"https://app.example.com/api"},
		{"ftp://app.example.com"}, {"https://u@app.example.com"}, {"app.example.com"}, {"https://*.*.example.com"},
		{"*://app.example.com"}, {"https://app.example.com?x"}, {"https://app.example.com#"}} {
		g := &Guard{Scopes: []string{"demo.read"}, HeaderPrefix: DefaultHeaderPrefix, CORS: &CORS{Origins: bad}}
		if err := g.Validate(); err == nil {
			t.Fatalf("origins %q accepted", bad)
		}
	}
	for _, bad := range []CORS{{Methods: []string{"GET POST"}}, {Headers: []string{"a:b"}}, {MaxAge: caddy.Duration(-time.Second)}} {
		bad.Origins = []string{pageOrigin}
		g := &Guard{Scopes: []string{"demo.read"}, HeaderPrefix: DefaultHeaderPrefix, CORS: &bad}
		if err := g.Validate(); err == nil {
			t.Fatalf("%+v accepted", bad)
		}
	}
	for _, good := range []string{"*", pageOrigin, "http://127.0.0.1:3000", "https://*.example.com", "http://[::1]:8080"} {
		g := &Guard{Scopes: []string{"demo.read"}, HeaderPrefix: DefaultHeaderPrefix, CORS: &CORS{Origins: []string{good}}}
		if err := g.Validate(); err != nil {
			t.Fatalf("origin %q refused: %v", good, err)
		}
	}
}

// The Caddyfile's cors takes origins inline or in its block, with methods,
// headers, expose_headers and max_age; unknown and repeated options are
// errors, and so is a cors with no origin once checked.
func TestCORSCaddyfile(t *testing.T) {
	g := new(Guard)
	d := caddyfile.NewTestDispenser(`scopegate_guard demo.read {
		cors https://a.example {
			origins https://b.example
			methods GET PUT
			headers Authorization Content-Type
			expose_headers X-Request-Id
			max_age 1h
		}
	}`)
	if err := g.UnmarshalCaddyfile(d); err != nil {
		t.Fatal(err)
	}
	want := CORS{Origins: []string{"https://a.example", "https://b.example"}, Methods: []string{"GET", "PUT"},
		Headers: []string{"Authorization", "Content-Type"}, ExposeHeaders: []string{"X-Request-Id"}, MaxAge: caddy.Duration(time.Hour)}
	if c := g.CORS; c == nil || !slices.Equal(c.Origins, want.Origins) || !slices.Equal(c.Methods, want.Methods) ||
		!slices.Equal(c.Headers, want.Headers) || !slices.Equal(c.ExposeHeaders, want.ExposeHeaders) || c.MaxAge != want.MaxAge {
		t.Fatalf("cors = %+v, want %+v", g.CORS, want)
	}
	for _, bad := range []string{
		"scopegate_guard demo.read {\n cors https://a.example {\n credentials\n }\n}",
		"scopegate_guard demo.read {\n cors https://a.example {\n max_age 1h\n max_age 2h\n }\n}",
		"scopegate_guard demo.read {\n cors https://a.example {\n max_age soon\n }\n}",
		"scopegate_guard demo.read {\n cors https://a.example\n cors https://b.example\n}",
	} {
		if err := new(Guard).UnmarshalCaddyfile(caddyfile.NewTestDispenser(bad)); err == nil {
			t.Fatalf("accepted:\n%s", bad)
		}
	}
	g = new(Guard)
	if err := g.UnmarshalCaddyfile(caddyfile.NewTestDispenser("scopegate_guard demo.read {\n cors\n}")); err != nil {
		t.Fatal(err)
	}
	g.HeaderPrefix = DefaultHeaderPrefix
	if err := g.Validate(); err == nil || !strings.Contains(err.Error(), "origins") {
		t.Fatalf("a cors with no origin: %v", err)
	}
}
