package issuer

import "github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

// defaultRealm names the protection space of a Basic challenge (RFC 7617)
// an endpoint answers invalid_client with, when its config names none.
const defaultRealm = "scopegate"

// realmOr returns realm, or the default when it is empty.
func realmOr(realm string) string {
	if realm == "" {
		return defaultRealm
	}
	return realm
}

// parseRealmOnly reads the block of an endpoint whose only option is realm:
//
//	scopegate introspect {
//		realm <realm>
//	}
//
// so that revocation and introspection can challenge with the realm the
// token endpoint uses: a client library that keys stored credentials by
// realm then sends the same ones to all three.
func parseRealmOnly(d *caddyfile.Dispenser, endpoint string) (string, error) {
	if d.NextArg() {
		return "", d.Errf("scopegate %s takes no arguments, only a block with realm", endpoint)
	}
	realm := ""
	for d.NextBlock(0) {
		if d.Val() != "realm" {
			return "", d.Errf("unknown %s option %q (known: realm)", endpoint, d.Val())
		}
		if realm != "" {
			return "", d.Err("duplicate option \"realm\"")
		}
		var err error
		if realm, err = realmArg(d); err != nil {
			return "", err
		}
	}
	return realm, nil
}

// realmArg reads the value of a realm option: one, not empty.
func realmArg(d *caddyfile.Dispenser) (string, error) {
	args := d.RemainingArgs()
	if len(args) != 1 || args[0] == "" {
		return "", d.ArgErr()
	}
	return args[0], nil
}
