package app

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/fileserver"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/intercept"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp/reverseproxy"
)

// Handlers that answer every request they get and never call the next
// one: a handler written after one of them in the same route never runs.
var answersEverything = map[caddy.ModuleID]bool{
	"http.handlers.reverse_proxy":        true,
	"http.handlers.static_response":      true,
	"http.handlers.error":                true,
	"http.handlers.metrics":              true,
	"http.handlers.scopegate_admin":      true,
	"http.handlers.scopegate_token":      true,
	"http.handlers.scopegate_revoke":     true,
	"http.handlers.scopegate_introspect": true,
	"http.handlers.scopegate_userinfo":   true,
	"http.handlers.scopegate_authorize":  true,
	"http.handlers.scopegate_health":     true,
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
// `scopegate_guard` proxied every request unguarded, and loaded). A block
// (handle, handle_path, route, a named route run by invoke) that answers
// every request counts as such a handler, so a catch-all `handle {
// reverse_proxy }` before `route /api/* { scopegate_guard … }` is refused
// too; and a gate inside reverse_proxy's handle_response, which runs once
// the upstream has already handled the request, is refused.
//
// It also names the servers with a guard but no scopegate_strip: their
// unguarded routes pass whatever identity headers a caller forges.
func checkGateOrder(ctx caddy.Context) (unstripped []string, err error) {
	v, err := ctx.AppIfConfigured("http")
	if err != nil || v == nil {
		return nil, nil // no HTTP app: nothing to guard
	}
	h, ok := v.(*caddyhttp.App)
	if !ok {
		return nil, nil
	}
	for name, srv := range h.Servers {
		bare, err := checkServer(srv, "server "+name)
		if err != nil {
			return nil, err
		}
		if bare {
			unstripped = append(unstripped, name)
		}
	}
	return unstripped, nil
}

// checkServer checks one server's routes and error routes, and reports
// whether it has a guard but no scopegate_strip.
func checkServer(srv *caddyhttp.Server, where string) (unstripped bool, err error) {
	c := gateCheck{named: srv.NamedRoutes, seen: map[string]bool{}, found: map[caddy.ModuleID]bool{}}
	if _, err := c.list(srv.Routes, where, false, nil, nil); err != nil {
		return false, err
	}
	if srv.Errors != nil {
		if _, err := c.list(srv.Errors.Routes, where+" errors", false, nil, nil); err != nil {
			return false, err
		}
		// A refusal goes to handle_errors as the request it refused (its
		// method, its body): proxied from there, an upstream acts on a
		// DELETE no token allowed.
		gated := gatedHosts(srv.Routes)
		for i, r := range srv.Errors.Routes {
			if reachesRefusals(r, gated) && proxiesRefusals(caddyhttp.RouteList{r}, c.named) {
				return false, fmt.Errorf("%s errors, route %d: handle_errors proxies the requests a guard or scopegate_strip of its site refused (method and body as sent) to an upstream, which would act on them; answer the error there (respond, file_server, templates), or proxy only the statuses you name (handle_errors 502 503)", where, i)
			}
		}
	}
	return c.found["http.handlers.scopegate_guard"] && !c.found["http.handlers.scopegate_strip"], nil
}

// hostSet is the hosts of the server's routes that hold a gate (the sites of
// a Caddyfile); all is set when such a route matches any host.
type hostSet struct {
	all   bool
	hosts map[string]bool
}

// gatedHosts collects the hostSet of routes.
func gatedHosts(routes caddyhttp.RouteList) hostSet {
	set := hostSet{hosts: map[string]bool{}}
	for _, r := range routes {
		if gateIn(caddyhttp.RouteList{r}) == "" {
			continue
		}
		hosts, everyHost := routeHosts(r)
		set.all = set.all || everyHost
		for _, h := range hosts {
			set.hosts[strings.ToLower(h)] = true
		}
	}
	return set
}

// routeHosts lists the hosts r's matchers name; everyHost when some matcher
// set names none (it matches every host).
func routeHosts(r caddyhttp.Route) (hosts []string, everyHost bool) {
	if len(r.MatcherSets) == 0 {
		return nil, true
	}
	for _, set := range r.MatcherSets {
		named := false
		for _, m := range set {
			if h, ok := hostsOf(m); ok {
				hosts, named = append(hosts, h...), true
			}
		}
		if !named {
			everyHost = true
		}
	}
	return hosts, everyHost
}

// reachesRefusals reports whether errors route r may get the refusals of a
// gate of the hosts gated: it shares a host with a gated site. Whether its
// status list takes a refusal is proxiesRefusals' to say, at every level
// the list may sit (handle_errors 502 503 is the operator's explicit
// choice).
func reachesRefusals(r caddyhttp.Route, gated hostSet) bool {
	if !gated.all && len(gated.hosts) == 0 {
		return false // no gate on this server
	}
	hosts, everyHost := routeHosts(r)
	if everyHost || gated.all {
		return true
	}
	for _, h := range hosts {
		if gated.hosts[strings.ToLower(h)] {
			return true
		}
	}
	return false
}

// refusalStatuses are the statuses of a guard's or scopegate_strip's
// refusals of a caller. 503 (the database did not answer) is left out: a
// maintenance upstream for 502 and 503 is the documented choice.
var refusalStatuses = []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden}

