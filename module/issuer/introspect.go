package issuer

import (
	"encoding/json"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
)

func init() {
	caddy.RegisterModule(Introspection{})
	RegisterEndpoint("introspect", func(d *caddyfile.Dispenser) (caddyhttp.MiddlewareHandler, error) {
		if d.NextArg() || d.NextBlock(0) {
			return nil, d.Err("scopegate introspect takes no options")
		}
		return new(Introspection), nil
	})
}

// Introspection is the RFC 7662 endpoint: an authenticated client (for
// example a resource server) asks whether a token is active and what it
// carries. Revoked tokens, tokens of disabled clients and tokens of another
// tenant than the asking client's are inactive.
type Introspection struct {
	app    *app.App
	logger *zap.Logger
}

// CaddyModule returns the Caddy module information.
func (Introspection) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_introspect",
		New: func() caddy.Module { return new(Introspection) },
	}
}

// Provision looks up the scopegate app.
func (in *Introspection) Provision(ctx caddy.Context) error {
	a, err := app.From(ctx)
	in.app, in.logger = a, ctx.Logger()
	return err
}

// ServeHTTP answers an introspection request.
func (in *Introspection) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	e := &TokenEndpoint{app: in.app, logger: in.logger}
	req, oerr := ParseRequest(w, r)
	var caller *store.Client
	if oerr == nil {
		caller, oerr = e.authenticate(r.Context(), req)
	}
	if oerr == nil && req.Get("token") == "" {
		oerr = oauth.ErrInvalidRequest("the token parameter is missing")
	}
	if oerr != nil {
		oauth.WriteJSON(w, oerr, "scopegate")
		return nil
	}
	body := map[string]any{"active": false}
	c, err := in.app.Verify(r.Context(), req.Get("token"))
	switch {
	case err == nil && c.Tenant != caller.TenantID:
		// Tenants are kept apart: another tenant's token is none of this
		// client's business, and RFC 7662 §2.2 lets the answer be inactive.
	case err == nil:
		body = map[string]any{
			"active": true, "scope": c.Scope, "client_id": c.ClientID, "token_type": "Bearer",
			"exp": c.ExpiresAt.Unix(), "iat": c.IssuedAt.Unix(), "sub": c.Subject, "aud": c.Audience,
			"iss": c.Issuer, "jti": c.ID, "tenant": c.Tenant, "legs": c.Legs,
		}
		if c.Act != nil {
			body["act"] = c.Act
		}
		for k, v := range c.Ext {
			body[k] = v
		}
	case !app.IsTokenError(err):
		in.logger.Error("introspecting token", zap.Error(err))
		oauth.WriteJSON(w, serverFailure(err), "scopegate")
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(body)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Introspection)(nil)
	_ caddyhttp.MiddlewareHandler = (*Introspection)(nil)
)
