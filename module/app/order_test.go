package app_test

import (
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/guard"
)

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
// scopegate_guard } proxied every request unguarded). A guard before the
// proxy, or after a proxy behind a matcher, is accepted.
func TestGateAfterAnAnsweringHandlerIsRefused(t *testing.T) {
	proxy := &reverseproxy.Handler{}
	g, strip := &guard.Guard{}, &guard.Strip{}
	respond := &caddyhttp.StaticResponse{}
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := app.CheckRouteList(tc.routes)
			if tc.refuse != (err != nil) {
				t.Fatalf("refused = %v (%v), want %v", err != nil, err, tc.refuse)
			}
			if err != nil && !strings.Contains(err.Error(), "never runs") {
				t.Fatalf("unclear error: %v", err)
			}
		})
	}
}
