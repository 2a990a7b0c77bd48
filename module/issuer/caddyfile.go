package issuer

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/cors"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("scopegate", parseScopegate)
	// Endpoints answer requests themselves, like respond.
	httpcaddyfile.RegisterDirectiveOrder("scopegate", httpcaddyfile.Before, "respond")
	RegisterEndpoint("token", func(d *caddyfile.Dispenser) (caddyhttp.MiddlewareHandler, error) {
		e := new(TokenEndpoint)
		return e, e.UnmarshalCaddyfile(d)
	})
	RegisterEndpoint("discovery", func(d *caddyfile.Dispenser) (caddyhttp.MiddlewareHandler, error) {
		disc := new(Discovery)
		return disc, disc.UnmarshalCaddyfile(d)
	})
}

var endpoints = map[string]func(*caddyfile.Dispenser) (caddyhttp.MiddlewareHandler, error){}

// RegisterEndpoint adds a `scopegate <name>` form; the parser gets the
// dispenser positioned after the name.
func RegisterEndpoint(name string, parse func(*caddyfile.Dispenser) (caddyhttp.MiddlewareHandler, error)) {
	endpoints[name] = parse
}

// parseScopegate dispatches `scopegate <endpoint> { … }` to the endpoint's parser:
//
//	scopegate token {
//		alias       <response-field> <standard-field>
//		token_type  <value>
//		grant_types <type...>
//		realm       <realm>
//		user_tokens allowed_clients|every_client
//		cors        <origin...> { methods … headers … expose_headers … max_age … }
//	}
//	scopegate discovery {
//		token_endpoint|jwks_uri|authorization_endpoint|userinfo_endpoint|revocation_endpoint|introspection_endpoint <path-or-url>
//	}
//	scopegate authorize {
//		session_ttl   <duration>
//		code_lifetime <duration>
//		oob           registered|every_client
//	}
//	scopegate health    # liveness (…/live, ?live) and readiness probes
func parseScopegate(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // directive name
	if !h.NextArg() {
		return nil, h.Errf("scopegate needs an endpoint: %s", endpointNames())
	}
	parse, ok := endpoints[h.Val()]
	if !ok {
		return nil, h.Errf("unknown scopegate endpoint %q (want one of %s)", h.Val(), endpointNames())
	}
	return parse(h.Dispenser)
}

func endpointNames() string {
	names := ""
	for _, n := range []string{"token", "discovery", "userinfo", "revoke", "introspect", "authorize", "health"} {
		if _, ok := endpoints[n]; ok {
			if names != "" {
				names += ", "
			}
			names += n
		}
	}
	return names
}

// UnmarshalCaddyfile reads the token endpoint's block.
func (e *TokenEndpoint) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		opt := d.Val()
		if opt != "alias" && seen[opt] {
			return d.Errf("duplicate option %q", opt)
		}
		seen[opt] = true
		switch opt {
		case "alias":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Errf("alias takes a response field name and the standard field it copies, e.g. alias type token_type")
			}
			if e.ResponseAliases == nil {
				e.ResponseAliases = map[string]string{}
			}
			if _, dup := e.ResponseAliases[args[0]]; dup {
				return d.Errf("alias %q is defined twice", args[0])
			}
			e.ResponseAliases[args[0]] = args[1]
		case "token_type", "realm", "user_tokens":
			args := d.RemainingArgs()
			if len(args) != 1 {
				return d.ArgErr()
			}
			switch opt {
			case "token_type":
				e.TokenType = args[0]
			case "realm":
				e.Realm = args[0]
			default:
				e.UserTokens = args[0]
			}
		case "cors":
			c, err := cors.Unmarshal(d)
			if err != nil {
				return err
			}
			e.CORS = c
		case "grant_types":
			e.GrantTypes = d.RemainingArgs()
			if len(e.GrantTypes) == 0 {
				return d.ArgErr()
			}
			for _, g := range e.GrantTypes {
				if _, ok := grants[g]; !ok {
					return d.Errf("unknown grant type %q (known: %v)", g, GrantTypes())
				}
			}
		default:
			return d.Errf("unknown token endpoint option %q", opt)
		}
	}
	return e.Validate()
}

// UnmarshalCaddyfile reads the discovery block.
func (disc *Discovery) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	fields := map[string]*string{
		"token_endpoint": &disc.TokenEndpoint, "jwks_uri": &disc.JWKSURI,
		"authorization_endpoint": &disc.AuthorizationEndpoint, "userinfo_endpoint": &disc.UserinfoEndpoint,
		"revocation_endpoint": &disc.RevocationEndpoint, "introspection_endpoint": &disc.IntrospectionEndpoint,
	}
	for d.NextBlock(0) {
		target, ok := fields[d.Val()]
		if !ok {
			return d.Errf("unknown discovery option %q", d.Val())
		}
		if *target != "" {
			return d.Errf("duplicate option %q", d.Val())
		}
		args := d.RemainingArgs()
		if len(args) != 1 {
			return d.ArgErr()
		}
		*target = args[0]
	}
	return nil
}
