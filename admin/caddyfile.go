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

// UnmarshalCaddyfile reads the directive, which has nothing to configure
// (the scopegate global option holds the settings):
//
//	scopegate_admin
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.Errf("scopegate_admin takes no arguments, got %q", d.Val())
	}
	if d.NextBlock(0) {
		return d.Errf("scopegate_admin takes no options, got %q", d.Val())
	}
	if d.Next() {
		return d.Errf("unexpected token %q after scopegate_admin", d.Val())
	}
	return nil
}
