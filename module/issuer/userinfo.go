package issuer

import (
	"encoding/json"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
)

func init() {
	caddy.RegisterModule(Userinfo{})
	RegisterEndpoint("userinfo", func(d *caddyfile.Dispenser) (caddyhttp.MiddlewareHandler, error) {
		u := new(Userinfo)
		return u, u.UnmarshalCaddyfile(d)
	})
}

// Userinfo answers who a token belongs to. It stands after a scopegate_guard
// (which checks the token and sets the {scopegate.*} placeholders) and
// renders its fields from them, so each API can answer in its documented
// shape, e.g. Bits' {"customerId": "bits:customer::{scopegate.tenant_uuid}"}
// ({scopegate.tenant_uuid} is the tenant as a UUID: see store.TenantUUID):
//
//	handle /oauth2/userinfo {
//		scopegate_guard {
//			any_token
//		}
//		scopegate userinfo {
//			field customerId "bits:customer::{scopegate.tenant_uuid}"
//		}
//	}
type Userinfo struct {
	// Response fields and their values, with placeholders. Default: sub,
	// client_id, tenant, scope and legs.
	Fields map[string]string `json:"fields,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Userinfo) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.scopegate_userinfo",
		New: func() caddy.Module { return new(Userinfo) },
	}
}

// Provision fills the default fields.
func (u *Userinfo) Provision(caddy.Context) error {
	if len(u.Fields) == 0 {
		u.Fields = map[string]string{
			"sub": "{http.auth.user.id}", "client_id": "{scopegate.client_id}", "tenant": "{scopegate.tenant}",
			"scope": "{scopegate.scopes}", "legs": "{scopegate.legs}",
		}
	}
	return nil
}

// ServeHTTP renders the fields for the identity the guard established.
func (u *Userinfo) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodPost {
		// OpenID Connect Core §5.3 serves GET and POST; a DELETE answered
		// 200 would tell a client it did something.
		w.Header().Set("Allow", "GET, HEAD, POST")
		oauth.WriteJSON(w, oauth.New(oauth.InvalidRequest, http.StatusMethodNotAllowed, "userinfo is read with GET or POST"), defaultRealm)
		return nil
	}
	repl, _ := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	if repl == nil {
		return caddyhttp.Error(http.StatusInternalServerError, nil)
	}
	if v, _ := repl.GetString("scopegate.client_id"); v == "" {
		// Misconfigured: no guard ran before this handler. Refuse rather
		// than answer for nobody.
		oauth.WriteBearer(w, oauth.New(oauth.InvalidToken, http.StatusUnauthorized, "no verified token (put scopegate_guard before scopegate userinfo)"), "scopegate")
		return nil
	}
	// The tenant as a UUID, for APIs that name customers by UUID; only this
	// handler needs it, so the guard's hot path does not pay for it.
	tenant, _ := repl.GetString("scopegate.tenant")
	repl.Set("scopegate.tenant_uuid", store.TenantUUID(tenant))
	body := make(map[string]string, len(u.Fields))
	for k, tmpl := range u.Fields {
		body[k] = repl.ReplaceKnown(tmpl, "")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	return json.NewEncoder(w).Encode(body)
}

// UnmarshalCaddyfile reads `field <name> <value>` lines.
func (u *Userinfo) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		if d.Val() != "field" {
			return d.Errf("unknown userinfo option %q (want field)", d.Val())
		}
		args := d.RemainingArgs()
		if len(args) != 2 {
			return d.Errf("field takes a name and a value")
		}
		if u.Fields == nil {
			u.Fields = map[string]string{}
		}
		if _, dup := u.Fields[args[0]]; dup {
			return d.Errf("field %q is given twice", args[0])
		}
		u.Fields[args[0]] = args[1]
	}
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Userinfo)(nil)
	_ caddyhttp.MiddlewareHandler = (*Userinfo)(nil)
)
