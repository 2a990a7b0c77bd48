package issuer

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
)

func init() {
	caddy.RegisterModule(Introspection{})
	RegisterEndpoint("introspect", func(d *caddyfile.Dispenser) (caddyhttp.MiddlewareHandler, error) {
		realm, err := parseRealmOnly(d, "introspect")
		return &Introspection{Realm: realm}, err
	})
}

// Introspection is the RFC 7662 endpoint: an authenticated client asks
// whether a token is active and what it carries. It is least privilege: a
// client introspects its own tokens; a client allowed the built-in scope
// scopegate.introspect (a resource server, say) also those of every other
// client of its tenant. Every other token, like a revoked one or one of a
// disabled client, is {"active": false} (RFC 7662 §2.2: the answer does not
// tell a token the caller may not see from a dead one).
type Introspection struct {
	// Realm of the Basic challenge sent with invalid_client. Default: "scopegate".
	Realm string `json:"realm,omitempty"`

	app    *app.App
	logger *zap.Logger
	failed *zap.Logger // logger, sampled: failed client authentications are anyone's to cause
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
	if err != nil {
		return err
	}
	in.app, in.logger, in.failed = a, ctx.Logger(), a.SampledLogger(ctx.Logger())
	a.RegisterEndpoint(EndpointIntrospect)
	return nil
}

// ServeHTTP answers an introspection request.
func (in *Introspection) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	m := &Minter{app: in.app, logger: in.logger}
	req, oerr := ParseRequest(w, r, readsTokenOf)
	if oerr == nil {
		oerr = notOpen(in.app)
	}
	var caller *store.Client
	if oerr == nil {
		caller, oerr = m.authenticate(r.Context(), req)
	}
	if oerr == nil && req.Get("token") == "" {
		oerr = oauth.ErrInvalidRequest("the token parameter is missing")
	}
	if oerr != nil {
		logAuthFailure(in.failed, in.app, r, req, oerr, EndpointIntrospect)
		oauth.WriteJSON(w, oerr, realmOr(in.Realm))
		return nil
	}
	body := map[string]any{"active": false}
	c, err := in.app.Verify(r.Context(), req.Get("token"))
	switch {
	case err == nil && !in.mayRead(caller, c):
		// Not this client's business: answered as inactive.
	case err == nil && c.ExpiresAt != nil && !c.ExpiresAt.After(time.Now()):
		// Past its exp: guards still take it for the clock-skew leeway, but
		// the issuer's own clock says it is over, and an answer "active"
		// next to an exp in the past would contradict itself.
	case err == nil:
		body = map[string]any{
			"active": true, "scope": c.Scope, "client_id": c.ClientID, "token_type": "Bearer",
			"exp": c.ExpiresAt.Unix(), "iat": c.IssuedAt.Unix(), "sub": c.Subject, "aud": c.Audience,
			"iss": c.Issuer, "jti": c.ID, "tenant": c.Tenant, "legs": c.Legs,
		}
		if c.Act != nil {
			body["act"] = c.Act
		}
		// The claims scopes required, next to the standard members but
		// never over one nor posing as one (act, username, cnf, …): the
		// catalogue refuses such names now, but a token minted under an
		// older one may still carry them, and a client chose their values.
		for k, v := range c.Ext {
			if _, taken := body[k]; !taken && !scope.IsReservedClaim(k) {
				body[k] = v
			}
		}
	case !app.IsTokenError(err):
		app.LogFailure(in.logger, zap.ErrorLevel, "introspecting token", err)
		oauth.WriteJSON(w, serverFailure(err), realmOr(in.Realm))
		return nil
	default:
		// Not an access token: maybe a refresh token (RFC 7662 §2.1 takes
		// either kind).
		if body, err = in.refreshToken(r.Context(), caller, req.Get("token")); err != nil {
			oauth.WriteJSON(w, m.failed(r.Context(), "introspecting a refresh token", err), realmOr(in.Realm))
			return nil
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(body)
}

// refreshToken answers the introspection of raw as a refresh token: active
// while it can be used (stored, not yet rotated, not expired, its client
// still enabled) and the caller may read it as it may the client's access
// tokens.
func (in *Introspection) refreshToken(ctx context.Context, caller *store.Client, raw string) (map[string]any, error) {
	inactive := map[string]any{"active": false}
	if strings.Count(raw, ".") > 1 {
		return inactive, nil // a JWT's shape: an access token that failed
	}
	t, err := in.app.Store().GetRefreshToken(ctx, store.Digest(raw))
	if errors.Is(err, store.ErrNotFound) {
		return inactive, nil
	}
	if err != nil {
		return nil, err
	}
	now := time.Now()
	if t.UsedAt != nil || !now.Before(t.ExpiresAt) {
		return inactive, nil
	}
	c, err := in.app.Runtime().Client(ctx, t.ClientID)
	if err != nil {
		return nil, err
	}
	if c == nil || c.Disabled || !in.mayRead(caller, &token.Claims{ClientID: c.ID, Tenant: c.TenantID}) {
		return inactive, nil
	}
	return map[string]any{
		"active": true, "token_type": "refresh_token", "scope": scope.Join(t.Scopes), "client_id": c.ID,
		"sub": t.UserID, "tenant": c.TenantID, "exp": t.ExpiresAt.Unix(), "iat": t.CreatedAt.Unix(),
		"iss": in.app.Issuer,
	}, nil
}

// mayRead reports whether caller may see token c's claims: its own token,
// or, with scopegate.introspect among its allowed scopes (implications
// followed), a token of its own tenant. No scope reaches another tenant's
// tokens, scopegate.admin included.
func (in *Introspection) mayRead(caller *store.Client, c *token.Claims) bool {
	if c.Tenant != caller.TenantID {
		return false
	}
	if c.ClientID == caller.ID {
		return true
	}
	// An app's tenant pair never reads the tenant's other tokens, whatever
	// it holds: one allowed before apps were refused scopegate.introspect,
	// or holding a scope a later catalogue makes imply it.
	return caller.AppID == nil && in.app.Catalogue().Satisfies(caller.AllowedScopes, scope.Introspect)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Introspection)(nil)
	_ caddyhttp.MiddlewareHandler = (*Introspection)(nil)
)
