package admin

import (
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// While the database is unavailable for real (PostgreSQL unreachable
// behind a cut relay, SQLite's handle closed), the admin API answers an RFC
// 9457 problem with 503 and Retry-After, never a 500: both when the
// caller's token cannot be checked and when a route's own query fails. On
// PostgreSQL the API answers again once the database is back (after at most
// a 503 for each connection the cut left dead in the pool).
func TestDatabaseOutageAnswers503(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		o := storetest.NewOutage(t, driver)
		a := apptest.Open(t, driver, func(a *app.App) { a.Database.DSN = o.DSN })
		h := new(Handler)
		h.setup(a, zaptest.NewLogger(t))
		e := &env{t: t, app: a, h: h}
		e.super, e.superID = e.adminToken(store.DefaultTenantID, scope.Admin)
		unchecked, _ := e.adminToken(store.DefaultTenantID, scope.Admin) // its client is never looked up before the outage
		e.want(e.do("GET", "/clients", e.super, nil), http.StatusOK)     // the caller's client is now cached
		o.Cut(t, a.Store())

		for what, tok := range map[string]string{"a route's query": e.super, "checking the token": unchecked} {
			w := e.do("GET", "/clients", tok, nil)
			if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") != store.RetryAfter {
				t.Errorf("%s during the outage: status %d, Retry-After %q; want 503 and %q: %s",
					what, w.Code, w.Header().Get("Retry-After"), store.RetryAfter, w.Body.String())
				continue
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" ||
				!strings.Contains(w.Body.String(), `"status":503`) {
				t.Errorf("%s during the outage: %s %s, want an RFC 9457 problem", what, ct, w.Body.String())
			}
		}

		if driver == store.Postgres {
			o.Restore(t)
			o.AwaitBack(t, "the admin API", func() (int, string) {
				w := e.do("GET", "/clients", unchecked, nil)
				return w.Code, w.Body.String()
			})
		}
	})
}
