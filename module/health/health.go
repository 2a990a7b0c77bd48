// Package health is the scopegate health handler: liveness and readiness
// probes for load balancers and orchestrators, mounted wherever the
// operator wants them, e.g. `handle /healthz* { scopegate health }`.
package health

import (
	"encoding/json"
	"net/http"
	"path"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/issuer"
)

func init() {
	caddy.RegisterModule(Health{})
	issuer.RegisterEndpoint("health", func(d *caddyfile.Dispenser) (caddyhttp.MiddlewareHandler, error) {
		h := new(Health)
		return h, h.UnmarshalCaddyfile(d)
	})
}

// Health answers probes. A request whose path ends in /live, or that has a
// live query parameter, asks whether the process answers: always 200. Any
// other asks whether the node is ready for traffic: 200 when the database
// answers a ping, a signing key is loaded and the change feed was read
// recently, else 503; both with a JSON body naming each check.
type Health struct {
	app    *app.App
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Health) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_health",
		New: func() caddy.Module { return new(Health) },
	}
}

// Provision looks up the scopegate app.
func (h *Health) Provision(ctx caddy.Context) error {
	a, err := app.From(ctx)
	if err != nil {
		return err
	}
	h.app, h.logger = a, ctx.Logger()
	return nil
}

// answer is the body of every probe.
type answer struct {
	Status string            `json:"status"` // ok or unavailable
	Checks map[string]string `json:"checks,omitempty"`
}

// ServeHTTP answers a liveness or readiness probe.
func (h *Health) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		return caddyhttp.Error(http.StatusMethodNotAllowed, nil)
	}
	if liveness(r) {
		write(w, r, http.StatusOK, answer{Status: "ok"})
		return nil
	}
	res := h.app.Readiness(r.Context())
	if !res.Ready {
		h.logger.Debug("not ready", zap.Any("checks", res.Checks))
		write(w, r, http.StatusServiceUnavailable, answer{Status: "unavailable", Checks: res.Checks})
		return nil
	}
	write(w, r, http.StatusOK, answer{Status: "ok", Checks: res.Checks})
	return nil
}

// liveness reports whether r asks only whether the process answers.
func liveness(r *http.Request) bool {
	if _, ok := r.URL.Query()["live"]; ok {
		return true
	}
	return path.Base(strings.TrimRight(r.URL.Path, "/")) == "live"
}

func write(w http.ResponseWriter, r *http.Request, status int, body answer) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_ = json.NewEncoder(w).Encode(body)
	}
}

// UnmarshalCaddyfile reads `scopegate health`, which takes no options.
func (h *Health) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	if d.NextBlock(0) {
		return d.Errf("unknown health option %q (scopegate health takes none)", d.Val())
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Health)(nil)
	_ caddyhttp.MiddlewareHandler = (*Health)(nil)
)
