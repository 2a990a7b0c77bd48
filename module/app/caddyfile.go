package app

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/dustin/go-humanize"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("scopegate", parseGlobalOption)
}

// parseGlobalOption sets up the scopegate app from the global option block:
//
//	scopegate {
//		database sqlite [<path>] [{
//			max_connections <n>
//		}]
//		database postgres <dsn> [{
//			max_connections <n>                # default 10 per node
//		}]
//		issuer          <url>
//		audience        <aud>
//		token_lifetime  <duration>
//		leeway          <duration>
//		master_key      <base64-or-hex>      # usually {env.SCOPEGATE_MASTER_KEY}
//		master_key_file <path>
//		day_timezone    <zone>
//		cache_size      <entries>
//		min_gomaxprocs  <n>|off             # default 16
//		min_gc_heap     <size>|off          # default 64MiB
//		poll_interval   <duration>
//		secret_grace    <duration>
//		key_overlap     <duration>
//		key_prepublish  <duration>
//		scope <name> ["<description>"] {
//			legs     2|3|any
//			implies  <scope...>
//			requires <claim...>
//			clients  <client-name...>        # only clients of these names hold it
//		}
//	}
func parseGlobalOption(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		// Caddy would keep the last block alone: a second one silently
		// dropped the first's database and master key, and the node ran on
		// a local SQLite file of its own (config red team).
		return nil, d.Errf("the scopegate global option is given twice: write one block holding every setting")
	}
	a := new(App)
	if err := a.UnmarshalCaddyfile(d); err != nil {
		return nil, err
	}
	return httpcaddyfile.App{Name: "scopegate", Value: caddyconfig.JSON(a, nil)}, nil
}

// UnmarshalCaddyfile reads the global option block (syntax above).
func (a *App) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the option name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for d.NextBlock(0) {
		opt := d.Val()
		if opt != "scope" {
			if seen[opt] {
				return d.Errf("duplicate option %q", opt)
			}
			seen[opt] = true
		}
		switch opt {
		case "database":
			var args []string = d.RemainingArgs()
			if len(args) < 1 || len(args) > 2 {
				return d.Errf("database takes a driver and a path or DSN: database sqlite [<path>] | database postgres <dsn>")
			}
			db := &Database{Driver: args[0]}
			if len(args) == 2 {
				db.DSN = args[1]
			}
			switch db.Driver {
			case store.SQLite:
			case store.Postgres:
				if db.DSN == "" {
					return d.Errf("database postgres needs a DSN, for example {env.SCOPEGATE_DSN}")
				}
			default:
				return d.Errf("unknown database driver %q (want sqlite or postgres)", db.Driver)
			}
			if err := parseDatabaseBlock(d, db); err != nil {
				return err
			}
			a.Database = db
		case "issuer", "audience", "master_key", "master_key_file", "day_timezone":
			val, err := oneArg(d)
			if err != nil {
				return err
			}
			switch opt {
			case "issuer":
				a.Issuer = val
			case "audience":
				a.Audience = val
			case "master_key":
				a.MasterKey = val
			case "master_key_file":
				a.MasterKeyFile = val
			case "day_timezone":
				a.DayTimezone = val
			}
		case "token_lifetime", "leeway", "poll_interval", "secret_grace", "key_overlap", "key_prepublish":
			val, err := oneArg(d)
			if err != nil {
				return err
			}
			dur, err := caddy.ParseDuration(val)
			if err != nil || dur <= 0 {
				return d.Errf("%s: %q is not a positive duration", opt, val)
			}
			target := map[string]*caddy.Duration{
				"token_lifetime": &a.TokenLifetime, "leeway": &a.Leeway, "poll_interval": &a.PollInterval,
				"secret_grace": &a.SecretGrace, "key_overlap": &a.KeyOverlap, "key_prepublish": &a.KeyPrepublish,
			}[opt]
			*target = caddy.Duration(dur)
		case "cache_size":
			val, err := oneArg(d)
			if err != nil {
				return err
			}
			n, err := strconv.Atoi(val)
			if err != nil || n <= 0 {
				return d.Errf("cache_size: %q is not a positive number", val)
			}
			a.CacheSize = n
		case "min_gomaxprocs":
			val, err := oneArg(d)
			if err != nil {
				return err
			}
			if val == "off" {
				a.MinGOMAXPROCS = -1
				break
			}
			n, err := strconv.Atoi(val)
			if err != nil || n <= 0 || n > 1024 {
				return d.Errf("min_gomaxprocs: %q is not a number from 1 to 1024, or off", val)
			}
			a.MinGOMAXPROCS = n
		case "min_gc_heap":
			val, err := oneArg(d)
			if err != nil {
				return err
			}
			if val == "off" {
				a.MinGCHeap = -1
				break
			}
			n, err := humanize.ParseBytes(val)
			if err != nil || n == 0 || n > maxMinGCHeap {
				return d.Errf("min_gc_heap: %q is not a size from 1 byte to 1TiB (such as 64MiB), or off", val)
			}
			a.MinGCHeap = int64(n)
		case "allow_trailers":
			names := d.RemainingArgs()
			if len(names) == 0 {
				return d.ArgErr()
			}
			a.AllowTrailers = append(a.AllowTrailers, names...)
		case "scope":
			s, err := parseScope(d)
			if err != nil {
				return err
			}
			for _, existing := range a.Scopes {
				if existing.Name == s.Name {
					return d.Errf("scope %q is defined twice", s.Name)
				}
			}
			a.Scopes = append(a.Scopes, s)
		default:
			return d.Errf("unknown scopegate option %q", opt)
		}
	}
	return nil
}