// matchesRefusal reports whether a handle_errors status expression
// (handle_errors 401 403, 4xx) accepts the status of a refusal: such an
// errors route gets the refused request (the guard hands it its refusals
// when it matches).
func matchesRefusal(expr *caddyhttp.MatchExpression) (matches bool) {
	defer func() {
		if recover() != nil {
			matches = true // it cannot tell: count it
		}
	}()
	for _, status := range refusalStatuses {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		repl := caddy.NewReplacer()
		r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, repl))
		repl.Set("http.error.status_code", status)
		if ok, err := expr.MatchWithError(r); ok || err != nil {
			return true // err: it cannot tell, so count it
		}
	}
	return false
}

// proxiesRefusals reports whether routes hold a reverse_proxy a refusal's
// status reaches: a Caddyfile site wraps `handle_errors 502 503 { … }` in a
// route of its host, with the status expression a level down, and a status
// list that takes no refusal leaves its proxies out (a review: a named-host
// site's maintenance proxy did not start).
func proxiesRefusals(routes caddyhttp.RouteList, named map[string]*caddyhttp.Route) bool {
	return proxyWhere(routes, named, takesRefusal)
}

// takesRefusal reports whether r's status expressions, if any, accept a
// refusal's status in some matcher set.
func takesRefusal(r caddyhttp.Route) bool {
	if len(r.MatcherSets) == 0 {
		return true
	}
	for _, set := range r.MatcherSets {
		ok := true
		for _, m := range set {
			if expr, isExpr := m.(*caddyhttp.MatchExpression); isExpr && !matchesRefusal(expr) {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// proxyIn reports whether routes (blocks and named routes included) hold a
// reverse_proxy (php_fastcgi and forward_auth are ones too).
func proxyIn(routes caddyhttp.RouteList, named map[string]*caddyhttp.Route) bool {
	return proxyWhere(routes, named, func(caddyhttp.Route) bool { return true })
}

// proxyWhere is proxyIn counting only the routes, at every level, that
// enter accepts.
func proxyWhere(routes caddyhttp.RouteList, named map[string]*caddyhttp.Route, enter func(caddyhttp.Route) bool) bool {
	for _, r := range routes {
		if !enter(r) {
			continue
		}
		for _, h := range r.Handlers {
			switch h := h.(type) {
			case *reverseproxy.Handler:
				return true
			case *caddyhttp.Subroute:
				if proxyWhere(h.Routes, named, enter) {
					return true
				}
			case *caddyhttp.Invoke:
				if nr, ok := named[h.Name]; ok && proxyWhere(caddyhttp.RouteList{{Handlers: nr.Handlers}}, nil, enter) {
					return true
				}
			}
		}
	}
	return false
}

// gateCheck walks one server's routes.
type gateCheck struct {
	named map[string]*caddyhttp.Route // the server's named routes, for invoke
	seen  map[string]bool             // named routes being walked (invoke loops)
	found map[caddy.ModuleID]bool     // the gates met
}

// list checks routes, entered with ended set when an earlier handler already
// answers every request, and reports whether the list answers every request
// it gets (a route without a matcher that answers, or is terminal). within
// is what the enclosing route matched (nil: every request): a gate route
// with no matcher of its own gets what its block got.
func (c gateCheck) list(routes caddyhttp.RouteList, where string, ended bool, within caddyhttp.MatcherSets, outer []proxiedBy) (bool, error) {
	proxied := slices.Clone(outer) // what earlier routes, here or around this block, proxy
	groups := map[string][]caddyhttp.MatcherSets{}
	for i, r := range routes {
		at := fmt.Sprintf("%s, route %d", where, i)
		if gate := gateIn(caddyhttp.RouteList{r}); gate != "" && !ended {
			for _, p := range proxied {
				if p.shadows(effective(r.MatcherSets, within)) {
					return false, fmt.Errorf("%s: %s never runs: %s before it proxies every request this route matches (Caddy sorts handle and handle_path before route; inside route { … } the written order applies), so it guards nothing; put the gate first or narrow that route's matcher", at, gate, p.at)
				}
			}
		}
		answered, err := c.route(r, at, ended, effective(r.MatcherSets, within), proxied)
		if err != nil {
			return false, err
		}
		// Of a group of handle blocks only the first that matches runs: a
		// later member's proxy does not see what an earlier one took.
		for _, sets := range proxiedSets(r, within, c.named) {
			proxied = append(proxied, proxiedBy{at: at, sets: sets, before: groups[r.Group]})
		}
		if r.Group != "" {
			groups[r.Group] = append(groups[r.Group], effective(r.MatcherSets, within))
		}
		if matchesAll(r) && (answered || r.Terminal) {
			ended = true
		}
	}
	return ended, nil
}

// route checks r's handlers in order and reports whether r answers every
// request that reaches its handlers.
func (c gateCheck) route(r caddyhttp.Route, at string, answered bool, within caddyhttp.MatcherSets, outer []proxiedBy) (bool, error) {
	for j, h := range r.Handlers {
		id := moduleID(h)
		if answered { // a gate in a block, or a named route, that never runs
			switch h := h.(type) {
			case *caddyhttp.Subroute:
				id = caddy.ModuleID(gateIn(h.Routes))
			case *caddyhttp.Invoke:
				if r, ok := c.named[h.Name]; ok {
					id = caddy.ModuleID(gateIn(caddyhttp.RouteList{*r}))
				}
			}
		}
		if answered && gates[id] {
			return false, fmt.Errorf("%s, handler %d: %s comes after a handler that answers every request, so it never runs and guards nothing; put it first (inside route { … } the written order applies)", at, j, id)
		}
		if answered {
			continue // never runs
		}
		if gates[id] {
			c.found[id] = true
		}
		ends, err := c.handler(h, fmt.Sprintf("%s, handler %d", at, j), within, outer)
		if err != nil {
			return false, err
		}
		answered = ends || answersEverything[id] && !passesOn(h)
	}
	return answered, nil
}

// passesOn reports whether a handler that usually answers may call the
// next one and leave the request to it: forward_auth, a reverse_proxy that
// sends the auth service a GET or HEAD (no body, no side effect meant) and runs its
// response routes with the rest of the chain after them. Any other
// reverse_proxy with handle_response has sent the request as it came to an
// upstream, which acted on it, before a handler after it runs: a gate
// there guards nothing, so it counts as answering.
func passesOn(h caddyhttp.MiddlewareHandler) bool {
	rp, ok := h.(*reverseproxy.Handler)
	if !ok || len(rp.HandleResponse) == 0 || rp.Rewrite == nil {
		return false
	}
	m := rp.Rewrite.Method // upper-cased when it runs
	return strings.EqualFold(m, http.MethodGet) || strings.EqualFold(m, http.MethodHead)
}

// matchesAll reports whether r's matchers match every request: none, or a
// matcher set that is only a path matcher with "*" or "/*" in it.
func matchesAll(r caddyhttp.Route) bool {
	if len(r.MatcherSets) == 0 {
		return true
	}
	for _, set := range r.MatcherSets {
		if len(set) != 1 {
			continue
		}
		if p, ok := pathsOf(set[0]); ok && (slices.Contains(p, "*") || slices.Contains(p, "/*")) {
			return true
		}
	}
	return false
}

// handler checks the routes a handler holds and reports whether they answer
// every request.
func (c gateCheck) handler(h caddyhttp.MiddlewareHandler, at string, within caddyhttp.MatcherSets, outer []proxiedBy) (bool, error) {
	switch h := h.(type) {
	case *caddyhttp.Subroute:
		return c.list(h.Routes, at, false, within, outer)
	case *caddyhttp.Invoke:
		r, ok := c.named[h.Name]
		if !ok || c.seen[h.Name] {
			return false, nil
		}
		c.seen[h.Name] = true
		defer delete(c.seen, h.Name)
		return c.list(caddyhttp.RouteList{*r}, at+" (named route "+h.Name+")", false, within, outer)
	case *fileserver.FileServer:
		return !h.PassThru, nil // a missing file is a 404, not the next handler
	case *reverseproxy.Handler:
		for k, rh := range h.HandleResponse {
			if gate := gateIn(rh.Routes); gate != "" {
				return false, fmt.Errorf("%s, handle_response %d: %s runs after the upstream has already handled the request, so it guards nothing; put it before reverse_proxy", at, k, gate)
			}
		}
	case *intercept.Intercept:
		for k, rh := range h.HandleResponse {
			if gate := gateIn(rh.Routes); gate != "" {
				return false, fmt.Errorf("%s, intercept's handle_response %d: %s runs after the handlers that follow intercept have already handled the request, so it guards nothing; put it before intercept", at, k, gate)
			}
		}
	}
	return false, nil
}

// gateIn names a gate anywhere in routes, or is "".
func gateIn(routes caddyhttp.RouteList) string {
	for _, r := range routes {
		for _, h := range r.Handlers {
			if id := moduleID(h); gates[id] {
				return string(id)
			}
			if sub, ok := h.(*caddyhttp.Subroute); ok {
				if g := gateIn(sub.Routes); g != "" {
					return g
				}
			}
		}
	}
	return ""
}

func moduleID(h caddyhttp.MiddlewareHandler) caddy.ModuleID {
	if m, ok := h.(caddy.Module); ok {
		return m.CaddyModule().ID
	}
	return ""
}
