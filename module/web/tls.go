package web

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// IsTLS reports whether the browser reached us over HTTPS, so cookies get
// the Secure flag: this connection is TLS, or it comes from a proxy Caddy
// trusts (the server's trusted_proxies) that says X-Forwarded-Proto: https,
// as a TLS-terminating load balancer does. The header of any other peer is
// ignored: anyone can send it.
func IsTLS(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool); !trusted {
		return false
	}
	// With a chain of proxies the first entry is the one the browser used.
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}
