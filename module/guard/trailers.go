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
func scrubTrailers(r *http.Request, forged forgery) {
	dropForged(r.Trailer, forged)
	if r.Body == nil || r.Body == http.NoBody || (r.Trailer == nil && r.ContentLength >= 0) {
		return // no trailers can follow
	}
	if _, done := r.Body.(*trailerScrubber); done {
		return // scrubbed by an earlier handler of the route
	}
	r.Body = &trailerScrubber{ReadCloser: r.Body, r: r, forged: forged}
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
	r      *http.Request
	forged forgery
}

func (b *trailerScrubber) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		dropForged(b.r.Trailer, b.forged)
	}
	return n, err
}
