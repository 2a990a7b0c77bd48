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
//
// An upgrade stays only to WebSocket. reverse_proxy tunnels whatever
// protocol the upstream switches to, and past a 101 neither the guard nor
// scopegate_strip sees another request of that connection: an upstream
// that takes "Upgrade: h2c" (curl --http2 sends it over http://) would then
// serve the caller HTTP/2 requests of any method, path and identity headers
// (forged X-Scopegate-*, a write behind a read-only token), unchecked. Any
// other Upgrade (h2c, several protocols, TLS/1.0) is dropped with its
// HTTP2-Settings, and the request goes on as the plain HTTP/1.1 request it
// also is: RFC 9110 §7.8 lets the server ignore an upgrade.
func dropHopByHop(h http.Header) {
	vals, ok := h["Connection"]
	if !ok {
		return
	}
	upgrade := webSocketOnly(h["Upgrade"])
	if !upgrade {
		delete(h, "Upgrade")
		delete(h, "Http2-Settings")
	}
	if !namesHeaders(vals, upgrade) {
		return // only what stays (after scopegate_strip): no allocation
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
			case leftToProxy(name, upgrade):
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
// does not stay in Connection (upgrade: whether an upgrade stays).
func namesHeaders(vals []string, upgrade bool) bool {
	for _, v := range vals {
		for name := range strings.SplitSeq(v, ",") {
			if name = textproto.TrimString(name); name != "" && !leftToProxy(name, upgrade) {
				return true
			}
		}
	}
	return false
}

// leftToProxy reports whether name stays in Connection for the proxy: a
// connection option it reads (Upgrade only if upgrade), or Authorization.
func leftToProxy(name string, upgrade bool) bool {
	if strings.EqualFold(name, "upgrade") {
		return upgrade
	}
	for _, o := range []string{"close", "keep-alive", "authorization"} {
		if strings.EqualFold(name, o) {
			return true
		}
	}
	return false
}

// webSocketOnly reports whether the Upgrade values ask for WebSocket and
// nothing else (RFC 6455 §4.1: "websocket", in any case).
func webSocketOnly(vals []string) bool {
	return len(vals) == 1 && strings.EqualFold(textproto.TrimString(vals[0]), "websocket")
}
