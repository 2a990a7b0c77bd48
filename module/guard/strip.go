package guard

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
)

func init() {
	caddy.RegisterModule(Strip{})
}

// Strip removes every caller-sent identity header from the request, on
// every route it stands in front of, guarded or not: headers starting with
// X-Scopegate- or with the header_prefix of any guard of the config, and
// the impersonation headers (X-Act-As-User and every name a guard of the
// config uses), each in the dash, underscore and dot spellings, in any letter
// case; and the headers that override the method or path (overrideHeaders).
// It also applies the caller's Connection header at once (dropHopByHop), so
// that no header a later handler sets can be removed through it. A guard
// sets trusted identity headers only on its own routes; on the others (an
// unguarded /public/*, or /api/../public/x, which Caddy matches by its
// cleaned path but proxies as sent) whatever the caller sent would reach
// the upstream as if the gateway had vouched for it.
//
// The impersonation headers a guard reads are kept aside for it in the
// request's variables, so impersonation keeps working behind Strip while
// the upstreams of other routes never see them.
//
// Strip also refuses (400 invalid_request) a request whose path is unclear
// (unclearPath: dot segments, ';', backslashes, escapes left after decoding,
// control characters, invalid UTF-8), as guards do on their routes: Caddy
// matches routes by the cleaned path but proxies the path as sent, so
// "/public/..;/api/x" would otherwise reach a Tomcat upstream's /api/x
// through an unguarded route, and "/api/../public/x" leave a guarded prefix.
// AllowUnclearPaths turns that off, for a site whose unguarded routes must
// take such paths.
type Strip struct {
	// AllowUnclearPaths passes requests with unclear paths on (guards still
	// refuse them on their routes).
	AllowUnclearPaths bool `json:"allow_unclear_paths,omitempty"`
	// KeepHeaders names headers of other gateways' identity or of the
	// client's address (others_headers.go) that reach the upstream as sent:
	// those a proxy in front of this one sets, say. Others' identity
	// headers are otherwise removed on every request, client address
	// headers on requests from peers outside the server's trusted_proxies.
	KeepHeaders []string `json:"keep_headers,omitempty"`

	app *app.App
	// refusals logs the unclear paths refused, sampled (anyone can send them).
	refusals *zap.Logger
	// trailers are the request trailers passed on (trailerAllowList).
	trailers []string
}

// varMoved is the request variable holding the impersonation headers Strip
// took out of the request (an http.Header), for the guards to read:
// nothingMoved when it took none, absent when Strip did not run.
const varMoved = "scopegate.impersonation_headers"

// nothingMoved is varMoved when Strip took no impersonation header out (it
// is never written to).
var nothingMoved = http.Header{}

// CaddyModule returns the Caddy module information.
func (Strip) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_strip",
		New: func() caddy.Module { return new(Strip) },
	}
}

// Provision looks up the scopegate app, whose guards register their
// prefixes and impersonation headers.
func (s *Strip) Provision(ctx caddy.Context) error {
	a, err := app.From(ctx)
	if err != nil {
		return err
	}
	s.app, s.refusals = a, a.SampledLogger(ctx.Logger())
	if s.trailers, err = trailerAllowList(a.AllowTrailers); err != nil {
		return err
	}
	return s.checkKeepHeaders()
}

// checkKeepHeaders refuses a keep_headers name strip would not remove as
// another gateway's identity or a client address (a typo would keep
// nothing), or that is Scopegate's own.
func (s *Strip) checkKeepHeaders() error {
	for i, name := range s.KeepHeaders {
		if !isToken(name) || strings.ContainsAny(name, "_.") || othersHeader(name) == notOthers || s.forged(name) {
			return fmt.Errorf("scopegate_strip keep_headers: %q is not a header of another gateway's identity or of the client's address (see the README's scopegate_strip)", name)
		}
		s.KeepHeaders[i] = http.CanonicalHeaderKey(name)
	}
	return nil
}

// kept reports whether keep_headers names k (any spelling).
func (s *Strip) kept(k string) bool {
	for _, n := range s.KeepHeaders {
		if equalNameFold(k, n) {
			return true
		}
	}
	return false
}

