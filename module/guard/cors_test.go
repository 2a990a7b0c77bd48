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
		{"*://app.example.com"}, {"https://app.example.com?x"}, {"https://app.example.com#"},
		// A * inside a label or the port would match hosts anyone can
		// register (app.example.com.evil.net, evilexample.com); a
		// scheme's own port is one no browser sends.
		{"https://app.example.com*"}, {"https://*example.com"}, {"https://*:8443"}, {"https://a.*.example.com"},
		{"https://app.example.com:443"}, {"http://app.example.com:80"}} {
		g := &Guard{Scopes: []string{"demo.read"}, HeaderPrefix: DefaultHeaderPrefix, CORS: &CORS{Origins: bad}}
		if err := g.Validate(); err == nil {
			t.Fatalf("origins %q accepted", bad)
		}
	}
	negative, fraction := caddy.Duration(-time.Second), caddy.Duration(500*time.Millisecond)
	for _, bad := range []CORS{{Methods: []string{"GET POST"}}, {Headers: []string{"a:b"}}, {MaxAge: &negative}, {MaxAge: &fraction}} {
		bad.Origins = []string{pageOrigin}
		g := &Guard{Scopes: []string{"demo.read"}, HeaderPrefix: DefaultHeaderPrefix, CORS: &bad}
		if err := g.Validate(); err == nil {
			t.Fatalf("%+v accepted", bad)
		}
	}
	for _, good := range []string{"*", pageOrigin, "http://127.0.0.1:3000", "https://*.example.com", "http://[::1]:8080", "https://app.example.com:8443"} {
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
		Headers: []string{"Authorization", "Content-Type"}, ExposeHeaders: []string{"X-Request-Id"}}
	if c := g.CORS; c == nil || !slices.Equal(c.Origins, want.Origins) || !slices.Equal(c.Methods, want.Methods) ||
		!slices.Equal(c.Headers, want.Headers) || !slices.Equal(c.ExposeHeaders, want.ExposeHeaders) || c.MaxAge == nil || *c.MaxAge != caddy.Duration(time.Hour) {
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

// The answers' header values are their own: rs/cors hands out slices it
// shares with every answer (Vary: Origin is a package variable), and
// Caddy's header directive replaces values in place, so one answer's edit
// reached every later one of the process and grew with each. Edited in
// place here as that directive does, the next answers are untouched, for
// calls and preflights alike.
func TestCORSHeaderValuesAreTheAnswers(t *testing.T) {
	e := newEnv(t, store.SQLite)
	g := corsGuard(e)
	tok := e.token(svc, alice, "demo.read")
	for round := range 3 {
		for _, x := range []*exchange{newExchange("/apps/app-1/items", "Origin: "+pageOrigin, bearerLine(tok)), preflight(pageOrigin, "PUT")} {
			x.serve(t, g)
			h := x.w.Header()
			if v := h["Vary"]; len(v) == 0 || strings.Contains(strings.Join(v, ","), "edited") {
				t.Fatalf("round %d: Vary %q", round, v)
			}
			for k, v := range h {
				if k == "Vary" || isCORSHeader(k) {
					for i := range v {
						v[i] += ", edited"
					}
				}
			}
		}
	}
}

// A request of no page (no Origin) on a cors route gets none of the
// upstream's Access-Control-* headers and Vary: Origin, for caches; a
// second Origin (which no browser sends) is not echoed twice.
func TestCORSRequestsWithoutOrigin(t *testing.T) {
	e := newEnv(t, store.SQLite)
	g := corsGuard(e)
	tok := e.token(svc, alice, "demo.read")
	x := newExchange("/apps/app-1/items", bearerLine(tok))
	up := &corsUpstream{}
	if err := g.ServeHTTP(x.w, x.r, up); err != nil {
		t.Fatal(err)
	}
	wantPassed(t, x, &up.upstream)
	for k := range x.w.Header() {
		if isCORSHeader(k) {
			t.Fatalf("a request without Origin got %s: %v", k, x.w.Header())
		}
	}
	if !slices.Contains(x.w.Header().Values("Vary"), "Origin") {
		t.Fatalf("Vary %q lacks Origin", x.w.Header().Values("Vary"))
	}
	x = newExchange("/apps/app-1/items", "Origin: "+pageOrigin, "Origin: https://evil.example", bearerLine(tok))
	x.serve(t, g)
	if got := x.w.Header().Values("Access-Control-Allow-Origin"); !slices.Equal(got, []string{pageOrigin}) {
		t.Fatalf("two Origins: Access-Control-Allow-Origin %q", got)
	}
}

// A headers list that leaves out Authorization still lets a page send its
// token (and the impersonation header of a guard with impersonation):
// without them no call with a token would pass its preflight. max_age 0
// tells browsers to keep no preflight answer.
func TestCORSHeadersListAndMaxAge(t *testing.T) {
	e := newEnv(t, store.SQLite)
	zero := caddy.Duration(0)
	g := e.guard(&Guard{Scopes: []string{"demo.read"}, Impersonation: &Impersonation{},
		CORS: &CORS{Origins: []string{pageOrigin}, Headers: []string{"Content-Type"}, MaxAge: &zero}})
	x := newExchange("/apps/app-1/items", "Origin: "+pageOrigin, "Access-Control-Request-Method: GET",
		"Access-Control-Request-Headers: authorization,content-type,x-act-as-user")
	x.r.Method = http.MethodOptions
	x.serve(t, g)
	h := x.w.Header()
	if h.Get("Access-Control-Allow-Origin") != pageOrigin || h.Get("Access-Control-Allow-Headers") != "authorization,content-type,x-act-as-user" {
		t.Fatalf("preflight with Authorization under a narrowed list: %d %v", x.w.Code, h)
	}
	if got := h.Values("Access-Control-Max-Age"); !slices.Equal(got, []string{"0"}) {
		t.Fatalf("max_age 0: Access-Control-Max-Age %q", got)
	}
	x = newExchange("/apps/app-1/items", "Origin: "+pageOrigin, "Access-Control-Request-Method: GET",
		"Access-Control-Request-Headers: x-other")
	x.r.Method = http.MethodOptions
	x.serve(t, g)
	if h := x.w.Header().Get("Access-Control-Allow-Headers"); h != "" {
		t.Fatalf("a header outside the list was allowed: %q", h)
	}
}

// isCORSHeader reports whether the response header k is one of CORS's.
func isCORSHeader(k string) bool {
	return len(k) > len("Access-Control-") && strings.EqualFold(k[:len("Access-Control-")], "Access-Control-")
}
