package admin

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("scopegate_admin", parseCaddyfile)
	// A responder: it answers every request it gets, like respond does.
	httpcaddyfile.RegisterDirectiveOrder("scopegate_admin", httpcaddyfile.Before, "respond")
}

// parseCaddyfile sets up the admin API from its directive.
func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(Handler)
	err := m.UnmarshalCaddyfile(h.Dispenser)
	return m, err
}

// UnmarshalCaddyfile reads the directive (the scopegate global option holds
// the app's settings):
//
//	scopegate_admin {
//		connect_as_creator   # an api_key client an admin user makes connects as that user
//		require_connect_as   # every api_key client connects as a user
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.Errf("scopegate_admin takes no arguments, got %q", d.Val())
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		opt := d.Val()
		if seen[opt] {
			return d.Errf("scopegate_admin: %s is given twice", opt)
		}
		seen[opt] = true
		switch opt {
		case "connect_as_creator":
			if d.NextArg() {
				return d.Errf("scopegate_admin: connect_as_creator takes no arguments, got %q", d.Val())
			}
			h.ConnectAsCreator = true
		case "require_connect_as":
			if d.NextArg() {
				return d.Errf("scopegate_admin: require_connect_as takes no arguments, got %q", d.Val())
			}
			h.RequireConnectAs = true
		default:
			return d.Errf("scopegate_admin: unknown option %q", opt)
		}
	}
	if d.Next() {
		return d.Errf("unexpected token %q after scopegate_admin", d.Val())
	}
	return nil
}
