package guard

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// An impersonation header naming a user with bytes no row can hold (0xff
// and other invalid UTF-8, which HTTP allows in header values; NUL, which a
// handler before the guard could put there; more characters than a
// username column holds) names no user: 403 "no such user" like any
// unknown user on both databases, never 503 (PostgreSQL refuses such
// values in a query, which the guard would take for a database failure).
func TestImpersonationHeaderWithBadBytes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g := e.guard(&Guard{Impersonation: &Impersonation{}})
		raw := e.token(svc, "", "demo.read")
		for name, as := range map[string]string{
			"0xff":              "\xff",
			"user id then 0xff": alice + "\xff",
			"0xc3 0x28":         "\xc3\x28",
			"NUL":               alice + "\x00",
			"201 characters":    strings.Repeat("é", 201),
		} {
			t.Run(name, func(t *testing.T) {
				x := newExchange("/", bearerLine(raw))
				x.r.Header.Set(DefaultImpersonationHeader, as)
				wantRefused(t, x, x.serve(t, g), http.StatusForbidden, oauth.InsufficientScope, "no such user in this client's tenant", "")
			})
		}
		// Control: the same request naming alice passes.
		x := newExchange("/", bearerLine(raw), DefaultImpersonationHeader+": "+alice)
		wantPassed(t, x, x.serve(t, g))
	})
}

// A repeated impersonation header is refused like a repeated Authorization
// header (400 invalid_request): a proxy in front may have acted on another
// of its values than the guard would. That holds for two values, for an
// empty one before a real one, and when scopegate_strip moved the header
// out of the request first; nothing reaches the upstream. An empty value
// alone is no request to impersonate. On a route without impersonation,
// any non-empty value among several is refused as before (403).
func TestRepeatedImpersonationHeader(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		on := e.guard(&Guard{Impersonation: &Impersonation{}})
		off := e.guard(&Guard{})
		raw := e.token(svc, "", "demo.read")
		line := func(v string) string { return DefaultImpersonationHeader + ": " + v }
		for name, values := range map[string][]string{
			"two users":          {alice, bob},
			"the same user":      {alice, alice},
			"empty then a user":  {"", alice},
			"a user then empty":  {alice, ""},
			"three empty values": {"", "", ""},
		} {
			for _, stripped := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s, stripped %v", name, stripped), func(t *testing.T) {
					lines := []string{bearerLine(raw)}
					for _, v := range values {
						lines = append(lines, line(v))
					}
					x := newExchange("/", lines...)
					up := e.behind(t, on, stripped, x)
					wantRefused(t, x, up, http.StatusBadRequest, oauth.InvalidRequest, "the X-Act-As-User header is repeated", "")
				})
			}
		}
		// One empty value: no impersonation, the client's own identity.
		x := newExchange("/", bearerLine(raw), line(""))
		up := x.serve(t, on)
		wantPassed(t, x, up)
		if got := up.header.Get("X-Scopegate-User-Id"); got != "" {
			t.Errorf("an empty %s acted as %q", DefaultImpersonationHeader, got)
		}
		// Without impersonation on the route, a real value after an empty
		// one is still a request to impersonate, and refused.
		x = newExchange("/", bearerLine(raw), line(""), line(alice))
		wantRefused(t, x, x.serve(t, off), http.StatusForbidden, oauth.InsufficientScope, "impersonation (X-Act-As-User) is not enabled on this route", "")
	})
}

// Acting as a super admin needs a client its owner could have set up for
// that (app.SpeaksFor): svc, owned by a principal without power (a
// demoted super admin, say, who kept the secret), may act as alice while
// she is a plain user and not once she is a super admin (403 saying why);
// the same client made by the command line may.
func TestImpersonatingASuperAdminNeedsTheOwnersPower(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		ctx := context.Background()
		g := e.guard(&Guard{Impersonation: &Impersonation{}})
		raw := e.token(svc, "", "demo.read")
		actAsAlice := func() (*exchange, *upstream) {
			x := newExchange("/", bearerLine(raw), DefaultImpersonationHeader+": "+alice)
			return x, x.serve(t, g)
		}
		x, up := actAsAlice()
		wantPassed(t, x, up)

		u, err := e.a.Store().GetUser(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		u.Admin, u.SuperAdmin = true, true
		if err := e.a.Store().UpdateUser(ctx, u, tester, "user.update"); err != nil {
			t.Fatal(err)
		}
		x, up = actAsAlice()
		wantRefused(t, x, up, http.StatusForbidden, oauth.InsufficientScope, "the user to act as is a super admin, and this client's owner is neither that user nor a super admin", "")

		c, err := e.a.Store().GetClient(ctx, svc)
		if err != nil {
			t.Fatal(err)
		}
		c.OwnerID = app.CLIPrincipal
		if err := e.a.Store().UpdateClient(ctx, c, tester, "client.update"); err != nil {
			t.Fatal(err)
		}
		x, up = actAsAlice()
		wantPassed(t, x, up)
	})
}

