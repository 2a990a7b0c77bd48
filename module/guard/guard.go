// Package guard is the scopegate_guard handler: it stands in front of
// reverse_proxy (or any handler), checks the bearer token, its scopes, its
// kind (2- or 3-legged), bound claims and impersonation, and hands the
// upstream a trusted identity while stripping any identity header the caller
// forged; and the scopegate_strip handler, which strips such headers on every
// route of a site, guarded or not.
package guard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
	"golang.org/x/net/http/httpguts"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/cors"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

func init() {
	caddy.RegisterModule(Guard{})
}

// DefaultHeaderPrefix starts the names of the identity headers the guard sets.
const DefaultHeaderPrefix = "X-Scopegate-"

// defaultRealm is the realm of a guard's challenges unless it names one,
// and of scopegate_strip's.
const defaultRealm = "scopegate"

// DefaultImpersonationHeader is the header callers use to act as another user.
const DefaultImpersonationHeader = "X-Act-As-User"

// Guard checks bearer tokens for the routes it stands in.
type Guard struct {
	// Every one of these scopes is required (implications honoured).
	Scopes []string `json:"scopes,omitempty"`
	// At least one of these scopes is required, when set.
	AnyScopes []string `json:"any_scopes,omitempty"`
	// Every one of these scopes is required as well when the request's
	// method is not GET, HEAD or OPTIONS (any other method, whatever its
	// case, is a write). One guard with write_scopes does what a second
	// guard behind a "not method GET HEAD OPTIONS" matcher does, without
	// the second route Caddy assembles for every request.
	WriteScopes []string `json:"write_scopes,omitempty"`
	// AnyToken lets any valid token through with no scope for reads. A
	// guard naming no read scope must say so: an empty scopes list from a
	// template, or a guard given write_scopes alone, otherwise let any
	// token of any client read (config red team).
	AnyToken bool `json:"any_token,omitempty"`
	// 2 to demand 2-legged tokens, 3 for 3-legged (user-bound); 0 for any.
	Legs scope.Legs `json:"legs,omitempty"`
	// Claims the token must match when it carries them, with placeholders
	// in the values: {"application_id": "{http.request.uri.path.1}"} keeps
	// an application-session token to its own application. A request whose
	// token carries such a claim must not have "." or ".." path segments
	// ('\' separates segments too; encoded dots and separators count).
	MatchClaims map[string]string `json:"match_claims,omitempty"`
	// Enables impersonation on this route: the header (default X-Act-As-User)
	// names a user of the client's tenant to act as. Only clients allowed to
	// act on behalf of users may send it. Every other impersonation header
	// name used by a guard of the config (X-Act-As-User included, as long as
	// some guard has no impersonation) is refused on this route, and all of
	// them are removed before the upstream is called.
	Impersonation *Impersonation `json:"impersonation,omitempty"`
	// Prefix of the identity headers set for the upstream; any request header
	// with this prefix (with '_' or '.' for '-' too) is removed first.
	// Default: X-Scopegate-.
	HeaderPrefix string `json:"header_prefix,omitempty"`
	// Which identity headers the upstream gets, by name: client_id, user_id,
	// tenant, scopes, legs, token_id, actor, claims; "default" stands for
	// every one but token_id (the default), "all" for every one.
	// Each forwarded header costs the proxy and the upstream some work on
	// every request, so an upstream that reads only some may ask for only
	// those; the rest stay available as placeholders ({scopegate.tenant}…),
	// and caller-sent headers with the prefix are removed either way.
	IdentityHeaders []string `json:"identity_headers,omitempty"`
	// Realm in WWW-Authenticate challenges. Default: "scopegate".
	Realm string `json:"realm,omitempty"`
	// Passes the caller's Authorization header (its bearer token) on to the
	// upstream. Off by default: the upstream gets the verified identity
	// instead, and a credential valid on every route of the gateway for up to
	// its lifetime does not reach each upstream's logs and memory (nor cost
	// the proxy and the upstream its few hundred bytes on every request).
	// Any guard of a route may turn it on.
	ForwardToken bool `json:"forward_token,omitempty"`
	// Passes requests whose path as sent holds an encoded slash ("%2F").
	// Off by default: Caddy matches routes on the decoded path, where it
	// ends a segment, while an upstream routing on the path as sent reads
	// it inside one, so a route chosen by depth ("/v1/applications/*/
	// sessions") could be another there. Turn it on for an upstream whose
	// ids hold encoded slashes (GitLab's "group%2Fproject") and whose
	// routes here do not depend on depth.
	AllowEncodedSlashes bool `json:"allow_encoded_slashes,omitempty"`
	// Lets pages of other origins call the route from a browser: the
	// first guard of the route answers their preflights and marks the
	// answers to their calls readable (see CORS).
	CORS *CORS `json:"cors,omitempty"`

	app          *app.App
	logger       *zap.Logger
	refusals     *zap.Logger // logger, sampled: refusals are anyone's to cause
	ownRefusals  *zap.Logger // the same for tokens this gateway signed (refusalLog)
	actHeader    string
	hdr          identityHeaders
	claimMatches []claimMatch
	// trailers are the request trailers passed on (trailerAllowList).
	trailers []string
	cors     *cors.Rules // nil without CORS
}

