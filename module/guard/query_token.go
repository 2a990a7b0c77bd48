package guard

import (
	"net/url"
	"strings"
)

// descQueryToken answers a request whose query carries an access_token.
const descQueryToken = "send the access token in the Authorization header only: the access_token query parameter is not accepted"

// queryNamesToken reports whether the raw query has an access_token
// parameter (RFC 6750 §2.3), however its name is encoded or cased, with
// '&' or ';' between parameters, or spelled the way a framework reads it as
// access_token (paramName, bracketName). The guard reads the token from the
// Authorization header alone, and a request carrying one in the query
// as well used two methods at once (RFC 6750 §2 forbids it): the token
// the guard checked and the one an upstream reading the query would use
// could belong to different clients, and a token in a URL ends up in
// every access log on the way (§5.3). Bodies are not read (the guard
// streams them to the upstream untouched).
func queryNamesToken(raw string) bool {
	for raw != "" {
		var param string
		if i := strings.IndexAny(raw, "&;"); i >= 0 {
			param, raw = raw[:i], raw[i+1:]
		} else {
			param, raw = raw, ""
		}
		name, _, _ := strings.Cut(param, "=")
		if len(name) < len("access_token") {
			continue // no encoding makes a name shorter
		}
		name = decodedName(name)
		if strings.EqualFold(paramName(name), "access_token") || strings.EqualFold(bracketName(name), "access_token") {
			return true
		}
	}
	return false
}

// decodedName is a raw parameter name percent- and '+'-decoded, as every
// framework reads it (as sent when it does not decode).
func decodedName(name string) string {
	if strings.ContainsAny(name, "%+") {
		if decoded, err := url.QueryUnescape(name); err == nil {
			return decoded
		}
	}
	return name
}

// paramName is the name a decoded parameter name stands for in the
// frameworks upstreams are written with: cut at a NUL byte, blanks around it trimmed; with a bracketed suffix dropped
// (access_token[] and access_token[0] are an array named access_token in
// PHP, Rack and Node's qs); with '.', ' ' and an unmatched '[' read as '_'
// (PHP's $_GET turns access.token, "access token" and access[token into
// access_token).
func paramName(name string) string {
	name, _, _ = strings.Cut(name, "\x00")
	name = strings.TrimSpace(name)
	if open := strings.IndexByte(name, '['); open > 0 && strings.IndexByte(name[open:], ']') > 0 {
		name = name[:open]
	}
	if strings.ContainsAny(name, ". [") {
		name = strings.NewReplacer(".", "_", " ", "_", "[", "_").Replace(name)
	}
	return name
}

// bracketName is the name Rack and Node's qs read from a decoded parameter
// name: brackets at its start skipped, up to the next bracket
// ([access_token]=x, access_token]=x and ]access_token=x all name
// access_token there).
func bracketName(name string) string {
	name = strings.TrimLeft(name, "[]")
	if i := strings.IndexAny(name, "[]"); i >= 0 {
		name = name[:i]
	}
	return strings.TrimSpace(name)
}
