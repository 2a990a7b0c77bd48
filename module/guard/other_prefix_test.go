package guard

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store/storetest"
)

// trailerBody is a chunked body whose trailers arrive at its end, written
// into the request's Trailer map then, as net/http does.
type trailerBody struct {
	io.Reader
	trailer, arriving http.Header
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if err == io.EOF {
		for k, v := range b.arriving {
			b.trailer[k] = v
		}
	}
	return n, err
}

func (b *trailerBody) Close() error { return nil }

// Without scopegate_strip in front, the first guard of a route still
// removes forged headers under every guard's prefix of the config (a later
// guard of the route may use the default prefix and sets none of its own),
// and forged identity trailers, declared or not, are gone by the time the
// body has been read, and so is a trailer allow_trailers does not name,
// while an integrity trailer (Content-Digest) stays.
func TestGuardStripsEveryPrefixAndTrailers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		e.guard(&Guard{}) // the default prefix, registered with the app
		g := e.guard(&Guard{HeaderPrefix: "X-Auth-"})
		x := newExchange("/", bearerLine(e.token(svc, "", "global")), "X-Scopegate-User-Id: forged", "X-Auth-User-Id: forged")
		trailer := http.Header{"X-Scopegate-Tenant": nil, "Content-Digest": nil, "X-Checksum": nil}
		x.r.Method, x.r.ContentLength, x.r.Trailer = http.MethodPost, -1, trailer
		x.r.Body = &trailerBody{Reader: strings.NewReader("payload"), trailer: trailer,
			arriving: http.Header{"X-Scopegate-Tenant": {"forged"}, "X_scopegate_legs": {"forged"}, "Content-Digest": {"abc"}, "X-Checksum": {"abc"}}}
		up := x.serve(t, g)
		wantPassed(t, x, up)
		for _, name := range []string{"X-Scopegate-User-Id", "X-Auth-User-Id"} {
			if v, ok := up.header[name]; ok {
				t.Errorf("forged %s reached the upstream: %q", name, v)
			}
		}
		if _, ok := up.req.Trailer["X-Scopegate-Tenant"]; ok {
			t.Error("a declared forged trailer is still announced before the body is read")
		}
		if _, err := io.Copy(io.Discard, up.req.Body); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"X-Scopegate-Tenant", "X_scopegate_legs"} {
			if v, ok := up.req.Trailer[name]; ok {
				t.Errorf("forged trailer %s reached the upstream: %q", name, v)
			}
		}
		if got := up.req.Trailer.Get("Content-Digest"); got != "abc" {
			t.Errorf("the integrity trailer = %q, want abc", got)
		}
		if got, ok := up.req.Trailer["X-Checksum"]; ok {
			t.Errorf("a trailer allow_trailers does not name reached the upstream: %q", got)
		}
	})
}
