package guard

import (
	"testing"

	"github.com/scopegate/scopegate/module/store/storetest"
)

// The guard removes forged identity headers in the underscore and the dot
// spelling too (X_Scopegate_User_Id, X.Scopegate.Scopes, in any letter
// case; an impersonation header in those spellings is refused instead, see
// TestImpersonationHeaderInAnotherSpelling): php_fastcgi hands every spelling to PHP as the same
// HTTP_X_SCOPEGATE_USER_ID, so one left in place (a server whose
// expected_underscore_headers lets it in) would override the trusted header
// the guard sets. Headers
// that merely look alike (X-Scopegate without the trailing dash, X-Act-As)
// are kept.
func TestGuardStripsUnderscoreSpelling(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g := e.guard(&Guard{})
		x := newExchange("/", bearerLine(e.token(svc, "", "demo.read")),
			"X_Scopegate_User_Id: forged-user",
			"X-Scopegate_Tenant: forged-tenant",
			"X.Scopegate.Scopes: forged-scopes",
			"X-Scopegate: kept",
			"X-Act-As: kept")
		x.r.Header["X_SCOPEGATE_CLIENT_ID"] = []string{"forged-client"} // raw map entry, as sent
		x.r.Header["x_scopegate_legs"] = []string{"3"}
		up := x.serve(t, g)
		wantPassed(t, x, up)
		// Only the guard's own headers, canonical and with its values.
		trusted := map[string]bool{"X-Scopegate-Client-Id": true, "X-Scopegate-Tenant": true, "X-Scopegate-Scopes": true,
			"X-Scopegate-Legs": true, "X-Scopegate-Token-Id": true}
		for name, v := range up.header {
			if hasPrefixFold(name, "x-scopegate-") && !trusted[name] {
				t.Errorf("forged identity header reached the upstream: %s = %q", name, v)
			}
			if equalNameFold(name, "X-Act-As-User") {
				t.Errorf("impersonation header reached the upstream: %s = %q", name, v)
			}
		}
		if got := up.header.Values("X-Scopegate-Client-Id"); len(got) != 1 || got[0] != svc {
			t.Errorf("X-Scopegate-Client-Id = %q, want [%s]", got, svc)
		}
		if got := up.header.Get("X-Scopegate-Legs"); got != "2" {
			t.Errorf("X-Scopegate-Legs = %q, want 2", got)
		}
		if _, ok := up.header["X-Scopegate-User-Id"]; ok {
			t.Errorf("a 2-legged token's request carries a user id: %q", up.header["X-Scopegate-User-Id"])
		}
		for _, name := range []string{"X-Scopegate", "X-Act-As"} {
			if got := up.header.Get(name); got != "kept" {
				t.Errorf("%s = %q, want kept", name, got)
			}
		}
	})
}
