package guard

import (
	"net/http"
	"net/textproto"
	"strings"
)

// dropHopByHop does now what reverse_proxy would do later with the caller's
// Connection header: it removes the headers Connection names (hop-by-hop,
// RFC 9110 §7.6.1), and leaves in Connection only what the proxy still needs
// (close, keep-alive, Upgrade for WebSockets; TE is dropped from it and kept
// as a header, for the proxy to keep "TE: trailers") and
// Authorization, which the guard must still read (the proxy removes it
// later, as before; nothing sets it after the guard).
//
// The proxy applies Connection after every handler of the route has run, so
// "Connection: X-Scopegate-Actor-Client-Id" used to delete the header the
// guard had just set, and an impersonated call reached the upstream looking
// like the user's own; "Connection: X-Scopegate-User-Id" turned a user's call
// into the client's; and any header an operator sets after the guard
// (request_header X-Remote-User {scopegate.user_id}) could be removed the
// same way. Done before the guard sets its headers, the caller's Connection
// can only remove what the caller sent. HTTP/2 has no Connection header;
// without one this costs a map lookup.
func dropHopByHop(h http.Header) {
	vals, ok := h["Connection"]
	if !ok || !namesHeaders(vals) {
		return // none, or only what stays (after scopegate_strip): no allocation
	}
	var kept []string
	for _, v := range vals {
		for name := range strings.SplitSeq(v, ",") {
			name = textproto.TrimString(name)
			switch {
			case name == "":
			case strings.EqualFold(name, "te"):
				// TE is always hop-by-hop; named here, the proxy would
				// delete it before keeping its "trailers" (gRPC).
			case leftToProxy(name):
				kept = append(kept, name)
			default:
				h.Del(name)
			}
		}
	}
	if len(kept) == 0 {
		delete(h, "Connection")
		return
	}
	h["Connection"] = []string{strings.Join(kept, ", ")}
}

// namesHeaders reports whether the Connection values name anything that
// does not stay in Connection.
func namesHeaders(vals []string) bool {
	for _, v := range vals {
		for name := range strings.SplitSeq(v, ",") {
			if name = textproto.TrimString(name); name != "" && !leftToProxy(name) {
				return true
			}
		}
	}
	return false
}

// leftToProxy reports whether name stays in Connection for the proxy: a
// connection option it reads, or Authorization.
func leftToProxy(name string) bool {
	for _, o := range []string{"close", "keep-alive", "upgrade", "authorization"} {
		if strings.EqualFold(name, o) {
			return true
		}
	}
	return false
}
