package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/fileserver"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/intercept"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/rewrite"
	"github.com/caddyserver/caddy/v2/modules/metrics"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/guard"
)

// at is a route matching path as Caddy provisions it (a *MatchPath).
func at(path string, hs ...caddyhttp.MiddlewareHandler) caddyhttp.Route {
	m := caddyhttp.MatchPath{path}
	return caddyhttp.Route{MatcherSets: caddyhttp.MatcherSets{{&m}}, Handlers: hs}
}

// host is a route matching host as Caddy provisions it (a *MatchHost).
func host(name string, hs ...caddyhttp.MiddlewareHandler) caddyhttp.Route {
	m := caddyhttp.MatchHost{name}
	return caddyhttp.Route{MatcherSets: caddyhttp.MatcherSets{{&m}}, Handlers: hs}
}

// block is a handle or route block: a subroute of hs, or of routes.
func block(hs ...any) *caddyhttp.Subroute {
	var routes caddyhttp.RouteList
	var chain []caddyhttp.MiddlewareHandler
	for _, h := range hs {
		switch h := h.(type) {
		case caddyhttp.Route:
			routes = append(routes, h)
		case caddyhttp.MiddlewareHandler:
			chain = append(chain, h)
		}
	}
	if len(chain) > 0 {
		routes = append(routes, caddyhttp.Route{Handlers: chain})
	}
	return &caddyhttp.Subroute{Routes: routes}
}

func route(matched bool, hs ...caddyhttp.MiddlewareHandler) caddyhttp.Route {
	r := caddyhttp.Route{Handlers: hs}
	if matched {
		r.MatcherSets = caddyhttp.MatcherSets{{caddyhttp.MatchPath{"/x"}}}
	}
	return r
}