// Impersonation configures acting on behalf of users.
type Impersonation struct {
	// The request header naming the user to act as. Default: X-Act-As-User.
	Header string `json:"header,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Guard) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_guard",
		New: func() caddy.Module { return new(Guard) },
	}
}

// Provision looks up the scopegate app and fills defaults.
func (g *Guard) Provision(ctx caddy.Context) error {
	sg, err := app.From(ctx)
	if err != nil {
		return err
	}
	return g.setup(sg, ctx.Logger())
}

func (g *Guard) setup(a *app.App, logger *zap.Logger) error {
	g.app, g.logger, g.refusals, g.ownRefusals = a, logger, a.SampledLogger(logger), a.SampledLoggerApart(logger)
	if g.HeaderPrefix == "" {
		g.HeaderPrefix = DefaultHeaderPrefix
	}
	if g.Realm == "" {
		g.Realm = defaultRealm
	}
	g.actHeader = DefaultImpersonationHeader
	if g.Impersonation != nil && g.Impersonation.Header != "" {
		g.actHeader = http.CanonicalHeaderKey(g.Impersonation.Header)
	}
	// Every guard of the config must know every name, so that a route
	// refuses the header another route honours.
	a.RegisterImpersonationHeader(g.actHeader)
	// scopegate_strip removes caller-sent headers under every guard's prefix.
	a.RegisterIdentityPrefix(g.HeaderPrefix)
	var claimNames []string
	for _, s := range a.Catalogue().All() {
		claimNames = append(claimNames, s.RequiredClaims...)
	}
	g.hdr = newIdentityHeaders(g.HeaderPrefix, claimNames)
	g.hdr.only(g.IdentityHeaders)
	// Only claims a scope requires reach a token (the others are dropped at
	// the token endpoint), and a token without a claim is not restricted by
	// it: a binding to any other name (a typo, or tenant, sub) would load
	// and check nothing.
	for name := range g.MatchClaims {
		if !slices.Contains(claimNames, name) {
			return fmt.Errorf("scopegate_guard: match_claim %q: no scope of the catalogue requires that claim, so no token carries it and the binding would restrict nothing (claims a scope requires: %v)", name, claimNames)
		}
	}
	g.claimMatches = newClaimMatches(g.MatchClaims)
	var err error
	if g.trailers, err = trailerAllowList(a.AllowTrailers); err != nil {
		return err
	}
	if g.CORS != nil {
		var mustAllow []string
		if g.Impersonation != nil {
			mustAllow = append(mustAllow, g.actHeader)
		}
		g.cors = cors.NewRules(g.CORS, mustAllow...)
	}
	if unknown := a.Catalogue().Unknown(g.allScopes()); len(unknown) > 0 {
		return fmt.Errorf("scopegate_guard: unknown scopes %v (define them in the scopegate global option)", unknown)
	}
	return nil
}

// Validate checks the configuration.
func (g *Guard) Validate() error {
	switch reads := len(g.Scopes) + len(g.AnyScopes); {
	case reads == 0 && !g.AnyToken:
		return fmt.Errorf("scopegate_guard names no scope for reads (scopes, any_scopes), so any valid token of any client would pass: name the scopes the route needs, or set any_token")
	case reads > 0 && g.AnyToken:
		return fmt.Errorf("scopegate_guard: any_token means no scope is needed, yet scopes are named; drop one or the other")
	}
	if g.Legs != scope.AnyLegs && g.Legs != scope.TwoLegged && g.Legs != scope.ThreeLegged {
		return fmt.Errorf("legs must be 2, 3 or any")
	}
	if !strings.HasSuffix(g.HeaderPrefix, "-") || len(g.HeaderPrefix) < 3 || !isToken(g.HeaderPrefix) {
		return fmt.Errorf("header_prefix %q must end with '-', be at least 3 characters and be valid in a header name", g.HeaderPrefix)
	}
	// Every caller header under the prefix is removed, on every route
	// scopegate_strip covers.
	for _, std := range standardHeaders {
		if hasPrefixFold(std, g.HeaderPrefix) {
			return fmt.Errorf("header_prefix %q would remove the caller's %s header from every request; choose a prefix of your own, such as X-Identity-", g.HeaderPrefix, std)
		}
	}
	if g.CORS != nil {
		if err := g.CORS.Validate(); err != nil {
			return err
		}
	}
	for _, name := range g.IdentityHeaders {
		if !slices.Contains(IdentityHeaderNames, name) && name != headerSetDefault && name != headerSetAll {
			return fmt.Errorf("identity_headers: unknown header %q (known: %s, or %s and %s)", name, strings.Join(IdentityHeaderNames, ", "), headerSetDefault, headerSetAll)
		}
	}
	if g.Impersonation != nil && g.Impersonation.Header != "" {
		h := g.Impersonation.Header
		if !isToken(h) {
			return fmt.Errorf("impersonation header %q is not a valid header name", h)
		}
		// '_' and '.' spell the same header as '-' to CGI and php_fastcgi,
		// and every spelling but the exact name is refused (otherSpelling):
		// X_Act_As_User and another guard's X-Act-As-User would each be
		// the other's refused spelling.
		if strings.ContainsAny(h, "_.") {
			return fmt.Errorf("impersonation header %q: use '-' between words, not '_' or '.' (which CGI reads as the same header)", h)
		}
		// Caller-sent headers with the prefix are stripped before the
		// impersonation header is read, and a trusted one would be deleted.
		if hasPrefixFold(h, g.HeaderPrefix) || hasPrefixFold(h, DefaultHeaderPrefix) {
			return fmt.Errorf("impersonation header %q must not start with header_prefix %q or %q", h, g.HeaderPrefix, DefaultHeaderPrefix)
		}
		// The impersonation headers are removed from every request (and
		// read as a user to act as).
		for _, std := range standardHeaders {
			if equalNameFold(h, std) {
				return fmt.Errorf("impersonation header %q is a standard header every request may carry; choose a name of your own, such as X-Act-As-User", h)
			}
		}
	}
	return nil
}

// standardHeaders are headers of HTTP itself, proxies and browsers, which
// neither a header_prefix nor an impersonation header may claim.
var standardHeaders = []string{
	"Accept", "Accept-Encoding", "Accept-Language", "Authorization", "Cache-Control", "Connection",
	"Content-Encoding", "Content-Length", "Content-Type", "Cookie", "Expect", "Forwarded", "Host",
	"If-Match", "If-Modified-Since", "If-None-Match", "Origin", "Proxy-Authorization", "Range", "Referer",
	"Sec-Fetch-Site", "Sec-Websocket-Key", "Sec-Websocket-Version", "Grpc-Timeout", "Te", "Traceparent", "Trailer", "Transfer-Encoding", "Upgrade", "User-Agent", "Via",
	"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip", "X-Request-Id",
}

// isToken reports whether s only holds RFC 9110 tchars, the characters of a
// header field name.
func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// varClaims is the request variable where the first guard of a request
// leaves the verified identity, so stacked guards do not verify twice.
const varClaims = "scopegate.identity"

// Identity is the verified caller of a request.
type Identity struct {
	Claims *token.Claims
	// UserID is the effective user: the impersonated one, the token's bound
	// user, or "" for a 2-legged token without impersonation.
	UserID string
	// Actor is the client acting on the user's behalf when impersonating.
	Actor *token.Actor
	// authorization is the caller's Authorization header, which the first
	// guard removes unless it forwards the token, kept so that a later guard
	// of the route with forward_token can put it back.
	authorization []string
	// headerValues backs the values of the identity headers, in the same
	// allocation as the identity, until claims need more room (apply).
	headerValues [7]string
}

// String describes the identity without the kept token: Caddy renders
// {http.vars.scopegate.identity} with fmt, which would otherwise print the
// unexported fields, the caller's Authorization header among them.
func (id Identity) String() string {
	var b strings.Builder
	if id.Claims != nil {
		b.WriteString("client_id=" + id.Claims.ClientID + " tenant=" + id.Claims.Tenant)
	}
	if id.UserID != "" {
		b.WriteString(" user_id=" + id.UserID)
	}
	if id.Actor != nil {
		b.WriteString(" actor=" + id.Actor.ClientID)
	}
	return strings.TrimSpace(b.String())
}

// GoString is String, for %#v.
func (id Identity) GoString() string { return id.String() }

// ServeHTTP checks the request and passes it on with a trusted identity.
func (g *Guard) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	vars := varsOf(r)
	id := vars.identity()
	if id == nil {
		// A browser's preflight carries no token: answered here for the
		// origins allowed, never passed on.
		if g.cors.AnswerPreflight(w, r) {
			return nil
		}
		return g.serveFirst(g.cors.MarkCall(w, r), r, next, vars)
	}
	// A later guard of the route: the identity is the first one's.
	if g.Impersonation != nil && id.Actor == nil && callerSent(r, vars.moved(), g.actHeader) {
		// An earlier guard without impersonation already ran; this one
		// cannot change the identity after the fact.
		return g.refuse(w, r, oauth.New(oauth.InsufficientScope, http.StatusForbidden, "impersonation must be enabled on the first guard of the route"))
	}
	if oerr := g.authorize(r, id); oerr != nil {
		return g.refuse(w, r, oerr)
	}
	if g.ForwardToken && id.authorization != nil {
		r.Header["Authorization"] = id.authorization
	}
	return next.ServeHTTP(w, r)
}

// serveFirst is the first guard of a request: it verifies the token, sets
// the identity, and counts its decision.
func (g *Guard) serveFirst(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, vars requestVars) error {
	moved := vars.moved()
	id, oerr := g.authenticate(r, moved)
	if oerr != nil {
		return g.refuse(w, r, oerr)
	}
	g.setPlaceholders(r, id)
	vars.set(varClaims, id)
	// Checked before the identity headers are set, so that a refused
	// request handed to handle_errors carries none.
	if oerr := g.authorize(r, id); oerr != nil {
		return g.refuse(w, r, oerr)
	}
	// Impersonation headers were consumed or refused above; the upstream
	// gets the effective user instead.
	dropHopByHop(r.Header)
	g.hdr.apply(r, id, g)
	scrubTrailers(r, g, true, g.trailers)
	if !g.ForwardToken {
		id.authorization = r.Header["Authorization"]
		delete(r.Header, "Authorization")
	}
	if len(moved) > 0 {
		// Consumed or refused above: later handlers see that scopegate_strip
		// ran, and nothing left to act on.
		vars.set(varMoved, nothingMoved)
	}
	err := next.ServeHTTP(w, r)
	observeAllowed(vars)
	return err
}

// forged reports whether a caller's header k claims an identity: under
// this guard's prefix or another guard's of the config (a later guard of
// the route may use another prefix, and sets no headers of its own), or an
// impersonation header.
func (g *Guard) forged(k string) bool {
	return isCallerIdentityHeader(k, g.hdr.prefixes, g.app.ImpersonationHeaders()) ||
		isCallerIdentityHeader(k, g.app.IdentityPrefixes(), nil)
}

// authenticate reads and verifies the bearer token and applies impersonation.
// moved holds the impersonation headers scopegate_strip took out of r.
func (g *Guard) authenticate(r *http.Request, moved http.Header) (*Identity, *oauth.Error) {
	if !checkedClear(r) && unclearPath(r.URL.Path) {
		return nil, oauth.New(oauth.InvalidRequest, http.StatusBadRequest, "%s", descUnclearPath)
	}
	if !g.AllowEncodedSlashes && encodedSlash(r.URL) {
		return nil, oauth.New(oauth.InvalidRequest, http.StatusBadRequest, "%s", descEncodedSlash)
	}
	if queryNamesToken(r.URL.RawQuery) {
		return nil, oauth.New(oauth.InvalidRequest, http.StatusBadRequest, "%s", descQueryToken)
	}
	raw, oerr := bearer(r)
	if oerr != nil {
		return nil, oerr
	}
	c, err := g.app.Verify(r.Context(), raw)
	if err != nil {
		if app.IsTokenError(err) {
			return nil, oauth.New(oauth.InvalidToken, http.StatusUnauthorized, "%s", err.Error())
		}
		return nil, g.failure(r.Context(), "verifying a token", err)
	}
	id := &Identity{Claims: c, UserID: c.UserID()}
	if c.Act != nil {
		id.Actor = c.Act
	}
	names := g.app.ImpersonationHeaders()
	if name, odd := otherSpelling(r, moved, names); odd != "" {
		if g.Impersonation != nil && name == g.actHeader {
			return nil, oauth.New(oauth.InvalidRequest, http.StatusBadRequest, "send the impersonation header as %s, not %s", name, odd)
		}
		return nil, oauth.New(oauth.InsufficientScope, http.StatusForbidden, "impersonation (%s) is not enabled on this route", name)
	}
	for _, name := range names {
		if !(g.Impersonation != nil && name == g.actHeader) && callerSent(r, moved, name) {
			return nil, oauth.New(oauth.InsufficientScope, http.StatusForbidden, "impersonation (%s) is not enabled on this route", name)
		}
	}
	if g.Impersonation == nil {
		return id, nil
	}
	switch as := callerValues(r, moved, g.actHeader); {
	case len(as) > 1:
		// As with Authorization: a proxy in front may have read another
		// of the values than the one this guard would act on.
		return nil, oauth.New(oauth.InvalidRequest, http.StatusBadRequest, "the %s header is repeated", g.actHeader)
	case len(as) == 1 && as[0] != "":
		if oerr := g.impersonate(r.Context(), id, as[0]); oerr != nil {
			return nil, oerr
		}
	}
	return id, nil
}

// bearer extracts the token from a single Authorization: Bearer header.
func bearer(r *http.Request) (string, *oauth.Error) { return Bearer(r.Header["Authorization"]) }

// Bearer reads the token of the Authorization header values (RFC 6750
// §2.1): exactly one, of the Bearer scheme, with a token. The admin API
// answers as the guard does.
func Bearer(values []string) (string, *oauth.Error) {
	switch len(values) {
	case 0:
		return "", oauth.New(oauth.InvalidToken, http.StatusUnauthorized, descNoBearer)
	case 1:
	default:
		return "", oauth.New(oauth.InvalidRequest, http.StatusBadRequest, "the Authorization header is repeated")
	}
	// "Bearer" alone is the right scheme with no token (said so), not
	// another scheme.
	scheme, raw, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", oauth.New(oauth.InvalidToken, http.StatusUnauthorized, descNotBearer)
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", oauth.New(oauth.InvalidToken, http.StatusUnauthorized, descEmptyBearer)
	}
	return raw, nil
}

// authorize checks scopes, legs and bound claims against this route.
func (g *Guard) authorize(r *http.Request, id *Identity) *oauth.Error {
	c := id.Claims
	granted := c.Scopes()
	cat := g.app.Catalogue()
	legs := c.Legs
	if id.Actor != nil && id.UserID != "" {
		legs = 3 // acting as a user makes the request user-bound
	}
	if !g.Legs.Allows(legs) {
		return legsError(g.Legs)
	}
	if oerr := requireAll(cat, granted, legs, g.Scopes); oerr != nil {
		return oerr
	}
	if len(g.AnyScopes) > 0 {
		ok := false
		var wrongLegs *oauth.Error // a held scope that does not suit this kind of token
		for _, s := range g.AnyScopes {
			if !cat.Satisfies(granted, s) {
				continue
			}
			if def, known := cat.Get(s); known && !def.Legs.Allows(legs) {
				if wrongLegs == nil {
					wrongLegs = legsError(def.Legs)
				}
				continue
			}
			ok = true
			break
		}
		if !ok && wrongLegs != nil {
			return wrongLegs
		}
		if !ok {
			e := oauth.New(oauth.InsufficientScope, http.StatusForbidden, "the token needs one of the scopes %s", scope.Join(g.AnyScopes))
			e.Scope = scope.Join(g.AnyScopes)
			return e
		}
	}
	if oerr := g.checkClaims(r, granted, c.Ext); oerr != nil {
		return oerr
	}
	// Last, as when a second guard behind a write matcher checked them.
	if len(g.WriteScopes) > 0 && (isWrite(r.Method) || opensWebSocket(r.Header)) {
		return requireAll(cat, granted, legs, g.WriteScopes)
	}
	return nil
}

// requireAll checks that the granted scopes satisfy every one of need, and
// that a token of this many legs suits each (a scope whose catalogue entry
// demands a kind of token demands it here too). A refusal names all of need.
func requireAll(cat *scope.Catalogue, granted []string, legs int, need []string) *oauth.Error {
	for _, s := range need {
		if !cat.Satisfies(granted, s) {
			e := oauth.New(oauth.InsufficientScope, http.StatusForbidden, "the token lacks scope %s", s)
			e.Scope = scope.Join(need)
			return e
		}
		if def, ok := cat.Get(s); ok && !def.Legs.Allows(legs) {
			return legsError(def.Legs)
		}
	}
	return nil
}

// isWrite reports whether a request with method m needs write_scopes: any
// method but GET, HEAD and OPTIONS, compared exactly as Caddy's method
// matcher does, so that "get" or PURGE count as writes (fail closed).
func isWrite(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// opensWebSocket reports whether the request will reach the upstream as a
// WebSocket upgrade: Connection names Upgrade, as reverse_proxy requires,
// and Upgrade asks for WebSocket alone (dropHopByHop, which runs after this
// check when no scopegate_strip ran before, drops any other offer and lets
// the plain request through). Such a GET needs write_scopes too: past the 101 the
// proxy tunnels bytes both ways and no guard sees what the caller sends, so
// a read-only token would otherwise write through the socket (an RFC 8441
// WebSocket over HTTP/2 is a CONNECT, a write already). Without an Upgrade
// header this is one map lookup.
func opensWebSocket(h http.Header) bool {
	up, ok := h["Upgrade"]
	if !ok {
		return false
	}
	return webSocketOnly(up) && httpguts.HeaderValuesContainsToken(h["Connection"], "Upgrade")
}

// allScopes lists every scope the guard names.
func (g *Guard) allScopes() []string {
	return slices.Concat(g.Scopes, g.AnyScopes, g.WriteScopes)
}

func legsError(need scope.Legs) *oauth.Error {
	if need == scope.ThreeLegged {
		return oauth.New(oauth.InsufficientScope, http.StatusForbidden, "this route needs a 3-legged token (bound to a user)")
	}
	return oauth.New(oauth.InsufficientScope, http.StatusForbidden, "this route needs a 2-legged token (not bound to a user)")
}

// statusClientClosedRequest is what Caddy's reverse_proxy, like nginx,
// records for a request whose caller went away before the answer.
const statusClientClosedRequest = 499

// failure logs the internal error err met while doing what, and answers
// it: 503 temporarily_unavailable with Retry-After when the database is
// unavailable (store.Unavailable decides, for every endpoint alike), else
// 500. When the lookup failed because the caller hung up (which cancels
// it), nothing failed here and nobody reads the answer: 499, logged at
// debug level and counted as canceled rather than as a server error. Any
// other failure, a deadline or an outage met before the hang-up included,
// is reported as such.
func (g *Guard) failure(ctx context.Context, what string, err error) *oauth.Error {
	if errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.Canceled) {
		g.logger.Debug(what+": the client closed the request", zap.Error(err))
		return oauth.New(oauth.ServerError, statusClientClosedRequest, "the client closed the request")
	}
	app.LogFailure(g.logger, zap.ErrorLevel, what, err)
	if store.Unavailable(err) {
		return oauth.ErrUnavailable(store.RetryAfter)
	}
	return oauth.ErrServer()
}

func legsOf(id *Identity) int {
	if id.UserID != "" {
		return 3
	}
	return 2
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Guard)(nil)
	_ caddy.Validator             = (*Guard)(nil)
	_ caddyhttp.MiddlewareHandler = (*Guard)(nil)
)
