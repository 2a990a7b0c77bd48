package guard

import (
	"net/http"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// benchURL is shared by every benchmark request; nothing writes to it.
var benchURL = &url.URL{Path: "/apps/app-1/items"}

// nopWriter is a ResponseWriter for requests that pass (the guard writes
// nothing then); a refusal is counted so the benchmark can fail.
type nopWriter struct {
	h       http.Header
	refused *atomic.Int64
}

func (w nopWriter) Header() http.Header         { return w.h }
func (w nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w nopWriter) WriteHeader(status int) {
	if status != http.StatusOK {
		w.refused.Add(1)
	}
}

// benchRequest builds a request the way Caddy's server hands it to the
// first handler: its own header map, replacer and vars.
func benchRequest(w http.ResponseWriter, authz string) *http.Request {
	r := &http.Request{
		Method: http.MethodGet, URL: benchURL, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Host: "api.test", RemoteAddr: "192.0.2.1:1234", RequestURI: benchURL.Path,
		Header: http.Header{"Authorization": {authz}, "Accept": {"*/*"}},
	}
	return caddyhttp.PrepareRequest(r, caddy.NewReplacer(), w, nil)
}

// runGuard drives g from parallel goroutines; authz picks the
// Authorization value of each request.
func runGuard(b *testing.B, g *Guard, authz func() string) {
	var passed, refused atomic.Int64
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
		passed.Add(1)
		return nil
	})
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := nopWriter{h: http.Header{}, refused: &refused}
		for pb.Next() {
			if err := g.ServeHTTP(w, benchRequest(w, authz()), next); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if refused.Load() != 0 || passed.Load() != int64(b.N) {
		b.Fatalf("%d of %d requests passed, %d refused", passed.Load(), b.N, refused.Load())
	}
}

// benchScopes is the test catalogue plus a scope that requires the
// application_id claim the benchmark tokens carry, as Bits' catalogue does.
func benchScopes(a *app.App) {
	a.Scopes = append(slices.Clone(a.Scopes), scope.Scope{
		Name: "application.session", Description: "One application", RequiredClaims: []string{"application_id"},
	})
}

// benchGuard is a typical route: one scope (met through an implication),
// and a bound claim to compare.
func benchGuard(e *env) *Guard {
	return e.guard(&Guard{
		Scopes:      []string{"demo.read"},
		MatchClaims: map[string]string{"application_id": "{http.request.uri.path.1}"},
	})
}

func benchToken(e *env) string {
	c := e.claims(svc, alice, "demo.write")
	c.Ext = map[string]string{"application_id": "app-1"}
	return "Bearer " + e.sign(c)
}

// BenchmarkGuardCached measures the common request: the same 3-legged token
// every time, so verification comes from the cache (no signature check,
// no query).
func BenchmarkGuardCached(b *testing.B) {
	for _, driver := range storetest.Drivers {
		b.Run(driver, func(b *testing.B) {
			e := newEnv(b, driver, benchScopes)
			g := benchGuard(e)
			authz := benchToken(e)
			runGuard(b, g, func() string { return authz })
		})
	}
}

// BenchmarkGuardUncached measures a token not in the verification cache:
// the cache is set to 64 entries and the tokens cycle through a pool four
// times larger, so every request checks a signature, and every token's
// second sight also caches it and evicts another (client and user rows
// still come from their own caches). BenchmarkVerifyFirstSight in
// module/app is the flood of tokens each used once.
func BenchmarkGuardUncached(b *testing.B) {
	const cacheSize, pool = 64, 256
	for _, driver := range storetest.Drivers {
		b.Run(driver, func(b *testing.B) {
			e := newEnv(b, driver, benchScopes, func(a *app.App) { a.CacheSize = cacheSize })
			g := benchGuard(e)
			tokens := make([]string, pool)
			for i := range tokens {
				tokens[i] = benchToken(e)
			}
			var n atomic.Uint64
			runGuard(b, g, func() string { return tokens[(n.Add(1)-1)%pool] })
		})
	}
}

// BenchmarkGuardBaseline is the request preparation alone (what the two
// benchmarks above spend outside the guard), to subtract from them.
func BenchmarkGuardBaseline(b *testing.B) {
	var refused atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := nopWriter{h: http.Header{}, refused: &refused}
		for pb.Next() {
			_ = benchRequest(w, "Bearer x")
		}
	})
}
