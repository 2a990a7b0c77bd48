package guard

import (
	"net/http"
	"strings"
	"testing"

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
