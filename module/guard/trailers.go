package guard

import (
	"fmt"
	"io"
	"net/http"
	"slices"
)

// scrubTrailers keeps the identity headers a caller might send as request
// trailers from reaching the upstream. Caddy's proxy forwards the request's
// trailers, which net/http fills in only when the body has been read to its
// end (a declared Trailer or not, over HTTP/1.1 chunked or HTTP/2), and
// some upstreams merge trailers into the headers (Tomcat's
// allowedTrailerHeaders). So the declared ones go at once, and a body
// that can carry trailers is wrapped to drop the rest the moment they
// arrive, before the proxy copies them.
//
// A guard also drops an Authorization trailer (dropAuth): it checked the
// header's token, never a trailer's, and holds the caller's token back.
// Every handler drops every trailer its allowed list (trailerAllowList)
// does not hold: an upstream merging trailers would otherwise take any
// header from the caller (a client address, a scheme, a user name of its
// own proxy's) after the gateway's checks.
func scrubTrailers(r *http.Request, forged forgery, dropAuth bool, allowed []string) {
	dropForged(r.Trailer, forged, allowed)
	if dropAuth {
		delete(r.Trailer, "Authorization")
	}
	if r.Body == nil || r.Body == http.NoBody || (r.Trailer == nil && r.ContentLength >= 0) {
		return // no trailers can follow
	}
	if ts, done := r.Body.(*trailerScrubber); done {
		// Wrapped by an earlier handler of the route (scopegate_strip):
		// it drops the identity headers; add what this one drops.
		ts.dropAuth = ts.dropAuth || dropAuth
		return
	}
	r.Body = &trailerScrubber{ReadCloser: r.Body, r: r, forged: forged, dropAuth: dropAuth, allowed: allowed}
}

// forgery tells the names of the identity headers a caller may not send.
type forgery interface{ forged(name string) bool }

// dropForged deletes from the trailers h the names f calls forged and every
// name allowed does not hold. allowed is canonical (trailerAllowList) and
// names match in canonical letter case only: content_digest next to
// Content-Digest would hand an upstream that folds '_' two values of one
// field.
func dropForged(h http.Header, f forgery, allowed []string) {
	for k := range h {
		if f.forged(k) || !slices.Contains(allowed, http.CanonicalHeaderKey(k)) {
			delete(h, k)
		}
	}
}

// DefaultTrailers are the request trailers passed to the upstream without
// configuration: the integrity fields a client computes while it streams a
// body (RFC 9530 Content-Digest and Repr-Digest, RFC 3230 Digest). The
// scopegate option allow_trailers adds others.
var DefaultTrailers = []string{"Content-Digest", "Repr-Digest", "Digest"}

// trailersRefused may never be allowed as trailers (RFC 9110 §6.5.1:
// framing, routing, authentication, request modifiers; and the client's
// address and scheme that proxies add), in any spelling, nor may names
// starting X-Forwarded-, the method and path overrides or Scopegate's own
// identity and impersonation headers.
var trailersRefused = []string{
	"Forwarded", "X-Real-Ip", "X-Client-Ip", "Client-Ip", "True-Client-Ip", "Cf-Connecting-Ip", "Fastly-Client-Ip",
	"X-Cluster-Client-Ip", "Via", "Host", "Cookie", "Proxy-Authorization", "Authorization", "Connection", "Te",
	"Trailer", "Transfer-Encoding", "Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Expect",
	"Range", "Max-Forwards", "Cache-Control", "Pragma", "Keep-Alive", "Upgrade",
}

// trailerAllowList is DefaultTrailers and the configured names, in
// canonical form. Each configured name must be a header name and none of
// trailersRefused, X-Forwarded-*, the override headers or Scopegate's own
// identity and impersonation names, in any spelling.
func trailerAllowList(configured []string) ([]string, error) {
	for _, name := range configured {
		refused := name == "" || !isToken(name) || hasPrefixFold(name, "X-Forwarded-") || isOverrideHeader(name) ||
			hasPrefixFold(name, DefaultHeaderPrefix) || equalNameFold(name, DefaultImpersonationHeader) ||
			slices.ContainsFunc(trailersRefused, func(r string) bool { return equalNameFold(name, r) })
		if refused {
			return nil, fmt.Errorf("allow_trailers: %q may not come as a trailer (framing, routing, credentials, the client's address, a method or path override, or an identity header)", name)
		}
	}
	allowed := slices.Concat(DefaultTrailers, configured)
	for i, name := range allowed {
		allowed[i] = http.CanonicalHeaderKey(name)
	}
	return allowed, nil
}

// trailerScrubber drops forged trailers when the body reaches its end,
// which is when net/http has just read them.
type trailerScrubber struct {
	io.ReadCloser
	r        *http.Request
	forged   forgery
	dropAuth bool
	allowed  []string
}

func (b *trailerScrubber) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		dropForged(b.r.Trailer, b.forged, b.allowed)
		if b.dropAuth {
			delete(b.r.Trailer, "Authorization")
		}
	}
	return n, err
}
