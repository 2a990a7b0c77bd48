package app_test

import (
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/rewrite"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/guard"
)

// Inside handle_path /api/* the inner matchers see the stripped path: a
// proxied /a* there does not cover a guarded /v1/* (/api/v1/x, stripped
// /v1/x, never matches /a*), so the guard runs and the config starts (a
// review: the check ANDed the outer and inner paths).
func TestHandlePathInnerCarveOutAllowed(t *testing.T) {
	proxy := &reverseproxy.Handler{}
	strip := &rewrite.Rewrite{StripPathPrefix: "/api"}
	routes := caddyhttp.RouteList{
		at("/api/*", block(
			caddyhttp.Route{Handlers: []caddyhttp.MiddlewareHandler{strip}},
			at("/a*", block(proxy)),
			at("/v1/*", block(&guard.Guard{}, proxy)),
		)),
	}
	if _, err := app.CheckRouteList(routes, nil); err != nil {
		t.Fatalf("refused a reachable guard: %v", err)
	}
}

// handle /api* { reverse_proxy } sorts before a catch-all handle { route
// /api/* { scopegate_guard } }: the guard never runs, and the check looks
// at what the outer list proxies from inside the nested one (a review).
// Of a group of handle blocks only the first that matches runs: a later
// member's proxy does not shadow a guard an earlier member let through.
func TestOuterProxyBeforeNestedGuardRefused(t *testing.T) {
	proxy := &reverseproxy.Handler{}
	routes := caddyhttp.RouteList{
		at("/api*", block(proxy)),
		{Handlers: []caddyhttp.MiddlewareHandler{block(at("/api/*", block(&guard.Guard{}, proxy)), &caddyhttp.StaticResponse{})}},
	}
	if _, err := app.CheckRouteList(routes, nil); err == nil {
		t.Fatal("loaded a guard that never runs: /api/x goes to the first handle and is proxied with no token")
	}
	grouped := func(group string, r caddyhttp.Route) caddyhttp.Route { r.Group = group; return r }
	allowed := caddyhttp.RouteList{
		grouped("g", at("/api/admin/*", &caddyhttp.VarsMiddleware{})), // sets vars, answers nothing
		grouped("g", at("/api*", block(proxy))),
		at("/api/admin/*", block(&guard.Guard{}, proxy)),
	}
	if _, err := app.CheckRouteList(allowed, nil); err != nil {
		t.Fatalf("refused a guard a group's earlier member lets through: %v", err)
	}
}
