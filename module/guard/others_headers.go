package guard

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// Headers that say who the caller is, or where it connects from, in the
// words of other gateways and proxies. Scopegate sets none of them, and an
// upstream that used to sit behind one of those (Kong, oauth2-proxy,
// Authelia, a Kubernetes auth proxy, a cloud load balancer's sign-in) may
// still read them: a caller's copy would pass as that gateway's word.
// scopegate_strip removes them (othersHeader), but those its keep_headers
// option names.

// othersIdentityHeaders name a user, a consumer, groups or a credential
// that another authenticating proxy has checked; removed on every request,
// whoever the peer (no front proxy vouches for them by being trusted for
// X-Forwarded-For: a load balancer passes a caller's copy on unchanged).
var othersIdentityHeaders = []string{
	"Remote-User", "Remote-Groups", "Remote-Email", "Remote-Name", // Authelia, Caddy forward_auth, Apache
	"X-Remote-User", "X-Remote-Group", "X-Remote-Email", // Kubernetes auth proxy, Apache
	"X-Forwarded-User", "X-Forwarded-Email", "X-Forwarded-Groups", "X-Forwarded-Preferred-Username", // oauth2-proxy
	"X-Forwarded-Access-Token", "X-Forwarded-Client-Cert", "X-Id-Token", "X-Userinfo", // oauth2-proxy, Envoy, Kong OIDC
	"X-Authenticated-User", "X-Authenticated-Userid", "X-Authenticated-Scope", "X-Credential-Identifier", // Kong
	"X-Anonymous-Consumer", "X-Webauth-User", "X-Webauth-Email", // Kong, Grafana's auth proxy mode
	// Keycloak gatekeeper (not its X-Auth-Email, which Cloudflare-style
	// APIs take as a credential with X-Auth-Key)
	"X-Auth-Username", "X-Auth-Userid", "X-Auth-Roles", "X-Auth-Subject", "X-Auth-Groups",
	"X-Token-Subject", "Teleport-Jwt-Assertion", // caddy-security, Teleport
	"X-Forwarded-Tls-Client-Cert", "X-Forwarded-Tls-Client-Cert-Info", // Traefik
	"X-Client-Cert", "X-Client-Dn", "X-Client-Verify", // client certificates, as nginx and HAProxy pass them on
}

// othersIdentityPrefixes start whole families of such headers.
var othersIdentityPrefixes = []string{
	"X-Auth-Request-",              // oauth2-proxy
	"X-Consumer-",                  // Kong
	"X-Pomerium-",                  // Pomerium
	"X-Remote-Extra-",              // Kubernetes auth proxy
	"X-Ms-Client-Principal",        // Azure App Service
	"X-Goog-Authenticated-User-",   // Google IAP
	"X-Goog-Iap-",                  // Google IAP
	"Cf-Access-",                   // Cloudflare Access
	"X-Amzn-Oidc-",                 // AWS ALB
	"X-Authentik-",                 // authentik
	"X-Token-User-",                // caddy-security
	"X-Vouch-",                     // Vouch Proxy
	"X-Ssl-Client-", "Ssl-Client-", // client certificates (nginx, Apache mod_ssl names)
}

// clientAddressHeaders name the caller's address or scheme as a proxy
// saw it. Caddy's reverse_proxy sets X-Forwarded-For, -Proto and -Host
// itself (keeping a caller's values only from trusted_proxies) but passes
// these on as sent, so an upstream reading them (rate limits, allow-lists,
// audit logs, the URLs it builds: Spring's X-Forwarded-Prefix) would take
// the caller's word. Removed unless the peer is one of the server's
// trusted_proxies, which the operator runs to set them.
var clientAddressHeaders = []string{
	"Forwarded", "X-Real-Ip", "X-Client-Ip", "Client-Ip", "True-Client-Ip", "Cf-Connecting-Ip",
	"Fastly-Client-Ip", "X-Cluster-Client-Ip", "X-Original-Forwarded-For", "X-Forwarded", "Forwarded-For",
	"Front-End-Https", "X-Url-Scheme", "X-Scheme", "Proxy-Client-Ip", "Wl-Proxy-Client-Ip", "X-Remote-Addr",
	"X-Remote-Ip", "X-Originating-Ip",
}

// caddyForwarded are the X-Forwarded- headers Caddy's proxy manages; every
// other X-Forwarded- name (-Port, -Prefix, -Server, -Ssl, …) is a client
// address header.
var caddyForwarded = []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"}

// othersKind says why strip removes a header of another gateway's.
type othersKind uint8

const (
	notOthers      othersKind = iota
	othersIdentity            // removed always
	clientAddress             // removed unless the peer is a trusted proxy
)

// othersHeader says whether header k is another gateway's identity header,
// a client address header or neither, in any spelling (case, '_' or '.').
func othersHeader(k string) othersKind {
	if len(k) < len("X-Scheme") { // shorter than any name above: Accept, Cookie, Host, Range, Te, Via
		return notOthers
	}
	switch foldNameByte(k[0]) {
	case 'c', 'f', 'p', 'r', 's', 't', 'w', 'x': // the first letters of the names above
	default: // Accept-*, Authorization, If-*, Origin, User-Agent, … on every request
		return notOthers
	}
	// The same spelling rules as Scopegate's own names (names.go).
	switch {
	case isCallerIdentityHeader(k, othersIdentityPrefixes, othersIdentityHeaders):
		return othersIdentity
	case isCallerIdentityHeader(k, nil, clientAddressHeaders):
		return clientAddress
	case hasPrefixFold(k, "X-Forwarded-") && !isCallerIdentityHeader(k, nil, caddyForwarded):
		return clientAddress
	}
	return notOthers
}

// fromTrustedProxy reports whether Caddy found r's peer among the server's
// trusted_proxies.
func fromTrustedProxy(r *http.Request) bool {
	trusted, _ := caddyhttp.GetVar(r.Context(), caddyhttp.TrustedProxyVarKey).(bool)
	return trusted
}