// ServeHTTP removes the caller's identity headers and calls next. It runs
// on every request: without such a header it allocates nothing.
func (s *Strip) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	names := s.app.ImpersonationHeaders()
	var moved http.Header
	connection := false
	trusted := -1 // whether the peer is a trusted proxy, once asked: -1 not yet
	for k, v := range r.Header {
		if !s.forged(k) {
			connection = connection || k == "Connection"
			switch othersHeader(k) {
			case othersIdentity:
				if !s.kept(k) {
					delete(r.Header, k)
				}
			case clientAddress:
				if trusted < 0 {
					trusted = 0
					if fromTrustedProxy(r) {
						trusted = 1
					}
				}
				if trusted == 0 && !s.kept(k) {
					delete(r.Header, k)
				}
			}
			continue
		}
		delete(r.Header, k)
		// Every spelling of an impersonation name: a guard honours only
		// the exact one and refuses the others (otherSpelling).
		if equalNameFold(k, DefaultImpersonationHeader) || slices.ContainsFunc(names, func(n string) bool { return equalNameFold(k, n) }) {
			if moved == nil {
				moved = make(http.Header, 1)
			}
			moved[k] = v
		}
	}
	// Always set: a guard (and ImpersonationSent) then knows that no
	// impersonation header of any spelling is left in r.Header, and reads
	// only what was moved instead of walking the headers again. A Strip
	// that ran before (at the site and again in a route or snippet) may
	// have moved them already: what it set aside is kept, with this one's.
	vars := varsOf(r)
	if prev := vars.moved(); len(prev) > 0 {
		for k, v := range moved {
			prev[k] = append(prev[k], v...)
		}
		moved = prev
	} else if moved == nil {
		moved = nothingMoved
	}
	vars.set(varMoved, moved)
	if connection {
		// Before any handler sets a header the caller could otherwise
		// have the proxy remove (dropHopByHop).
		dropHopByHop(r.Header)
	}
	scrubTrailers(r, s, false, s.trailers)
	if !s.AllowUnclearPaths {
		if unclearPath(r.URL.Path) {
			// Checked once the request is clean: handle_errors may proxy it.
			return s.refuseUnclearPath(w, r)
		}
		markClearPath(r)
	}
	return next.ServeHTTP(w, r)
}

// refuseUnclearPath answers 400 invalid_request for an unclear path, the
// way a guard refuses: through the site's handle_errors when it has one
// (without the caller's token, which that route may proxy), else as JSON.
func (s *Strip) refuseUnclearPath(w http.ResponseWriter, r *http.Request) error {
	if s.refusals != nil {
		if ce := s.refusals.Check(zap.InfoLevel, "unclear path refused"); ce != nil {
			ce.Write(zap.String("remote_addr", remoteAddr(r)), zap.String("method", r.Method),
				zap.String("path", app.LoggedPath(r.URL.Path)))
		}
	}
	e := oauth.New(oauth.InvalidRequest, http.StatusBadRequest, "%s", descUnclearPath)
	// Strip runs before any route, so it cannot tell a guarded path: a
	// caller that sent a bearer token gets the RFC 6750 challenge a guard
	// would have answered with; any other caller the JSON alone.
	challenge := sentBearer(r)
	if !handlesErrors(r, e) {
		if challenge {
			oauth.WriteBearer(w, e, defaultRealm)
		} else {
			oauth.WriteJSON(w, e, "")
		}
		return nil
	}
	if challenge {
		w.Header().Set("WWW-Authenticate", oauth.BearerChallenge(e, defaultRealm))
	}
	delete(r.Header, "Authorization")
	return errorForErrorsRoute(r, e)
}

// sentBearer reports whether the caller sent an Authorization header of the
// Bearer scheme.
func sentBearer(r *http.Request) bool {
	for _, v := range r.Header["Authorization"] {
		if scheme, _, _ := strings.Cut(strings.TrimSpace(v), " "); strings.EqualFold(scheme, "Bearer") {
			return true
		}
	}
	return false
}

// forged reports whether a caller's header k is one Strip removes.
func (s *Strip) forged(k string) bool {
	return hasPrefixFold(k, DefaultHeaderPrefix) || equalNameFold(k, DefaultImpersonationHeader) ||
		isCallerIdentityHeader(k, s.app.IdentityPrefixes(), s.app.ImpersonationHeaders()) || isOverrideHeader(k)
}

// overrideHeaders name another method or path than the request's own, which
// some upstream frameworks obey (Symfony and IIS rewrites read
// X-Original-URL; method-override middleware the rest). The gateway matched
// routes and checked scopes on the request's own method and path, so a
// caller could otherwise reach /api/admin through an unguarded route, or
// DELETE with a token checked for GET.
var overrideHeaders = []string{"X-Original-Url", "X-Rewrite-Url", "X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	// What other proxies pass on as the request's original path or method,
	// which auth-aware upstreams (forward-auth servers) read instead of the
	// request line: a caller's copy would name another resource.
	"X-Original-Uri", "X-Forwarded-Uri", "X-Forwarded-Path", "X-Forwarded-Method", "X-Original-Method", "X-Envoy-Original-Path"}

// isOverrideHeader reports whether k is one of overrideHeaders in any
// spelling (case, '_' or '.' for '-').
func isOverrideHeader(k string) bool {
	for _, o := range overrideHeaders {
		if equalNameFold(k, o) {
			return true
		}
	}
	return false
}

// callerValues are the caller's values of header name (canonical), read
// from the request and, when scopegate_strip moved them, from moved.
func callerValues(r *http.Request, moved http.Header, name string) []string {
	v, m := r.Header[name], moved[name]
	if len(m) == 0 {
		return v
	}
	if len(v) == 0 {
		return m
	}
	return append(slices.Clip(v), m...)
}

// callerSent reports whether the caller sent header name with a value
// (an empty header is no request to impersonate).
func callerSent(r *http.Request, moved http.Header, name string) bool {
	return slices.ContainsFunc(callerValues(r, moved, name), func(v string) bool { return v != "" })
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Strip)(nil)
	_ caddyhttp.MiddlewareHandler = (*Strip)(nil)
	_ caddyfile.Unmarshaler       = (*Strip)(nil)
)