// A guard or a strip that can never run is refused when the config
// starts: after a handler that answers every request in its route, or in
// a route after an unconditional one that does (route { reverse_proxy;
// scopegate_guard } proxied every request unguarded), where a block
// (handle, route, a named route run by invoke) that answers every request
// counts as such a handler, as file_server without pass_thru does; and a
// gate inside handle_response (reverse_proxy's or intercept's), which runs
// after the upstream, or after a reverse_proxy with handle_response that is
// not forward_auth's GET, or after metrics. A guard before the proxy, or
// after a proxy or block behind a matcher, or after forward_auth, is
// accepted.
func TestGateAfterAnAnsweringHandlerIsRefused(t *testing.T) {
	proxy := &reverseproxy.Handler{}
	g, strip := &guard.Guard{}, &guard.Strip{}
	respond := &caddyhttp.StaticResponse{}
	// forward_auth: a GET to the auth service whose handle_response passes
	// the request on.
	forwardAuth := &reverseproxy.Handler{Rewrite: &rewrite.Rewrite{Method: "GET"},
		HandleResponse: []caddyhttp.ResponseHandler{{Routes: caddyhttp.RouteList{route(false, &caddyhttp.StaticResponse{})}}}}
	for _, tc := range []struct {
		name   string
		routes caddyhttp.RouteList
		refuse bool
	}{
		{"guard then proxy", caddyhttp.RouteList{route(false, g, proxy)}, false},
		{"proxy then guard, one route", caddyhttp.RouteList{route(false, proxy, g)}, true},
		{"proxy then strip, one route", caddyhttp.RouteList{route(true, respond, strip)}, true},
		{"unconditional proxy route, then a guard route", caddyhttp.RouteList{route(false, proxy), route(false, g)}, true},
		{"matched proxy route, then a guard route", caddyhttp.RouteList{route(true, proxy), route(false, g, proxy)}, false},
		{"inside a subroute", caddyhttp.RouteList{route(true, &caddyhttp.Subroute{Routes: caddyhttp.RouteList{route(false, proxy), route(false, g)}})}, true},
		{"subroute guarded first", caddyhttp.RouteList{route(true, &caddyhttp.Subroute{Routes: caddyhttp.RouteList{route(false, g), route(false, proxy)}})}, false},
		// A catch-all handle { reverse_proxy } before route /api/* { guard; proxy }.
		{"catch-all block, then a guarded route", caddyhttp.RouteList{route(false, &caddyhttp.Subroute{Routes: caddyhttp.RouteList{route(false, proxy)}}), route(true, g, proxy)}, true},
		{"nested catch-all block", caddyhttp.RouteList{route(false, &caddyhttp.Subroute{Routes: caddyhttp.RouteList{route(false, &caddyhttp.Subroute{Routes: caddyhttp.RouteList{route(false, proxy)}})}}), route(false, strip)}, true},
		{"terminal route in a block", caddyhttp.RouteList{route(false, &caddyhttp.Subroute{Routes: caddyhttp.RouteList{{Terminal: true}}}), route(true, g, proxy)}, true},
		{"catch-all block, then a block with a guard", caddyhttp.RouteList{route(false, &caddyhttp.Subroute{Routes: caddyhttp.RouteList{route(false, proxy)}}), route(true, &caddyhttp.Subroute{Routes: caddyhttp.RouteList{route(false, g), route(false, proxy)}})}, true},
		{"matched block, then a guarded route", caddyhttp.RouteList{route(true, &caddyhttp.Subroute{Routes: caddyhttp.RouteList{route(false, proxy)}}), at("/api/*", g, proxy)}, false},
		{"block answering only some requests", caddyhttp.RouteList{route(false, &caddyhttp.Subroute{Routes: caddyhttp.RouteList{route(true, proxy)}}), at("/api/*", g, proxy)}, false},
		{"file_server, then a guard", caddyhttp.RouteList{route(false, &fileserver.FileServer{}, g)}, true},
		{"file_server pass_thru, then a guard", caddyhttp.RouteList{route(false, &fileserver.FileServer{PassThru: true}, g, proxy)}, false},
		{"invoke of a proxying named route, then a guard", caddyhttp.RouteList{route(false, &caddyhttp.Invoke{Name: "backend"}, g)}, true},
		{"invoke of an unknown route, then a guard", caddyhttp.RouteList{route(false, &caddyhttp.Invoke{Name: "nope"}, g, proxy)}, false},
		{"invoke of a looping named route", caddyhttp.RouteList{route(false, &caddyhttp.Invoke{Name: "loop"}, g, proxy)}, false},
		{"catch-all handle /*, then a guarded route", caddyhttp.RouteList{{MatcherSets: caddyhttp.MatcherSets{{caddyhttp.MatchPath{"/*"}}}, Handlers: []caddyhttp.MiddlewareHandler{proxy}}, route(true, g, proxy)}, true},
		// Caddy provisions matchers as pointers: handle /* { reverse_proxy }
		// and handle * were not seen as catch-alls (config red team).
		{"catch-all handle /*, provisioned", caddyhttp.RouteList{at("/*", block(proxy)), at("/api/*", block(g, proxy))}, true},
		{"catch-all handle *, provisioned", caddyhttp.RouteList{at("*", block(proxy)), at("/api/*", block(g, proxy))}, true},
		// A proxy whose matcher covers the guarded route's: the guard never
		// runs (handle /api* sorted before route /api/*; inside a route,
		// reverse_proxy /api/* written before the guard).
		{"handle /api* before route /api/*", caddyhttp.RouteList{at("/api*", block(proxy)), at("/api/*", block(g, proxy))}, true},
		{"same path, other case", caddyhttp.RouteList{at("/API/*", block(proxy)), at("/api/*", block(g, proxy))}, true},
		{"proxy with its matcher before the guard, in a route", caddyhttp.RouteList{at("/api/*", block(at("/api/*", proxy), route(false, g)))}, true},
		{"proxy before the guard, in a named route", caddyhttp.RouteList{at("/api/*", &caddyhttp.Invoke{Name: "backend"}), at("/api/*", block(g, proxy))}, true},
		{"same host: catch-all proxy site route, then a guarded one", caddyhttp.RouteList{host("a.test", block(proxy)), host("A.test", block(g, proxy))}, true},
		// Carve-outs stay allowed: a narrower proxied path, another host,
		// a matcher the check cannot compare.
		{"public carve-out, then a guard for the rest", caddyhttp.RouteList{at("/public/*", block(proxy)), route(false, block(g, proxy))}, false},
		{"narrower path proxied first", caddyhttp.RouteList{at("/api/x", block(proxy)), at("/api/*", block(g, proxy))}, false},
		{"another host's catch-all proxy", caddyhttp.RouteList{host("a.test", block(proxy)), host("b.test", block(g, proxy))}, false},
		// A site address with a path (localhost/api*) before a guarded site
		// of the same host: the outer site's proxy reaches the nested guard.
		{"site with a path, then a guarded site of its host", caddyhttp.RouteList{
			{MatcherSets: caddyhttp.MatcherSets{{&caddyhttp.MatchHost{"localhost"}, &caddyhttp.MatchPath{"/api*"}}}, Handlers: []caddyhttp.MiddlewareHandler{block(proxy)}},
			host("localhost", block(at("/api/*", block(g, proxy))))}, true},
		// A proxy a guard stands before proxies nothing unguarded, and a
		// site's host stays with its inner paths.
		{"a guarded proxy, then a guard", caddyhttp.RouteList{at("/api/*", block(g, proxy)), at("/api/*", block(g, proxy))}, false},
		{"another site's /api/*, then a guard of /api/*", caddyhttp.RouteList{host("b.test", block(at("/api/*", block(proxy)))), route(false, block(at("/api/*", block(g, proxy))))}, false},
		{"a method-matched proxy", caddyhttp.RouteList{{MatcherSets: caddyhttp.MatcherSets{{&caddyhttp.MatchMethod{"GET"}}}, Handlers: []caddyhttp.MiddlewareHandler{block(proxy)}}, at("/api/*", block(g, proxy))}, false},
		{"catch-all block, then an invoked guarded named route", caddyhttp.RouteList{route(false, &caddyhttp.Subroute{Routes: caddyhttp.RouteList{route(false, proxy)}}), route(true, &caddyhttp.Invoke{Name: "guarded"})}, true},
		// forward_auth: a reverse_proxy whose handle_response passes the request on.
		{"forward_auth, then a guarded block", caddyhttp.RouteList{route(false, forwardAuth), route(true, &caddyhttp.Subroute{Routes: caddyhttp.RouteList{route(false, g, proxy)}})}, false},
		// Any other reverse_proxy with handle_response sent the request as
		// it came: the upstream acted on it before the guard runs.
		{"proxy with handle_response, then a guard", caddyhttp.RouteList{route(false, &reverseproxy.Handler{HandleResponse: forwardAuth.HandleResponse}, g)}, true},
		{"guard inside intercept's handle_response", caddyhttp.RouteList{route(false, &intercept.Intercept{HandleResponse: []caddyhttp.ResponseHandler{{Routes: caddyhttp.RouteList{route(false, g)}}}}, proxy)}, true},
		{"metrics, then a guard", caddyhttp.RouteList{route(false, &metrics.Metrics{}, g)}, true},
		{"guard inside handle_response", caddyhttp.RouteList{route(false, &reverseproxy.Handler{HandleResponse: []caddyhttp.ResponseHandler{{Routes: caddyhttp.RouteList{route(false, g)}}}})}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			named := map[string]*caddyhttp.Route{"backend": {Handlers: []caddyhttp.MiddlewareHandler{proxy}}, "guarded": {Handlers: []caddyhttp.MiddlewareHandler{g, proxy}}}
			loop := route(false, &caddyhttp.Invoke{Name: "loop"})
			named["loop"] = &loop
			_, err := app.CheckRouteList(tc.routes, named)
			if tc.refuse != (err != nil) {
				t.Fatalf("refused = %v (%v), want %v", err != nil, err, tc.refuse)
			}
			if err != nil && !strings.Contains(err.Error(), "never runs") && !strings.Contains(err.Error(), "guards nothing") {
				t.Fatalf("unclear error: %v", err)
			}
		})
	}
}

