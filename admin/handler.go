// Package admin is Scopegate's admin API: the scopegate_admin HTTP handler,
// a JSON REST API over the clients, users, tenants, developer apps and their
// tenant integrations, scope catalogue, audit log and signing keys of the
// scopegate app. The operator mounts it where it suits them, with the prefix
// stripped:
//
//	handle_path /admin/* {
//		scopegate_admin
//	}
//
// Every request but GET /openapi.json, the API's OpenAPI 3.1 description
// (openapi.go), needs a bearer token with scopegate.admin (every tenant, in
// the default tenant) or scopegate.tenant_admin (the token's own tenant
// only); a token bound to a user has no more power than that user, an
// active admin, and a client's token no more than the admin user who made
// the client (authority.go, by the rules of module/power). No caller hands
// out more power than it holds.
// Errors are RFC 9457 problems. Browser requests (no Authorization header) for "/" and
// "/console/…" get the admin console instead (console.go). The operator's
// command line, caddy scopegate client|user|tenant|key (cli.go), runs the
// same routes in-process.
package admin

import (
	"context"
	"errors"
	"net/http"
	"path"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
)

// realm is the realm of the admin API's bearer challenges.
const realm = "scopegate-admin"

func init() {
	caddy.RegisterModule(Handler{})
}

// Handler serves the admin API. What it manages lives in the scopegate
// app's database; its own settings only shape how clients are made.
type Handler struct {
	// Ties each api_key client an admin user creates (in the console, or
	// with a user-bound admin token) to that user: the client connects as
	// its creator, so its tokens act as, and its calls are recorded under,
	// the user who made it (Imagen's "the API key is tied to the user who
	// created it"). A body naming another connect-as user, or none, is then
	// a 400. Clients made by a client's token, and by a super admin for
	// another tenant than its own, are not affected.
	ConnectAsCreator bool `json:"connect_as_creator,omitempty"`

	// Gives every api_key client a connect-as user (Bigtincan: "select a
	// user that the API is using to connect as"; Imagen: "the API key is
	// tied to a user ID"), so no API key acts as itself with no user to
	// restrict its access: left out on create it is the admin user who
	// creates the client (when of the client's tenant), else a 400 naming
	// connect_as_user_id; removing it is a 400. connect_as_creator implies
	// it. Clients holding an admin scope (gateway tools, such as the one
	// bootstrap makes) and an app's pairs for tenants, which may not
	// connect as anyone, are not affected.
	RequireConnectAs bool `json:"require_connect_as,omitempty"`

	app    *app.App
	mux    *http.ServeMux
	routes []string // the patterns setup registered, in order (openapi_test.go holds the document to them)
	logger *zap.Logger
	// throttled logs the sign-ins refused for too many attempts, sampled.
	throttled *zap.Logger
	console   *console
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_admin",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision attaches the handler to the scopegate app (which works with no
// configuration at all) and builds the routes.
func (h *Handler) Provision(ctx caddy.Context) error {
	a, err := app.From(ctx)
	if err != nil {
		return err
	}
	h.setup(a, ctx.Logger())
	return nil
}

// setup wires the handler to a running app. Tests call it directly with an
// app from apptest.Open.
func (h *Handler) setup(a *app.App, logger *zap.Logger) {
	h.app = a
	h.logger = logger
	h.throttled = a.SampledLogger(logger)
	h.routes = nil
	mux := http.NewServeMux()
	h.route(mux, "GET /clients", h.listClients)
	h.route(mux, "POST /clients", h.createClient)
	h.route(mux, "POST /clients/ensure", h.ensureClient)
	h.route(mux, "GET /clients/{id}", h.getClient)
	h.route(mux, "PATCH /clients/{id}", h.patchClient)
	h.route(mux, "DELETE /clients/{id}", h.deleteClient)
	h.route(mux, "GET /clients/{id}/secret", h.clientSecret)
	h.route(mux, "POST /clients/{id}/rotate", h.rotateClient)
	h.route(mux, "POST /clients/{id}/disable", h.disableClient)
	h.route(mux, "POST /clients/{id}/restore", h.restoreClient)
	h.route(mux, "POST /clients/{id}/revoke_tokens", h.revokeClientTokens)
	h.route(mux, "GET /apps", h.listApps)
	h.route(mux, "POST /apps", h.createApp)
	h.route(mux, "GET /apps/{id}", h.getApp)
	h.route(mux, "PATCH /apps/{id}", h.patchApp)
	h.route(mux, "GET /integrations", h.listIntegrations)
	h.route(mux, "GET /integrations/{app_id}", h.getIntegration)
	h.route(mux, "POST /integrations/{app_id}/allow", h.allowIntegration)
	h.route(mux, "POST /integrations/{app_id}/decline", h.declineIntegration)
	h.route(mux, "POST /integrations/{app_id}/disable", h.disableIntegration)
	h.route(mux, "POST /integrations/{app_id}/restore", h.restoreIntegration)
	h.route(mux, "GET /users", h.listUsers)
	h.route(mux, "POST /users", h.createUser)
	h.route(mux, "GET /users/{id}", h.getUser)
	h.route(mux, "PATCH /users/{id}", h.patchUser)
	h.route(mux, "DELETE /users/{id}/consents/{client_id}", h.revokeConsent)
	h.route(mux, "GET /tenants", h.listTenants)
	h.route(mux, "POST /tenants", h.createTenant)
	h.route(mux, "GET /tenants/{id}", h.getTenant)
	h.route(mux, "GET /scopes", h.listScopes)
	h.route(mux, "GET /audit", h.listAudit)
	h.route(mux, "GET /keys", h.listKeys)
	h.route(mux, "POST /keys/rotate", h.rotateKeys)
	h.route(mux, "GET "+openAPIPath, h.openAPI)
	h.mux = mux
	h.console = newConsole(h)
}

// ServeHTTP authenticates the caller, then routes. The admin API is a
// responder: next is never called.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if isConsole(r) { // a browser: the admin console (console.go)
		h.console.serve(w, r)
		return nil
	}
	if isOpenAPI(r) { // the one route served without a token (openapi.go)
		serveOpenAPI(w, r)
		return nil
	}
	if err := h.app.Available(); err != nil { // the app's start failed
		writeProblem(w, internalProblem(err))
		return nil
	}
	c, ok := h.authenticate(w, r)
	if !ok {
		return nil
	}
	r = r.WithContext(context.WithValue(r.Context(), callerKey{}, c))

	// ServeMux would redirect a path that is not canonical, to a location
	// that lacks the prefix handle_path stripped: refuse such paths instead.
	if p := r.URL.EscapedPath(); p == "" || p[0] != '/' || path.Clean(p) != p {
		writeProblem(w, notFound("resource"))
		return nil
	}
	if p := queryProblem(r.URL.RawQuery); p != nil {
		writeProblem(w, p)
		return nil
	}
	if fallback, pattern := h.mux.Handler(r); pattern == "" {
		// ServeMux answers unknown routes and wrong methods in plain text;
		// learn which one it is and answer with a problem.
		probe := &probeWriter{header: http.Header{}}
		fallback.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			allow := h.allowed(r, probe.header.Get("Allow"))
			p := newProblem(http.StatusMethodNotAllowed, "%s is not allowed here; use %s", r.Method, allow)
			p.allow = allow
			writeProblem(w, p)
			return nil
		}
		writeProblem(w, notFound("resource"))
		return nil
	} else if p := unknownQueryParam(pattern, r); p != nil {
		writeProblem(w, p)
		return nil
	}
	h.mux.ServeHTTP(w, r)
	return nil
}

