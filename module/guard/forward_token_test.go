package guard

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
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

// TestKeptTokenNeverPrinted checks that the identity a guard leaves in the
// request's vars prints without the caller's token, however it is
// formatted: Caddy renders {http.vars.scopegate.identity} with fmt.
func TestKeptTokenNeverPrinted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		raw := e.token(svc, "", "demo.read")
		x := newExchange("/", bearerLine(raw))
		up := x.serve(t, e.guard(&Guard{Scopes: []string{"demo.read"}}))
		wantPassed(t, x, up)
		id, _ := caddyhttp.GetVar(up.req.Context(), varClaims).(*Identity)
		if id == nil || len(id.authorization) != 1 {
			t.Fatalf("identity var = %+v, want one kept with the caller's header", id)
		}
		shown := []string{caddy.ToString(id), fmt.Sprintf("%v", id), fmt.Sprintf("%+v", id), fmt.Sprintf("%#v", id), fmt.Sprintf("%+v", *id)}
		for _, s := range shown {
			if strings.Contains(s, raw[len(raw)-20:]) {
				t.Fatalf("the identity printed as %q holds the token", s)
			}
		}
		if want := "client_id=" + svc; !strings.Contains(shown[0], want) {
			t.Fatalf("the identity printed as %q, want it to name %s", shown[0], want)
		}
	})
}

// TestRefusedRequestCarriesNoTokenNorIdentity checks what a refused request
// still holds when it goes on to handle_errors (which may proxy it): neither
// the caller's token nor an identity header, whether the token was refused
// outright, refused after verification (an impersonation header on a route
// without impersonation, a missing scope), or refused by a later guard
// after the first one set the identity headers.
func TestRefusedRequestCarriesNoTokenNorIdentity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		reader := e.token(svc, "", "demo.read")
		noIdentity := func(t *testing.T, h http.Header) {
			t.Helper()
			for k, v := range h {
				if k == "Authorization" || strings.HasPrefix(k, "X-Scopegate-") {
					t.Errorf("the refused request still holds %s %q", k, v)
				}
			}
		}
		for name, tc := range map[string]struct {
			guard *Guard
			lines []string
		}{
			"bad token":                {&Guard{}, []string{"Authorization: Bearer garbage"}},
			"impersonation not on":     {&Guard{}, []string{bearerLine(reader), "X-Act-As-User: u-alice"}},
			"missing scope":            {&Guard{Scopes: []string{"demo.write"}}, []string{bearerLine(reader)}},
			"missing scope, forwarded": {&Guard{Scopes: []string{"demo.write"}, ForwardToken: true}, []string{bearerLine(reader)}},
		} {
			t.Run(name, func(t *testing.T) {
				x := newExchange("/", tc.lines...)
				up := x.serve(t, e.guard(tc.guard))
				if up.calls.Load() != 0 {
					t.Fatal("the request reached the upstream")
				}
				noIdentity(t, x.r.Header)
			})
		}
		t.Run("later guard refuses", func(t *testing.T) {
			first := e.guard(&Guard{Scopes: []string{"demo.read"}})
			second := e.guard(&Guard{Scopes: []string{"demo.write"}})
			x := newExchange("/", bearerLine(reader))
			up := new(upstream)
			var between http.Header
			err := first.ServeHTTP(x.w, x.r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				between = r.Header.Clone()
				return second.ServeHTTP(w, r, up)
			}))
			if err != nil {
				t.Fatal(err)
			}
			if between.Get("X-Scopegate-Client-Id") != svc || up.calls.Load() != 0 {
				t.Fatalf("the first guard passed %v and the upstream was called %d times; want identity set, then refused", between, up.calls.Load())
			}
			noIdentity(t, x.r.Header)
		})
	})
}
