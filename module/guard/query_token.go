package guard

import (
	"net/url"
	"strings"
)

// descQueryToken answers a request whose query carries an access_token.
const descQueryToken = "send the access token in the Authorization header only: the access_token query parameter is not accepted"

// queryNamesToken reports whether the raw query has an access_token
// parameter (RFC 6750 §2.3), however its name is encoded or cased, with
// '&' or ';' between parameters. The guard reads the token from the
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
		if strings.ContainsAny(name, "%+") {
			if decoded, err := url.QueryUnescape(name); err == nil {
				name = decoded
			}
		}
		if strings.EqualFold(strings.TrimSpace(name), "access_token") {
			return true
		}
	}
	return false
}