// A server with a guard and no scopegate_strip is named (the app warns at
// start: its unguarded routes pass forged identity headers); one with both,
// or with neither, is not.
func TestServerWithoutStripIsNamed(t *testing.T) {
	proxy := &reverseproxy.Handler{}
	g, strip := &guard.Guard{}, &guard.Strip{}
	for _, tc := range []struct {
		name       string
		routes     caddyhttp.RouteList
		unstripped bool
	}{
		{"guard, no strip", caddyhttp.RouteList{route(true, g, proxy), route(false, proxy)}, true},
		{"guard in a block, no strip", caddyhttp.RouteList{route(true, &caddyhttp.Subroute{Routes: caddyhttp.RouteList{route(false, g, proxy)}})}, true},
		{"strip first", caddyhttp.RouteList{route(false, strip), route(true, g, proxy), route(false, proxy)}, false},
		{"no guard", caddyhttp.RouteList{route(false, proxy)}, false},
	} {
		unstripped, err := app.CheckRouteList(tc.routes, nil)
		if err != nil || unstripped != tc.unstripped {
			t.Errorf("%s: unstripped = %v (%v), want %v", tc.name, unstripped, err, tc.unstripped)
		}
	}
}

// A site with a guard or scopegate_strip whose handle_errors proxies is
// refused: a refused request reaches handle_errors as it was sent (a DELETE
// with its body), and an upstream there would act on it. handle_errors that
// answers itself is accepted, and so is a proxying one in a server without
// a gate.
func TestErrorsRoutesMustNotProxyRefusals(t *testing.T) {
	proxy := &reverseproxy.Handler{}
	respond := &caddyhttp.StaticResponse{}
	guarded := caddyhttp.RouteList{route(false, &guard.Strip{}), route(true, &guard.Guard{}, proxy)}
	for _, tc := range []struct {
		name   string
		routes caddyhttp.RouteList
		errors caddyhttp.RouteList
		refuse bool
	}{
		{"guarded site, errors proxied", guarded, caddyhttp.RouteList{route(false, proxy)}, true},
		{"guarded site, errors proxied in a block", guarded, caddyhttp.RouteList{route(true, &caddyhttp.Subroute{Routes: caddyhttp.RouteList{route(false, proxy)}})}, true},
		{"guarded site, errors answered", guarded, caddyhttp.RouteList{route(false, respond)}, false},
		{"no gate, errors proxied", caddyhttp.RouteList{route(false, proxy)}, caddyhttp.RouteList{route(false, proxy)}, false},
		// Sites of one server: the errors of a gated host may not proxy;
		// another host's, or errors limited to some statuses, may.
		{"gated host, its errors proxied", onHost("api.test", guarded), onHost("API.test", caddyhttp.RouteList{route(false, proxy)}), true},
		{"gated host, another host's errors proxied", onHost("api.test", guarded), onHost("www.test", caddyhttp.RouteList{route(false, proxy)}), false},
		{"gated host, errors of some statuses proxied", onHost("api.test", guarded),
			caddyhttp.RouteList{{MatcherSets: caddyhttp.MatcherSets{{caddyhttp.MatchHost{"api.test"}, statuses(t, "[502, 503]")}}, Handlers: []caddyhttp.MiddlewareHandler{proxy}}}, false},
		// A status list among which a refusal's (handle_errors 401, 4xx)
		// gets the refusals, now that the guard hands them over.
		{"gated host, errors of 401 proxied", onHost("api.test", guarded),
			caddyhttp.RouteList{{MatcherSets: caddyhttp.MatcherSets{{caddyhttp.MatchHost{"api.test"}, statuses(t, "[401]")}}, Handlers: []caddyhttp.MiddlewareHandler{proxy}}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := app.CheckServer(&caddyhttp.Server{Routes: tc.routes, Errors: &caddyhttp.HTTPErrorConfig{Routes: tc.errors}})
			if tc.refuse != (err != nil) {
				t.Fatalf("refused = %v (%v), want %v", err != nil, err, tc.refuse)
			}
			if err != nil && !strings.Contains(err.Error(), "handle_errors") {
				t.Fatalf("unclear error: %v", err)
			}
		})
	}
}

// onHost wraps routes in one route matching host, as a Caddyfile site is.
func onHost(host string, routes caddyhttp.RouteList) caddyhttp.RouteList {
	return caddyhttp.RouteList{{MatcherSets: caddyhttp.MatcherSets{{caddyhttp.MatchHost{host}}},
		Handlers: []caddyhttp.MiddlewareHandler{&caddyhttp.Subroute{Routes: routes}}}}
}

// statuses is handle_errors' matcher for the statuses in list, provisioned
// as Caddy does.
func statuses(t *testing.T, list string) *caddyhttp.MatchExpression {
	t.Helper()
	m := &caddyhttp.MatchExpression{Expr: "{http.error.status_code} in " + list}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	if err := m.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	return m
}
