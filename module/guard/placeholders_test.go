package guard

import (
	"testing"

	"github.com/scopegate/scopegate/module/store/storetest"
)

// The identity placeholders are served by the guard's provider, and a
// value a later handler sets wins, as Caddy's vars handler does for
// {http.auth.user.id}; with an impersonating client {scopegate.actor} names it.
func TestPlaceholdersYieldToLaterHandlers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g := e.guard(&Guard{Impersonation: &Impersonation{}})
		x := newExchange("/", bearerLine(e.token(svc, "", "demo.read")), DefaultImpersonationHeader+": "+alice)
		wantPassed(t, x, x.serve(t, g))
		for name, v := range map[string]string{"http.auth.user.id": alice, "scopegate.user_id": alice, "scopegate.actor": svc, "scopegate.legs": "3"} {
			if got := x.placeholder(name); got != v {
				t.Errorf("{%s} = %q, want %q", name, got, v)
			}
		}
		x.repl.Set("http.auth.user.id", "set-later")
		x.repl.Set("scopegate.tenant", "set-later")
		for _, name := range []string{"http.auth.user.id", "scopegate.tenant"} {
			if got := x.placeholder(name); got != "set-later" {
				t.Errorf("{%s} = %q after a later Set, want set-later", name, got)
			}
		}
		if got := x.placeholder("scopegate.unknown"); got != "<unset>" {
			t.Errorf("{scopegate.unknown} = %q, want unset", got)
		}
	})
}