// An impersonation header in another spelling than the route's exact name
// (X_Act_As_User, x.act.as.user: what php_fastcgi hands on as the same
// HTTP_X_ACT_AS_USER) is refused, not dropped: dropped, the client asking to
// act as alice was served as itself. On a route that honours impersonation
// it is 400 invalid_request naming the exact header; on one that does not,
// 403 as for the exact name. Behind scopegate_strip (which sets every
// spelling aside) as without it; nothing reaches the upstream, and an empty
// value in another spelling asks for nothing.
func TestImpersonationHeaderInAnotherSpelling(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		on := e.guard(&Guard{Impersonation: &Impersonation{}})
		off := e.guard(&Guard{})
		raw := e.token(svc, "", "demo.read")
		for _, spelled := range []string{"X_Act_As_User", "x.act.as.user", "X-ACT_AS-USER"} {
			for _, stripped := range []bool{false, true} {
				serve := func(g *Guard, value string) (*exchange, *upstream) {
					x := newExchange("/", bearerLine(raw))
					x.r.Header[spelled] = []string{value} // raw map entry, as sent
					return x, e.behind(t, g, stripped, x)
				}
				t.Run(fmt.Sprintf("%s, stripped %v", spelled, stripped), func(t *testing.T) {
					x, up := serve(on, alice)
					wantRefused(t, x, up, http.StatusBadRequest, oauth.InvalidRequest, "send the impersonation header as X-Act-As-User, not "+spelled, "")
					x, up = serve(off, alice)
					wantRefused(t, x, up, http.StatusForbidden, oauth.InsufficientScope, "impersonation (X-Act-As-User) is not enabled on this route", "")
					// Beside the exact name, empty or with a value: still
					// refused, whichever the guard would have read.
					for _, exact := range []string{"", bob} {
						x := newExchange("/", bearerLine(raw), DefaultImpersonationHeader+": "+exact)
						x.r.Header[spelled] = []string{alice}
						up := e.behind(t, on, stripped, x)
						wantRefused(t, x, up, http.StatusBadRequest, oauth.InvalidRequest, "send the impersonation header as X-Act-As-User, not "+spelled, "")
					}
					x, up = serve(on, "")
					wantPassed(t, x, up)
					if got := up.header.Get("X-Scopegate-User-Id"); got != "" {
						t.Errorf("an empty %s acted as %q", spelled, got)
					}
					for name := range up.header {
						if equalNameFold(name, DefaultImpersonationHeader) {
							t.Errorf("%s reached the upstream", name)
						}
					}
				})
			}
		}
	})
}

// ImpersonationSent finds an impersonation header a handler that honours
// none must refuse: the exact name or another spelling, in the request or
// set aside by scopegate_strip, with a value; an empty one, a look-alike
// (X-Act-As) and a request without one give "".
func TestImpersonationSent(t *testing.T) {
	e := newEnv(t, "sqlite")
	for _, tc := range []struct {
		header, value, want string
	}{
		{"X-Act-As-User", alice, "X-Act-As-User"},
		{"X_act_as_user", alice, "X_act_as_user"},
		{"X-Act-As-User", "", ""},
		{"X-Act-As", alice, ""},
		{"", "", ""},
	} {
		for _, stripped := range []bool{false, true} {
			x := newExchange("/admin/clients")
			if tc.header != "" {
				x.r.Header[tc.header] = []string{tc.value}
			}
			got := ""
			read := caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
				got = ImpersonationSent(r, e.a)
				return nil
			})
			var h caddyhttp.Handler = read
			if stripped {
				h = chain{&Strip{app: e.a}, read}
			}
			if err := h.ServeHTTP(x.w, x.r); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("%s: %q (stripped %v): ImpersonationSent %q, want %q", tc.header, tc.value, stripped, got, tc.want)
			}
		}
	}
}

// Impersonated tells a handler behind a guard that the guard acted for a
// user because the caller sent the impersonation header: true after a
// guard honoured X-Act-As-User, false for the same client's request
// without it and for a request no guard saw.
func TestImpersonatedSeesWhatAGuardHonoured(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		on := e.guard(&Guard{Impersonation: &Impersonation{}})
		raw := e.token(svc, "", "demo.read")
		for _, tc := range []struct {
			lines []string
			want  bool
		}{
			{[]string{bearerLine(raw), DefaultImpersonationHeader + ": " + alice}, true},
			{[]string{bearerLine(raw)}, false},
		} {
			x := newExchange("/admin/clients", tc.lines...)
			got := false
			read := caddyhttp.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) error {
				got = Impersonated(r)
				return nil
			})
			if err := (chain{on, read}).ServeHTTP(x.w, x.r); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("%q: Impersonated %v, want %v", tc.lines, got, tc.want)
			}
		}
		if Impersonated(newExchange("/").r) {
			t.Error("Impersonated is true for a request no guard saw")
		}
	})
}

// behind serves x through g to a recording upstream, with scopegate_strip
// in front when stripped, and returns the upstream.
func (e *env) behind(t *testing.T, g *Guard, stripped bool, x *exchange) *upstream {
	t.Helper()
	up := new(upstream)
	var h caddyhttp.Handler = chain{g, up}
	if stripped {
		h = chain{&Strip{app: e.a}, h}
	}
	if err := h.ServeHTTP(x.w, x.r); err != nil {
		t.Fatal(err)
	}
	return up
}
