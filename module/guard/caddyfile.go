package guard

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/cors"
	"github.com/scopegate/scopegate/module/scope"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("scopegate_guard", parseCaddyfile)
	// Authentication runs early, next to Caddy's own basic_auth.
	httpcaddyfile.RegisterDirectiveOrder("scopegate_guard", httpcaddyfile.After, "basic_auth")
	httpcaddyfile.RegisterHandlerDirective("scopegate_strip", parseStripCaddyfile)
	// Before every other directive ("tracing" is the first standard one),
	// so that one line at the top of a site covers all of its routes.
	httpcaddyfile.RegisterDirectiveOrder("scopegate_strip", httpcaddyfile.Before, "tracing")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	g := new(Guard)
	return g, g.UnmarshalCaddyfile(h.Dispenser)
}

// UnmarshalCaddyfile reads the guard's syntax:
//
//	scopegate_guard [<matcher>] [<scope...>] {
//		scopes      <scope...>        # all required (same as the inline list)
//		any_scope   <scope...>        # at least one required
//		write_scopes <scope...>       # also required unless the method is GET, HEAD or OPTIONS
//		legs        2|3|any
//		match_claim <claim> <value>   # value may hold placeholders
//		impersonation [<header>]      # allow acting as users (default X-Act-As-User)
//		identity_headers <name...>    # client_id user_id tenant scopes legs token_id actor claims;
//		                              # default (all but token_id, the default) or all
//		header_prefix <prefix>        # default X-Scopegate-
//		realm       <realm>
//		forward_token                 # pass the caller's Authorization header on (default: removed)
//		allow_encoded_slashes         # pass paths holding %2F on (default: 400)
//		any_token                     # no scope at all: any valid token passes (say so)
//		cors <origin...> {            # browser pages of these origins may call (see CORS)
//			methods <method...>       # default GET HEAD POST PUT PATCH DELETE
//			headers <header...>       # request headers a page may send; default any
//			expose_headers <header...> # readable by the page (WWW-Authenticate always)
//			max_age <duration>        # preflight answers kept by the browser; default 10m
//		}
//	}
func (g *Guard) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	g.Scopes = append(g.Scopes, d.RemainingArgs()...)
	seen := map[string]bool{}
	for d.NextBlock(0) {
		opt := d.Val()
		if opt != "match_claim" && seen[opt] {
			return d.Errf("duplicate option %q", opt)
		}
		seen[opt] = true
		switch opt {
		case "scopes", "any_scope", "write_scopes":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			switch opt {
			case "scopes":
				g.Scopes = append(g.Scopes, args...)
			case "any_scope":
				g.AnyScopes = args
			default:
				g.WriteScopes = args
			}
		case "legs":
			args := d.RemainingArgs()
			if len(args) != 1 {
				return d.ArgErr()
			}
			if args[0] == "" { // an unset {$VAR}: not "any" by accident
				return d.Errf("legs must be 2, 3 or any")
			}
			legs, err := scope.ParseLegs(args[0])
			if err != nil {
				return d.Err(err.Error())
			}
			g.Legs = legs
		case "match_claim":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Errf("match_claim takes a claim name and a value")
			}
			if g.MatchClaims == nil {
				g.MatchClaims = map[string]string{}
			}
			if _, dup := g.MatchClaims[args[0]]; dup {
				return d.Errf("match_claim %q is given twice", args[0])
			}
			g.MatchClaims[args[0]] = args[1]
		case "impersonation":
			args := d.RemainingArgs()
			if len(args) > 1 {
				return d.ArgErr()
			}
			g.Impersonation = &Impersonation{}
			if len(args) == 1 {
				g.Impersonation.Header = args[0]
			}
		case "identity_headers":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			g.IdentityHeaders = args
		case "header_prefix", "realm":
			args := d.RemainingArgs()
			if len(args) != 1 {
				return d.ArgErr()
			}
			if opt == "realm" {
				g.Realm = args[0]
			} else {
				g.HeaderPrefix = args[0]
			}
		case "forward_token", "allow_encoded_slashes", "any_token":
			if d.NextArg() {
				return d.ArgErr()
			}
			switch opt {
			case "forward_token":
				g.ForwardToken = true
			case "allow_encoded_slashes":
				g.AllowEncodedSlashes = true
			case "any_token":
				g.AnyToken = true
			}
		case "cors":
			c, err := cors.Unmarshal(d)
			if err != nil {
				return err
			}
			g.CORS = c
		default:
			return d.Errf("unknown scopegate_guard option %q", opt)
		}
	}
	for _, s := range g.allScopes() {
		if err := scope.ValidName(s); err != nil {
			return d.Err(err.Error())
		}
	}
	// A guard with no scope lets any valid token of any client through. It
	// must say so (any_token): an unset {$SCOPES} in `scopegate_guard
	// {$SCOPES}` leaves no argument behind, and turned a route's guard into
	// one any token passed, with nothing said.
	// write_scopes bind writes only: reads still need a scope or any_token.
	reads := len(g.Scopes) + len(g.AnyScopes)
	if reads == 0 && !seen["any_token"] {
		return d.Errf("scopegate_guard names no scope for reads, so any valid token of any client would pass: name the scopes the route needs (an unset {$VAR} leaves none), or say any_token in its block")
	}
	if seen["any_token"] && reads > 0 {
		return d.Errf("scopegate_guard: any_token means no scope is needed, yet scopes are named; drop one or the other")
	}
	return nil
}

func parseStripCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	s := new(Strip)
	return s, s.UnmarshalCaddyfile(h.Dispenser)
}

// UnmarshalCaddyfile reads the strip directive, which takes no arguments
// and two options:
//
//	scopegate_strip {
//		allow_unclear_paths   # pass requests with unclear paths on (default: 400)
//		keep_headers <name…>  # keep these headers of other gateways' identity or the client's address
//	}
func (s *Strip) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	for d.NextBlock(0) {
		switch d.Val() {
		case "allow_unclear_paths":
			if d.NextArg() {
				return d.ArgErr()
			}
			s.AllowUnclearPaths = true
		case "keep_headers":
			names := d.RemainingArgs()
			if len(names) == 0 {
				return d.ArgErr()
			}
			s.KeepHeaders = append(s.KeepHeaders, names...)
		default:
			return d.Errf("unknown scopegate_strip option %q (known: allow_unclear_paths, keep_headers)", d.Val())
		}
	}
	return nil
}
