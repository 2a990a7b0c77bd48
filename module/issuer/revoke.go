package issuer

import (
	"errors"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/cors"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
)

func init() {
	caddy.RegisterModule(Revocation{})
	RegisterEndpoint("revoke", func(d *caddyfile.Dispenser) (caddyhttp.MiddlewareHandler, error) {
		rv := new(Revocation)
		return rv, rv.UnmarshalCaddyfile(d)
	})
}

// Revocation is the RFC 7009 token revocation endpoint: an authenticated
// client revokes one of its own tokens, which every node then refuses.
type Revocation struct {
	// Realm of the Basic challenge sent with invalid_client. Default: "scopegate".
	Realm string `json:"realm,omitempty"`
	// Browser pages of these origins may call the endpoint (module/cors),
	// as at the token endpoint: a single-page app revokes its tokens when
	// its user signs out.
	CORS *cors.Config `json:"cors,omitempty"`

	cors   *cors.Rules // nil without CORS
	app    *app.App
	logger *zap.Logger
	failed *zap.Logger // logger, sampled: failed client authentications are anyone's to cause
}

// CaddyModule returns the Caddy module information.
func (Revocation) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_revoke",
		New: func() caddy.Module { return new(Revocation) },
	}
}

// Provision looks up the scopegate app.
func (rv *Revocation) Provision(ctx caddy.Context) error {
	a, err := app.From(ctx)
	if err != nil {
		return err
	}
	rv.app, rv.logger, rv.failed = a, ctx.Logger(), a.SampledLogger(ctx.Logger())
	if rv.CORS != nil {
		rv.cors = cors.NewRules(rv.CORS)
	}
	a.RegisterEndpoint(EndpointRevoke)
	return nil
}

// Validate checks cors.
func (rv *Revocation) Validate() error {
	if rv.CORS != nil {
		return rv.CORS.Validate()
	}
	return nil
}

// UnmarshalCaddyfile reads the block: realm and cors.
func (rv *Revocation) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.Errf("scopegate revoke takes no arguments, only a block with realm or cors")
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		opt := d.Val()
		if seen[opt] {
			return d.Errf("duplicate option %q", opt)
		}
		seen[opt] = true
		switch opt {
		case "realm":
			realm, err := realmArg(d)
			if err != nil {
				return err
			}
			rv.Realm = realm
		case "cors":
			c, err := cors.Unmarshal(d)
			if err != nil {
				return err
			}
			rv.CORS = c
		default:
			return d.Errf("unknown revoke option %q (known: realm, cors)", opt)
		}
	}
	return rv.Validate()
}

// ServeHTTP revokes the token named by the "token" parameter.
func (rv *Revocation) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if rv.cors.AnswerPreflight(w, r) {
		return nil
	}
	w = rv.cors.MarkCall(w, r)
	m := &Minter{app: rv.app, logger: rv.logger}
	req, oerr := ParseRequest(w, r, readsTokenOf)
	if oerr == nil {
		oerr = notOpen(rv.app)
	}
	if oerr == nil {
		// A public client revokes with its client_id (RFC 7009 §2.1).
		_, oerr = m.authenticateFor(r.Context(), req, true)
	}
	if oerr == nil {
		oerr = rv.revoke(req)
	}
	if oerr != nil {
		logAuthFailure(rv.failed, rv.app, r, req, oerr, EndpointRevoke)
		oauth.WriteJSON(w, oerr, realmOr(rv.Realm))
		return nil
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	return nil
}

func (rv *Revocation) revoke(req *Request) *oauth.Error {
	raw := req.Get("token")
	if raw == "" {
		return oauth.ErrInvalidRequest("the token parameter is missing")
	}
	// token_type_hint needs no check: both kinds are looked up whatever it
	// says, and RFC 7009 §2.1 lets a server ignore a hint it does not know
	// (unsupported_token_type is for a token kind it cannot revoke).
	c, err := rv.app.ParseToken(req.HTTP.Context(), raw)
	if err != nil {
		// Not an access token: maybe a refresh token, whose whole grant goes.
		// RFC 7009 §2.2: an invalid or expired token needs no revoking.
		return rv.revokeRefresh(req, raw)
	}
	if c.ClientID != req.ClientID {
		return oauth.ErrUnauthorizedClient("a client may revoke only its own tokens")
	}
	if err := rv.app.Revoke(req.HTTP.Context(), c); err != nil {
		app.LogFailure(rv.logger, zap.ErrorLevel, "revoking token", err)
		return serverFailure(err)
	}
	return nil
}

// revokeRefresh revokes the family of a refresh token of the client.
func (rv *Revocation) revokeRefresh(req *Request, raw string) *oauth.Error {
	ctx := req.HTTP.Context()
	t, err := rv.app.Store().GetRefreshToken(ctx, store.Digest(raw))
	if errors.Is(err, store.ErrNotFound) {
		// A retired token pruned from its family's rows still takes the
		// grant with it, as it did while it had a row.
		t, err = rv.app.Store().LiveRefreshFamily(ctx, raw, rv.app.Sealer())
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err == nil && t.ClientID != req.ClientID {
		return oauth.ErrUnauthorizedClient("a client may revoke only its own tokens")
	}
	if err == nil {
		err = rv.app.Store().RevokeRefreshFamily(ctx, t.FamilyID)
	}
	if err != nil {
		app.LogFailure(rv.logger, zap.ErrorLevel, "revoking a refresh token", err)
		return serverFailure(err)
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Revocation)(nil)
	_ caddyhttp.MiddlewareHandler = (*Revocation)(nil)
)
