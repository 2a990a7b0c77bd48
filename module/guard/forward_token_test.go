package guard

import (
	"net/http"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/store/storetest"
)

// TestTokenStaysAtTheGuard checks that the caller's bearer token does not
// reach the upstream unless a guard of the route has forward_token: by
// default the first guard removes the Authorization header once it has
// verified it; with forward_token the upstream gets it as sent; and a later
// guard of the route with forward_token puts back what the first removed
// (and CallerAuthorization finds it in between, for handlers that check
// the token themselves).
func TestTokenStaysAtTheGuard(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		raw := e.token(svc, "", "demo.read")

		t.Run("removed by default", func(t *testing.T) {
			x := newExchange("/", bearerLine(raw))
			up := x.serve(t, e.guard(&Guard{Scopes: []string{"demo.read"}}))
			wantPassed(t, x, up)
			if v, ok := up.header["Authorization"]; ok {
				t.Fatalf("the upstream got Authorization %q; want it removed", v)
			}
			if up.header.Get("X-Scopegate-Client-Id") != svc {
				t.Fatalf("the upstream got client id %q, want %q", up.header.Get("X-Scopegate-Client-Id"), svc)
			}
		})
		t.Run("forwarded on request", func(t *testing.T) {
			x := newExchange("/", bearerLine(raw))
			up := x.serve(t, e.guard(&Guard{Scopes: []string{"demo.read"}, ForwardToken: true}))
			wantPassed(t, x, up)
			if v := up.header.Values("Authorization"); len(v) != 1 || v[0] != "Bearer "+raw {
				t.Fatalf("the upstream got Authorization %q, want the caller's", v)
			}
		})
		t.Run("a later guard forwards it", func(t *testing.T) {
			first := e.guard(&Guard{Scopes: []string{"demo.read"}})
			second := e.guard(&Guard{Scopes: []string{"demo.read"}, ForwardToken: true})
			x := newExchange("/", bearerLine(raw))
			up := new(upstream)
			var between http.Header
			var kept []string
			err := first.ServeHTTP(x.w, x.r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				between = r.Header.Clone()
				kept = CallerAuthorization(r)
				return second.ServeHTTP(w, r, up)
			}))
			if err != nil {
				t.Fatal(err)
			}
			wantPassed(t, x, up)
			if _, ok := between["Authorization"]; ok {
				t.Fatal("the first guard, without forward_token, left Authorization for the handlers after it")
			}
			if len(kept) != 1 || kept[0] != "Bearer "+raw {
				t.Fatalf("CallerAuthorization after the first guard = %q, want the caller's header", kept)
			}
			if v := up.header.Values("Authorization"); len(v) != 1 || v[0] != "Bearer "+raw {
				t.Fatalf("the upstream got Authorization %q after a guard with forward_token, want the caller's", v)
			}
		})
	})
}
