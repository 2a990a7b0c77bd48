package issuer

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// While the database is unavailable for real (PostgreSQL unreachable
// behind a cut relay, SQLite's handle closed), every endpoint that needs it
// answers 503 temporarily_unavailable with Retry-After, never a 500: the
// token endpoint, revocation and introspection in RFC 6749 JSON, the
// authorize endpoint on its error page. On PostgreSQL the same token
// request succeeds once the database is back.
func TestDatabaseOutageAnswers503(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		o := storetest.NewOutage(t, driver)
		f := newFixture(t, driver, func(a *app.App) { a.Database.DSN = o.DSN })
		// Never looked up before the outage, so every request needs the database.
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"},
			DefaultScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{"https://app.example/cb"}})
		_, browser := f.authorize(t)
		o.Cut(t, f.app.Store())

		unavailable := func(what string, rec *httptest.ResponseRecorder, json bool) {
			t.Helper()
			if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != store.RetryAfter {
				t.Errorf("%s during the outage: status %d, Retry-After %q; want 503 and %q: %s",
					what, rec.Code, rec.Header().Get("Retry-After"), store.RetryAfter, rec.Body.String())
			}
			if json && !strings.Contains(rec.Body.String(), `"error":"temporarily_unavailable"`) {
				t.Errorf("%s during the outage: body %s, want error temporarily_unavailable", what, rec.Body.String())
			}
		}
		token := func() *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			if err := f.ep.ServeHTTP(rec, withBasic(formRequest(ccForm()), c.ID, secret), nil); err != nil {
				t.Fatal(err)
			}
			return rec
		}
		unavailable("token endpoint", token(), true)

		rec := httptest.NewRecorder()
		rv := &Revocation{app: f.app, logger: f.log}
		if err := rv.ServeHTTP(rec, withBasic(formRequest(url.Values{"token": {"whatever"}}), c.ID, secret), nil); err != nil {
			t.Fatal(err)
		}
		unavailable("revocation", rec, true)

		rec = httptest.NewRecorder()
		in := &Introspection{app: f.app, logger: f.log}
		if err := in.ServeHTTP(rec, withBasic(formRequest(url.Values{"token": {"whatever"}}), c.ID, secret), nil); err != nil {
			t.Fatal(err)
		}
		unavailable("introspection", rec, true)

		page := browser.get(implicitParams(c.ID, "https://app.example/cb", "demo.read"))
		unavailable("authorize", page, false)
		if !strings.Contains(page.Body.String(), "temporarily_unavailable") {
			t.Errorf("authorize page during the outage does not say temporarily_unavailable: %s", page.Body.String())
		}

		if driver == store.Postgres {
			o.Restore(t)
			o.AwaitBack(t, "the token endpoint", func() (int, string) {
				rec := token()
				return rec.Code, rec.Body.String()
			})
		}
	})
}
