package app

import (
	"fmt"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Handlers that answer every request they get and never call the next
// one: a handler written after one of them in the same route never runs.
var answersEverything = map[caddy.ModuleID]bool{
	"http.handlers.reverse_proxy":   true,
	"http.handlers.static_response": true,
	"http.handlers.error":           true,
	"http.handlers.scopegate_admin": true,
	"http.handlers.scopegate_token": true,
}

// Scopegate's handlers that protect what follows them: written where they
// never run, they protect nothing while the config looks guarded.
var gates = map[caddy.ModuleID]bool{
	"http.handlers.scopegate_guard": true,
	"http.handlers.scopegate_strip": true,
}

// checkGateOrder refuses an HTTP config in which a scopegate_guard or
// scopegate_strip can never run: after a handler that answers every
// request, in the same route or in a route after an unconditional one
// (inside route { … } the written order applies, so `reverse_proxy` then
// `scopegate_guard` proxied every request unguarded, and loaded).
func checkGateOrder(ctx caddy.Context) error {
	v, err := ctx.AppIfConfigured("http")
	if err != nil || v == nil {
		return nil // no HTTP app: nothing to guard
	}
	h, ok := v.(*caddyhttp.App)
	if !ok {
		return nil
	}
	for name, srv := range h.Servers {
		if err := checkRouteList(srv.Routes, "server "+name); err != nil {
			return err
		}
		if srv.Errors != nil {
			if err := checkRouteList(srv.Errors.Routes, "server "+name+" errors"); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkRouteList(routes caddyhttp.RouteList, where string) error {
	ended := false // an unconditional route before this one answered every request
	for i, r := range routes {
		at := fmt.Sprintf("%s, route %d", where, i)
		answered := ended
		for j, h := range r.Handlers {
			id := moduleID(h)
			if answered && gates[id] {
				return fmt.Errorf("%s, handler %d: %s comes after a handler that answers every request, so it never runs and guards nothing; put it first (inside route { … } the written order applies)", at, j, id)
			}
			if sub, ok := h.(*caddyhttp.Subroute); ok && !answered {
				if err := checkRouteList(sub.Routes, at); err != nil {
					return err
				}
			}
			if answersEverything[id] {
				answered = true
			}
		}
		if len(r.MatcherSets) == 0 && (answered || r.Terminal) {
			ended = true
		}
	}
	return nil
}

func moduleID(h caddyhttp.MiddlewareHandler) caddy.ModuleID {
	if m, ok := h.(caddy.Module); ok {
		return m.CaddyModule().ID
	}
	return ""
}
