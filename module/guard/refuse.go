package guard

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/oauth"
)

// refuse answers an RFC 6750 error the way Caddy's own caddyauth does: it
// sets the challenge and returns caddyhttp.Error, so the operator's
// handle_errors can shape the page ({http.error.status_code}, and
// {http.error.oauth_error}, {http.error.oauth_error_description} and
// {http.error.oauth_scope} for the RFC 6750 fields). A server without an
// errors route for the request would answer the status alone, so then the
// guard writes the RFC 6750 JSON body itself, as before. Refusals are
// counted and logged without the token (observeRefusal).
func (g *Guard) refuse(w http.ResponseWriter, r *http.Request, e *oauth.Error) error {
	g.observeRefusal(r, e)
	// A refused request may go on to handle_errors, which may proxy it:
	// it carries neither the caller's token nor an identity header (a
	// later guard refuses after the first one set them).
	delete(r.Header, "Authorization")
	prefixes := g.app.IdentityPrefixes()
	for k := range r.Header {
		if isCallerIdentityHeader(k, prefixes, nil) {
			delete(r.Header, k)
		}
	}
	if !handlesErrors(r, e) {
		if e.Status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
			oauth.WriteJSON(w, e, g.Realm)
			return nil
		}
		oauth.WriteBearer(w, e, g.Realm)
		return nil
	}
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	if e.Status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	} else {
		h.Set("WWW-Authenticate", oauth.BearerChallenge(e, g.Realm))
	}
	return errorForErrorsRoute(r, e)
}

// errorForErrorsRoute hands e to the site's handle_errors: it sets the
// {http.error.oauth_*} placeholders and returns the caddyhttp.Error.
func errorForErrorsRoute(r *http.Request, e *oauth.Error) error {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("http.error.oauth_error", e.Code)
		repl.Set("http.error.oauth_error_description", e.Description)
		repl.Set("http.error.oauth_scope", e.Scope)
	}
	return caddyhttp.Error(e.Status, e)
}

// handlesErrors reports whether the request's server has an errors route
// (handle_errors) whose matchers accept the request with refusal e: in a
// Caddyfile, one of the request's site, for its status (handle_errors 401
// 403, 4xx). Without one, an error returned by a handler is answered with
// its status and an empty body. The matchers see the error's placeholders
// as Caddy sets them when it runs the errors routes (a status list never
// matched when they were read before: config red team).
func handlesErrors(r *http.Request, e *oauth.Error) bool {
	if e.Status >= http.StatusInternalServerError {
		// The gateway's own failure (the database did not answer): a
		// handle_errors 502 503 proxying to a fallback would hand it the
		// request no token was checked for, method and body as sent (a
		// review). It is answered here, in the protocol's JSON.
		return false
	}
	srv, _ := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if srv == nil || srv.Errors == nil {
		return false
	}
	if _, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); !ok {
		return false
	}
	return routesTake(srv.Errors.Routes, srv.Errors.WithError(r, caddyhttp.Error(e.Status, e)))
}

// routesTake reports whether some route of routes would run a handler for
// r: its matchers accept r and, for a route of blocks (a Caddyfile site
// wraps handle_errors 401 { … } in a route of its host, the status
// expression a level down), one of its inner routes takes r too (a review:
// a status the list leaves out was handed over, and answered empty).
func routesTake(routes caddyhttp.RouteList, r *http.Request) bool {
	for _, route := range routes {
		if ok, err := route.MatcherSets.AnyMatchWithError(r); !ok || err != nil {
			continue
		}
		for _, h := range route.Handlers {
			sub, ok := h.(*caddyhttp.Subroute)
			if !ok || routesTake(sub.Routes, r) {
				return true
			}
		}
		if len(route.Handlers) == 0 || route.Terminal {
			return len(route.Handlers) == 0
		}
	}
	return false
}