// headRefused are the GET routes that answer HEAD 405 themselves (the
// secret: a HEAD would audit a reveal that showed nothing).
var headRefused = map[string]bool{"GET /clients/{id}/secret": true}

// allowed is the Allow list ServeMux gave for r's path, without HEAD where
// the route refuses it, so every 405 of a path names the same methods.
func (h *Handler) allowed(r *http.Request, allow string) string {
	get := r.Clone(r.Context())
	get.Method = http.MethodGet
	if _, pattern := h.mux.Handler(get); !headRefused[pattern] {
		return allow
	}
	var kept []string
	for m := range strings.SplitSeq(allow, ",") {
		if m = strings.TrimSpace(m); m != http.MethodHead {
			kept = append(kept, m)
		}
	}
	return strings.Join(kept, ", ")
}

// routeFunc is a route that returns its failure for fail to answer.
type routeFunc func(w http.ResponseWriter, r *http.Request, c *caller) error

// route registers fn for pattern, handing it the authenticated caller.
func (h *Handler) route(mux *http.ServeMux, pattern string, fn routeFunc) {
	h.routes = append(h.routes, pattern)
	mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(callerKey{}).(*caller)
		if c == nil {
			h.internal(w, r, errors.New("admin route reached without an authenticated caller"))
			return
		}
		if err := fn(w, r, c); err != nil {
			h.fail(w, r, err)
		}
	})
}

// probeWriter records what ServeMux's own fallback handlers would answer.
type probeWriter struct {
	header http.Header
	status int
}

func (p *probeWriter) Header() http.Header { return p.header }

func (p *probeWriter) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	return len(b), nil
}

func (p *probeWriter) WriteHeader(status int) {
	if p.status == 0 {
		p.status = status
	}
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
	_ caddyfile.Unmarshaler       = (*Handler)(nil)
)