// parseDatabaseBlock reads the options block of a database line.
func parseDatabaseBlock(d *caddyfile.Dispenser, db *Database) error {
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		if seen[sub] {
			return d.Errf("database: duplicate option %q", sub)
		}
		seen[sub] = true
		switch sub {
		case "max_connections":
			v, err := oneArg(d)
			if err != nil {
				return err
			}
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return d.Errf("database max_connections: %q is not a positive number", v)
			}
			db.MaxConnections = n
		default:
			return d.Errf("database: unknown option %q (want max_connections)", sub)
		}
	}
	return nil
}

func oneArg(d *caddyfile.Dispenser) (string, error) {
	if !d.NextArg() {
		return "", d.ArgErr()
	}
	v := d.Val()
	if d.NextArg() {
		return "", d.ArgErr()
	}
	return v, nil
}

func parseScope(d *caddyfile.Dispenser) (scope.Scope, error) {
	args := d.RemainingArgs()
	if len(args) < 1 || len(args) > 2 {
		return scope.Scope{}, d.Errf(`scope takes a name and an optional "description"`)
	}
	s := scope.Scope{Name: args[0]}
	if err := scope.ValidName(s.Name); err != nil {
		return s, d.Err(err.Error())
	}
	if len(args) == 2 {
		s.Description = args[1]
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		if seen[sub] {
			return s, d.Errf("scope %s: duplicate option %q", s.Name, sub)
		}
		seen[sub] = true
		switch sub {
		case "legs":
			v, err := oneArg(d)
			if err != nil {
				return s, err
			}
			if v == "" { // an unset "{$VAR}": not "any" by accident
				return s, d.Errf("scope %s: legs must be 2, 3 or any", s.Name)
			}
			if s.Legs, err = scope.ParseLegs(v); err != nil {
				return s, d.Errf("scope %s: %v", s.Name, err)
			}
		case "implies":
			s.Implies = d.RemainingArgs()
			if len(s.Implies) == 0 {
				return s, d.ArgErr()
			}
		case "requires":
			s.RequiredClaims = d.RemainingArgs()
			if len(s.RequiredClaims) == 0 {
				return s, d.ArgErr()
			}
		case "clients":
			s.Clients = d.RemainingArgs()
			if len(s.Clients) == 0 {
				return s, d.ArgErr()
			}
		default:
			return s, d.Errf("scope %s: unknown option %q (want legs, implies, requires or clients)", s.Name, sub)
		}
	}
	return s, nil
}
