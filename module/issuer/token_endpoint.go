package issuer

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/cors"
	"github.com/scopegate/scopegate/module/oauth"
)

func init() {
	caddy.RegisterModule(TokenEndpoint{})
}

// TokenEndpoint issues access tokens (RFC 6749 §3.2) at whatever path the
// operator mounts it on, e.g. `handle /v1/oauth2/token { scopegate token }`.
type TokenEndpoint struct {
	// Extra response fields that repeat a standard one under the name a
	// documented API uses, e.g. {"type": "token_type"} for Bits. The
	// standard fields are always present too, so OAuth libraries work.
	ResponseAliases map[string]string `json:"response_aliases,omitempty"`
	// The token_type value. Default: "Bearer".
	TokenType string `json:"token_type,omitempty"`
	// Grant types this endpoint accepts. Default: all Scopegate has.
	GrantTypes []string `json:"grant_types,omitempty"`
	// Realm of the Basic challenge sent with invalid_client. Default: "scopegate".
	Realm string `json:"realm,omitempty"`
	// Which clients may name a user (user_id) for a 3-legged
	// client_credentials token: "allowed_clients" (the default), those with
	// allow_user_tokens; or "every_client", as Nitro documents it ("when your
	// token request includes a user ID, you get a 3-legged token"): any client
	// without an admin scope may also name a user of its tenant who is not an
	// admin, while naming an admin still needs allow_user_tokens.
	UserTokens string `json:"user_tokens,omitempty"`
	// Browser pages of these origins may call the endpoint (module/cors):
	// a single-page app, a public client redeeming its code with PKCE, is
	// on another origin than the gateway, and its browser asks first.
	CORS *cors.Config `json:"cors,omitempty"`

	cors    *cors.Rules            // nil without CORS
	reads   func(name string) bool // the parameters this endpoint reads (readsTokenParam)
	app     *app.App
	logger  *zap.Logger
	failed  *zap.Logger // logger, sampled: failed client authentications are anyone's to cause
	minter  *Minter
	enabled map[string]Grant
	// byDefault: GrantTypes was left out, so every grant is on, the code
	// and refresh grants only where this config hands out codes.
	byDefault bool
}

// CaddyModule returns the Caddy module information.
func (TokenEndpoint) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_token",
		New: func() caddy.Module { return new(TokenEndpoint) },
	}
}

// Provision looks up the scopegate app and fills defaults.
func (e *TokenEndpoint) Provision(ctx caddy.Context) error {
	sg, err := app.From(ctx)
	if err != nil {
		return err
	}
	return e.setup(sg, ctx.Logger())
}

func (e *TokenEndpoint) setup(a *app.App, logger *zap.Logger) error {
	e.app, e.logger, e.failed = a, logger, a.SampledLogger(logger)
	e.minter = &Minter{app: a, logger: logger, userTokensEveryClient: e.UserTokens == UserTokensEveryClient}
	if e.TokenType == "" {
		e.TokenType = "Bearer"
	}
	if e.Realm == "" {
		e.Realm = defaultRealm
	}
	e.enabled = map[string]Grant{}
	if len(e.GrantTypes) == 0 {
		e.GrantTypes, e.byDefault = GrantTypes(), true
	}
	for _, t := range e.GrantTypes {
		g, ok := grants[t]
		if !ok {
			return fmt.Errorf("unknown grant type %q (known: %v)", t, GrantTypes())
		}
		e.enabled[t] = g
	}
	if e.CORS != nil {
		e.cors = cors.NewRules(e.CORS)
	}
	e.reads = readsTokenParam(a.Catalogue()) // a reload provisions the endpoint anew
	// Discovery advertises what the mounted endpoints serve.
	a.RegisterEndpoint(EndpointToken, e.GrantTypes...)
	return nil
}

// The values of user_tokens.
const (
	UserTokensAllowedClients = "allowed_clients"
	UserTokensEveryClient    = "every_client"
)

// Validate checks user_tokens, and that the aliases copy standard response
// fields without replacing one.
func (e *TokenEndpoint) Validate() error {
	switch e.UserTokens {
	case "", UserTokensAllowedClients, UserTokensEveryClient:
	default:
		return fmt.Errorf("user_tokens %q: want %s or %s", e.UserTokens, UserTokensAllowedClients, UserTokensEveryClient)
	}
	if e.CORS != nil {
		if err := e.CORS.Validate(); err != nil {
			return err
		}
	}
	standard := func(f string) bool {
		switch f {
		case "access_token", "token_type", "expires_in", "scope", "refresh_token":
			return true
		}
		return false
	}
	for alias, field := range e.ResponseAliases {
		if !standard(field) {
			return fmt.Errorf("response alias %q copies unknown field %q", alias, field)
		}
		if alias == "" {
			return fmt.Errorf("response alias of %q has an empty name", field)
		}
		if standard(alias) {
			return fmt.Errorf("response alias %q would replace the standard field of that name", alias)
		}
	}
	return nil
}

