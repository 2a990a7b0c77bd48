package issuer

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/web"
)

func init() {
	caddy.RegisterModule(Authorize{})
	RegisterEndpoint("authorize", func(d *caddyfile.Dispenser) (caddyhttp.MiddlewareHandler, error) {
		a := new(Authorize)
		return a, a.UnmarshalCaddyfile(d)
	})
}

//go:embed authorize_pages/*.html
var authorizePages embed.FS

// LoginCookie is the name of the cookie that keeps a user signed in at the
// authorize endpoint.
const LoginCookie = "scopegate_login"

// LoginCSRFCookie holds the sign-in form's CSRF token (web.SignInCSRF).
const LoginCSRFCookie = "scopegate_login_csrf"

// Authorize is the authorization endpoint (RFC 6749 §3.1): users sign in,
// approve the scopes a client asks for, and the client gets an access token
// (implicit grant, response_type=token) or an authorization code
// (response_type=code, with PKCE) at its registered redirect URI, e.g.
// `handle /oauth/authorize* { scopegate authorize }`.
type Authorize struct {
	// How long a sign-in lasts before the user must sign in again. Default: 12h.
	SessionTTL caddy.Duration `json:"session_ttl,omitempty"`
	// How long an authorization code can be redeemed. Default: 60s.
	CodeLifetime caddy.Duration `json:"code_lifetime,omitempty"`
	// Which clients may use the out-of-band redirect urn:ietf:wg:oauth:2.0:oob
	// (the result shown on a page for the user to copy): "registered" (the
	// default), those that registered it like any redirect URI; or
	// "every_client", as Imagen documents it ("the default redirect value
	// for an Installed Application"): every client, and the redirect of a
	// client that registered none. Nothing is sent anywhere on that
	// redirect: only the signed-in user who approved sees the result.
	OOB string `json:"oob,omitempty"`

	app    *app.App
	logger *zap.Logger
	// throttled logs the sign-ins refused for too many attempts, sampled.
	throttled *zap.Logger
	minter    *Minter // the mint path shared with the token endpoint
	pages     map[string]*template.Template
	sessions  *web.Sessions
	signIn    *web.SignInCSRF
	// Sign-in attempts, per tenant and username and per client IP.
}

// CaddyModule returns the Caddy module information.
func (Authorize) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_authorize",
		New: func() caddy.Module { return new(Authorize) },
	}
}

// Provision looks up the scopegate app, parses the pages and fills defaults.
func (a *Authorize) Provision(ctx caddy.Context) error {
	sg, err := app.From(ctx)
	if err != nil {
		return err
	}
	return a.setup(sg, ctx.Logger())
}

func (a *Authorize) setup(ap *app.App, logger *zap.Logger) error {
	a.app, a.logger, a.throttled = ap, logger, ap.SampledLogger(logger)
	if a.SessionTTL == 0 {
		a.SessionTTL = caddy.Duration(12 * time.Hour)
	}
	if a.CodeLifetime == 0 {
		a.CodeLifetime = caddy.Duration(time.Minute)
	}
	a.minter = &Minter{app: ap, logger: logger}
	pages, err := web.Pages(authorizePages, "authorize_pages/*.html", nil)
	if err != nil {
		return fmt.Errorf("authorize pages: %w", err)
	}
	a.pages = pages
	// The cookie's path, the sealer and the store are set per request
	// (sessionsFor): the app opens its database when it starts, after
	// every handler is provisioned.
	a.sessions = &web.Sessions{Name: LoginCookie, TTL: time.Duration(a.SessionTTL)}
	a.signIn = &web.SignInCSRF{Name: LoginCSRFCookie, TTL: 12 * time.Hour}
	ap.RegisterEndpoint(EndpointAuthorize)
	return nil
}

// The values of oob.
const (
	OOBRegistered  = "registered"
	OOBEveryClient = "every_client"
)

// Validate checks the durations and oob.
func (a *Authorize) Validate() error {
	switch a.OOB {
	case "", OOBRegistered, OOBEveryClient:
	default:
		return fmt.Errorf("oob %q: want %s or %s", a.OOB, OOBRegistered, OOBEveryClient)
	}
	if a.SessionTTL < 0 || a.CodeLifetime < 0 {
		return errors.New("durations must be positive")
	}
	if a.CodeLifetime > caddy.Duration(10*time.Minute) {
		return errors.New("code_lifetime above 10m: codes must be short-lived (RFC 6749 §4.1.2)")
	}
	return nil
}

