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

func dropForged(h http.Header, f forgery) {
	for k := range h {
		if f.forged(k) {
			delete(h, k)
		}
	}
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