// ServeHTTP answers a token request.
func (e *TokenEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if e.cors.AnswerPreflight(w, r) {
		return nil
	}
	w = e.cors.MarkCall(w, r)
	start := time.Now()
	req, oerr := ParseRequest(w, r, e.reads)
	if oerr == nil {
		oerr = notOpen(e.app)
	}
	if oerr == nil {
		var issued *Issued
		issued, oerr = e.grant(req)
		if oerr == nil && gone(r.Context()) {
			// Nobody reads the answer: its token is never handed out, and
			// the allowance it took goes back (a dropped connection spent
			// a Nitro user's day). A code or refresh grant took itself back
			// (takeBack) if the caller was gone when it ended; gone only
			// since, its code or refresh token stays spent, as it did when
			// the answer went to a closed connection.
			e.minter.refund(r.Context(), issued.charge)
			issued, oerr = nil, e.minter.failed(r.Context(), "token for a caller that hung up", context.Canceled)
		}
		if oerr == nil {
			e.write(w, issued)
			e.observe(r, req, nil, start)
			if ce := e.logger.Check(zap.DebugLevel, "token issued"); ce != nil {
				ce.Write(zap.String("client_id", issued.Claims.ClientID), zap.String("scope", issued.Scope),
					zap.String("jti", issued.Claims.ID), zap.Int64("expires_in", issued.ExpiresIn))
			}
			return nil
		}
	}
	e.observe(r, req, oerr, start)
	if ce := e.logger.Check(zap.DebugLevel, "token request refused"); ce != nil {
		ce.Write(zap.String("error", oerr.Code), zap.String("description", oerr.Description))
	}
	oauth.WriteJSON(w, oerr, e.Realm)
	return nil
}

func (e *TokenEndpoint) grant(req *Request) (*Issued, *oauth.Error) {
	gt := req.Get("grant_type")
	if gt == "" {
		return nil, oauth.ErrInvalidRequest("the grant_type parameter is missing")
	}
	g, ok := e.enabled[gt]
	if ok && e.byDefault && (gt == "authorization_code" || gt == "refresh_token") && !codeFlowServed(e.app) {
		// Enabled by default, but nothing in this config hands out codes:
		// unsupported, as discovery says, rather than an unknown code. A
		// list naming them serves them: other nodes on the same database
		// may serve the sign-in pages.
		ok = false
	}
	if !ok {
		return nil, oauth.New(oauth.UnsupportedGrantType, http.StatusBadRequest, "grant_type %q is not supported here", safeName(gt))
	}
	// The client authenticates once, before its grant runs, and may use
	// only the grants mayUse allows it.
	ctx := req.HTTP.Context()
	c, oerr := e.minter.authenticateFor(ctx, req, g.PublicClients())
	if oerr != nil {
		return nil, oerr
	}
	if oerr := mayUse(c, gt); oerr != nil {
		return nil, oerr
	}
	return g.Handle(ctx, e.minter, &GrantRequest{Request: req, Client: c})
}

func (e *TokenEndpoint) write(w http.ResponseWriter, t *Issued) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if len(e.ResponseAliases) == 0 {
		// The common answer goes out as a struct: the same JSON as
		// answerFields' map (fields in the order a map's keys are sorted),
		// without the map, the boxed values and the sorting on every token.
		_ = json.NewEncoder(w).Encode(standardAnswer{t.AccessToken, t.ExpiresIn, t.RefreshToken, t.Scope, e.TokenType})
		return
	}
	body := e.answerFields(t)
	for alias, field := range e.ResponseAliases {
		if v, ok := body[field]; ok {
			body[alias] = v
		}
	}
	_ = json.NewEncoder(w).Encode(body)
}

// answerFields are the standard fields of a token response.
func (e *TokenEndpoint) answerFields(t *Issued) map[string]any {
	body := map[string]any{
		"access_token": t.AccessToken,
		"token_type":   e.TokenType,
		"expires_in":   t.ExpiresIn,
		"scope":        t.Scope,
	}
	if t.RefreshToken != "" {
		body["refresh_token"] = t.RefreshToken
	}
	return body
}

// standardAnswer is a token response without aliases; its fields are in
// the sorted order of their names.
type standardAnswer struct {
	AccessToken  string `json:"access_token"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
	TokenType    string `json:"token_type"`
}

// Interface guards
var (
	_ caddy.Provisioner           = (*TokenEndpoint)(nil)
	_ caddy.Validator             = (*TokenEndpoint)(nil)
	_ caddyhttp.MiddlewareHandler = (*TokenEndpoint)(nil)
)
