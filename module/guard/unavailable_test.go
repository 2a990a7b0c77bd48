package guard

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// The guard answers 503 temporarily_unavailable with Retry-After when, and
// only when, the database is unavailable (store.Unavailable decides): during
// a real outage (PostgreSQL unreachable behind a cut relay, SQLite's handle
// closed) for a token whose client must be read and for an impersonated
// user that must be looked up. A database that answers but fails otherwise
// (its clients table is gone) is a 500 server_error: retrying will not help.
func TestDatabaseOutageAnswers503(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		o := storetest.NewOutage(t, driver)
		e := newEnv(t, driver, func(a *app.App) { a.Database.DSN = o.DSN })
		g := e.guard(&Guard{Impersonation: &Impersonation{}})
		cached := e.token(svc, "", "demo.read")
		x := newExchange("/", bearerLine(cached))
		wantPassed(t, x, x.serve(t, g)) // svc is now cached; bob is not
		uncached := e.token(plain, "", "demo.read")
		o.Cut(t, e.a.Store())

		for what, x := range map[string]*exchange{
			"reading the token's client": newExchange("/", bearerLine(uncached)),
			"looking up the impersonated user": newExchange("/", bearerLine(cached),
				DefaultImpersonationHeader+": "+bob),
		} {
			up := x.serve(t, g)
			if up.calls.Load() != 0 || x.w.Code != http.StatusServiceUnavailable || x.w.Header().Get("Retry-After") != store.RetryAfter {
				t.Errorf("%s during the outage: upstream calls %d, status %d, Retry-After %q; want 0, 503, %q",
					what, up.calls.Load(), x.w.Code, x.w.Header().Get("Retry-After"), store.RetryAfter)
			}
			if !strings.Contains(x.w.Body.String(), `"error":"temporarily_unavailable"`) {
				t.Errorf("%s during the outage: body %s", what, x.w.Body.String())
			}
		}
	})
}

// See TestDatabaseOutageAnswers503: a failure that is not unavailability is
// a 500.
func TestDatabaseFaultAnswers500(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g := e.guard(&Guard{})
		raw := e.token(plain, "", "demo.read")
		if err := e.a.Store().DB.Exec("DROP TABLE clients").Error; err != nil {
			t.Fatal(err)
		}
		x := newExchange("/", bearerLine(raw))
		up := x.serve(t, g)
		if up.calls.Load() != 0 || x.w.Code != http.StatusInternalServerError || x.w.Header().Get("Retry-After") != "" ||
			!strings.Contains(x.w.Body.String(), `"error":"server_error"`) {
			t.Fatalf("clients table gone: upstream calls %d, status %d, Retry-After %q, body %s; want 0, 500 server_error",
				up.calls.Load(), x.w.Code, x.w.Header().Get("Retry-After"), x.w.Body.String())
		}
	})
}

// A caller who hangs up while the guard reads the database is not a server
// failure: the guard answers 499 (what Caddy's reverse_proxy records for
// it), counts it as canceled (reason client_closed) rather than error, logs
// it at debug level only, and nothing reaches the upstream.
func TestCallerGoneIsNotAServerError(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g, logs := e.observedGuard(&Guard{Scopes: []string{"demo.read"}})
		raw := e.token(plain, "", "demo.read") // plain's row is not cached yet: Verify must read it
		canceledBefore := decisions(t, app.DecisionCanceled, "client_closed")
		errorsBefore := decisions(t, app.DecisionError, oauth.ServerError)

		x := newExchange("/", bearerLine(raw))
		ctx, cancel := context.WithCancel(x.r.Context())
		cancel()
		x.r = x.r.WithContext(ctx)
		up := x.serve(t, g)
		if up.calls.Load() != 0 || x.w.Code != statusClientClosedRequest {
			t.Fatalf("caller gone: upstream calls %d, status %d; want 0, 499", up.calls.Load(), x.w.Code)
		}
		if got := decisions(t, app.DecisionCanceled, "client_closed") - canceledBefore; got != 1 {
			t.Errorf("canceled counted %v times, want 1", got)
		}
		if got := decisions(t, app.DecisionError, oauth.ServerError) - errorsBefore; got != 0 {
			t.Errorf("counted as a server error %v times", got)
		}
		if n := logs.FilterLevelExact(zapcore.ErrorLevel).Len(); n != 0 {
			t.Errorf("%d error-level logs for a caller who hung up: %v", n, logs.All())
		}
	})
}