// ServeHTTP runs one step of the flow: GET starts it (sign-in or consent
// page, or straight to the client when the user already approved); POST
// carries a sign-in, an approval or a denial. HEAD is refused like any other
// method: answering it would run a remembered approval (mint a token, spend
// the daily allowance) for a request that never reads the answer.
func (a *Authorize) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if err := a.app.Available(); err != nil {
		return a.serverError(w, "the authorize page without a database", err)
	}
	switch r.Method {
	case http.MethodGet:
		if web.TooManyParams(r.URL.RawQuery) {
			return a.errorPage(w, http.StatusBadRequest, "", "The link has too many parameters.", "")
		}
		return a.start(w, r)
	case http.MethodPost:
		if err := web.ParseForm(w, r, MaxBodyBytes); err != nil {
			return a.errorPage(w, http.StatusBadRequest, "", "The form could not be read.", "")
		}
		return a.post(w, r)
	}
	w.Header().Set("Allow", "GET, POST")
	return a.errorPage(w, http.StatusMethodNotAllowed, "", "This page answers GET and POST only.", "")
}

// UnmarshalCaddyfile reads the authorize block:
//
//	scopegate authorize {
//		session_ttl   <duration>
//		code_lifetime <duration>
//		oob           registered|every_client
//	}
func (a *Authorize) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		opt := d.Val()
		if seen[opt] {
			return d.Errf("duplicate option %q", opt)
		}
		seen[opt] = true
		var target *caddy.Duration
		switch opt {
		case "oob":
			if !d.NextArg() {
				return d.ArgErr()
			}
			a.OOB = d.Val()
			if d.NextArg() {
				return d.ArgErr()
			}
			continue
		case "session_ttl":
			target = &a.SessionTTL
		case "code_lifetime":
			target = &a.CodeLifetime
		default:
			return d.Errf("unknown authorize option %q", opt)
		}
		if !d.NextArg() {
			return d.ArgErr()
		}
		dur, err := caddy.ParseDuration(d.Val())
		if err != nil || dur <= 0 {
			return d.Errf("%s: %q is not a positive duration", opt, d.Val())
		}
		*target = caddy.Duration(dur)
		if d.NextArg() {
			return d.ArgErr()
		}
	}
	return a.Validate()
}

// sessionsFor returns the sign-in cookies scoped to the path the browser
// asked for (the original one behind handle_path): the endpoint's own
// path, so the sign-in is never sent to the other routes of the host, the
// upstreams behind reverse_proxy above all.
func (a *Authorize) sessionsFor(r *http.Request) *web.Sessions {
	s := *a.sessions
	s.Path = cookiePath(formPath(r))
	s.Sealer, s.Ended = a.app.Sealer(), a.app.Store()
	return &s
}

// signInCSRFFor is the sign-in form's CSRF cookie, on the same path.
func (a *Authorize) signInCSRFFor(r *http.Request) *web.SignInCSRF {
	c := *a.signIn
	c.Path = cookiePath(formPath(r))
	c.Sealer = a.app.Sealer()
	return &c
}

// cookiePath drops a trailing slash, so a sign-in at /oauth/authorize/
// still counts at /oauth/authorize.
func cookiePath(p string) string {
	if t := strings.TrimRight(p, "/"); t != "" {
		return t
	}
	return "/"
}

// clientIP is the address failed sign-ins are counted against: Caddy's
// client IP (which honours trusted_proxies), else the peer's address.
func clientIP(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// serverError logs err and shows a generic error page: 503 with
// Retry-After when the database is unavailable, else 500.
func (a *Authorize) serverError(w http.ResponseWriter, what string, err error) error {
	app.LogFailure(a.logger, zap.ErrorLevel, what, err)
	oe := serverFailure(err)
	if oe.Status == http.StatusServiceUnavailable {
		for k, v := range oe.Header {
			w.Header()[k] = v
		}
		return a.errorPage(w, oe.Status, oe.Code, "The service is temporarily unavailable. Please try again in a moment.", "")
	}
	return a.errorPage(w, oe.Status, oe.Code, "Something went wrong on our side. Please try again later.", "")
}

// errorPage shows a failure the browser stays on (no redirect).
func (a *Authorize) errorPage(w http.ResponseWriter, status int, code, message, state string) error {
	return web.Render(w, status, a.pages["error"], map[string]string{"Code": code, "Message": message, "State": state})
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Authorize)(nil)
	_ caddy.Validator             = (*Authorize)(nil)
	_ caddyhttp.MiddlewareHandler = (*Authorize)(nil)
	_ caddyfile.Unmarshaler       = (*Authorize)(nil)
)
