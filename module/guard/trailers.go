package guard

import (
	"io"
	"net/http"
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
// Every handler drops the trailers notATrailer names (the client address
// and scheme, Host, cookies, …), which an upstream merging trailers would
// otherwise take from the caller over what Caddy's proxy set.
func scrubTrailers(r *http.Request, forged forgery, dropAuth bool) {
	dropForged(r.Trailer, forged)
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
	r.Body = &trailerScrubber{ReadCloser: r.Body, r: r, forged: forged, dropAuth: dropAuth}
}

// forgery tells the names of the identity headers a caller may not send.
type forgery interface{ forged(name string) bool }

// dropForged deletes from the trailers h the names f calls forged and the
// ones notATrailer names.
func dropForged(h http.Header, f forgery) {
	for k := range h {
		if f.forged(k) || notATrailer(k) {
			delete(h, k)
		}
	}
}

// trailersRefused are fields that must not be sent as trailers (RFC 9110
// §6.5.1: framing, routing, authentication, request modifiers, and the
// client's address and scheme that proxies add), in any spelling. Caddy's
// reverse_proxy sets X-Forwarded-For, -Proto and -Host in the headers from
// the connection, but copies the caller's trailers as they came: an
// upstream that merges them (Tomcat's allowedTrailerHeaders) would read a
// client address or scheme the caller chose. Names starting X-Forwarded-
// are refused too.
var trailersRefused = []string{
	"Forwarded", "X-Real-Ip", "X-Client-Ip", "Client-Ip", "True-Client-Ip", "Cf-Connecting-Ip", "Fastly-Client-Ip",
	"X-Cluster-Client-Ip", "Via", "Host", "Cookie", "Proxy-Authorization", "Authorization", "Connection", "Te",
	"Trailer", "Transfer-Encoding", "Content-Length", "Content-Type", "Content-Encoding", "Content-Range", "Expect",
	"Range", "Max-Forwards", "Cache-Control", "Pragma", "Keep-Alive", "Upgrade",
}

// notATrailer reports whether k is one of trailersRefused, or starts with
// X-Forwarded-, in any spelling (case, '_' or '.' for '-').
func notATrailer(k string) bool {
	if hasPrefixFold(k, "X-Forwarded-") {
		return true
	}
	for _, name := range trailersRefused {
		if equalNameFold(k, name) {
			return true
		}
	}
	return isOverrideHeader(k)
}

// trailerScrubber drops forged trailers when the body reaches its end,
// which is when net/http has just read them.
type trailerScrubber struct {
	io.ReadCloser
	r        *http.Request
	forged   forgery
	dropAuth bool
}

func (b *trailerScrubber) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		dropForged(b.r.Trailer, b.forged)
		if b.dropAuth {
			delete(b.r.Trailer, "Authorization")
		}
	}
	return n, err
}
