package issuer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap/zapcore"

	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

func tokenRequests(t *testing.T, grant, outcome string) float64 {
	t.Helper()
	return apptest.Metric(t, "caddy_scopegate_token_requests_total", "grant_type", grant, "outcome", outcome)
}

// The token endpoint counts each answer by grant type and outcome (issued
// or the error code) and times it; a grant_type the caller makes up is
// "unsupported", a missing one "none", so callers cannot mint label values;
// a used-up daily allowance is counted on its own.
func TestTokenRequestsAreCounted(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, TokenLifetimeMinutes: 60, MaxMinutesPerDay: 60})
		issued, denied := tokenRequests(t, "client_credentials", "issued"), tokenRequests(t, "client_credentials", "invalid_client")
		made, none := tokenRequests(t, "unsupported", "unsupported_grant_type"), tokenRequests(t, "none", "invalid_request")
		allowance := apptest.Metric(t, "caddy_scopegate_allowance_refusals_total", "legs", "2")
		timed := apptest.Metric(t, "caddy_scopegate_token_request_duration_seconds", "grant_type", "client_credentials")

		f.issue(t, f.ep, c.ID, secret)
		f.refuse(t, f.ep, withBasic(formRequest(ccForm()), c.ID, "wrong"), http.StatusUnauthorized, "invalid_client")
		f.refuse(t, f.ep, withBasic(formRequest(ccForm()), c.ID, secret), http.StatusBadRequest, "invalid_grant") // the hour is used up
		f.refuse(t, f.ep, formRequest(url.Values{"grant_type": {"urn:evil:" + c.ID}}), http.StatusBadRequest, "unsupported_grant_type")
		f.refuse(t, f.ep, formRequest(url.Values{}), http.StatusBadRequest, "invalid_request")

		for _, tc := range []struct {
			what      string
			got, want float64
		}{
			{"issued", tokenRequests(t, "client_credentials", "issued") - issued, 1},
			{"invalid_client", tokenRequests(t, "client_credentials", "invalid_client") - denied, 1},
			{"unsupported grant", tokenRequests(t, "unsupported", "unsupported_grant_type") - made, 1},
			{"no grant", tokenRequests(t, "none", "invalid_request") - none, 1},
			{"allowance refusals", apptest.Metric(t, "caddy_scopegate_allowance_refusals_total", "legs", "2") - allowance, 1},
			{"timed client_credentials requests", apptest.Metric(t, "caddy_scopegate_token_request_duration_seconds", "grant_type", "client_credentials") - timed, 3},
			{"series naming the client", apptest.Metric(t, "caddy_scopegate_token_requests_total", "grant_type", "urn:evil:"+c.ID), 0},
		} {
			if tc.got != tc.want {
				t.Errorf("%s: %v, want %v", tc.what, tc.got, tc.want)
			}
		}
	})
}

// A failed client authentication is logged at info level with why it
// failed, the client and its tenant when the client exists (or an unknown
// id shaped like the ones Scopegate makes) and the remote address; never
// the secret, nor an unknown id of another shape (it may be a secret pasted
// into the wrong field).
func TestFailedClientAuthenticationIsLogged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.tenant("acme")
		c, secret := f.client(store.Client{TenantID: "acme", AllowedScopes: store.Strings{"demo.read"}})
		off, offSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		if err := f.app.Store().SetClientDisabled(context.Background(), off.ID, true, tester); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name                   string
			req                    *http.Request
			reason, client, tenant string
			secret                 string // must not be logged
		}{
			{"wrong secret", withBasic(formRequest(ccForm()), c.ID, "wrong-secret-value"), "wrong_secret", c.ID, "acme", "wrong-secret-value"},
			{"no secret", formRequest(ccForm("client_id", c.ID)), "no_secret", c.ID, "acme", secret},
			{"disabled", withBasic(formRequest(ccForm()), off.ID, offSecret), "client_disabled", off.ID, "default", offSecret},
			{"unknown generated id", withBasic(formRequest(ccForm()), "sg_nosuchclient0000000", "s3cret-value"), "unknown_client", "sg_nosuchclient0000000", "", "s3cret-value"},
			{"secret in the id field", withBasic(formRequest(ccForm()), secret, c.ID), "unknown_client", "", "", secret},
			{"no credentials", formRequest(ccForm()), "no_credentials", "", "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				f.logs.TakeAll()
				serve(t, f.ep, tc.req)
				entries := f.logs.FilterMessage("client authentication failed").AllUntimed()
				if len(entries) != 1 || entries[0].Level != zapcore.InfoLevel {
					t.Fatalf("want one info entry, got %v", f.logs.AllUntimed())
				}
				m := entries[0].ContextMap()
				if m["reason"] != tc.reason || m["client_id"] != tc.client || m["tenant"] != tc.tenant ||
					m["remote_addr"] != "192.0.2.1" || m["grant_type"] != "client_credentials" {
					t.Errorf("logged %v; want reason %q, client %q, tenant %q, remote_addr 192.0.2.1", m, tc.reason, tc.client, tc.tenant)
				}
				if text := f.loggedText(); tc.secret != "" && strings.Contains(text, tc.secret) {
					t.Errorf("the secret is in the log: %s", text)
				}
			})
		}
	})
}

// Introspection and revocation log a failed client authentication as the
// token endpoint does, naming the endpoint: secret guessing there, or a
// disabled client's credentials still in use, showed nowhere (red team).
func TestFailedClientAuthenticationLoggedAtEveryEndpoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		for endpoint, h := range map[string]interface {
			ServeHTTP(http.ResponseWriter, *http.Request, caddyhttp.Handler) error
		}{
			EndpointIntrospect: &Introspection{app: f.app, logger: f.log, failed: f.log},
			EndpointRevoke:     &Revocation{app: f.app, logger: f.log, failed: f.log},
		} {
			f.logs.TakeAll()
			req := withBasic(formRequest(url.Values{"token": {"x"}}), c.ID, "wrong-secret-value")
			rec := httptest.NewRecorder()
			if err := h.ServeHTTP(rec, req, nil); err != nil || rec.Code != http.StatusUnauthorized {
				t.Fatalf("%s: %d %v", endpoint, rec.Code, err)
			}
			entries := f.logs.FilterMessage("client authentication failed").AllUntimed()
			if len(entries) != 1 {
				t.Fatalf("%s: want one entry, got %v", endpoint, f.logs.AllUntimed())
			}
			if m := entries[0].ContextMap(); m["reason"] != "wrong_secret" || m["client_id"] != c.ID || m["endpoint"] != endpoint {
				t.Errorf("%s: logged %v", endpoint, m)
			}
			if strings.Contains(f.loggedText(), "wrong-secret-value") {
				t.Errorf("%s: the secret is in the log", endpoint)
			}
		}
	})
}

// A caller who hangs up while the token endpoint reads the database is
// counted as canceled, not as a server_error, and answered 503
// temporarily_unavailable with Retry-After (a half-closing client still
// reads it): nothing failed here.
func TestTokenRequestOfAGoneCallerIsCanceled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		canceled, failed := tokenRequests(t, "client_credentials", outcomeCanceled), tokenRequests(t, "client_credentials", "server_error")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		res := serve(t, f.ep, withBasic(formRequest(ccForm()), c.ID, secret).WithContext(ctx))
		// A client that half-closes its connection after the request looks
		// the same to Go, and still reads: 503 to retry, not server_error.
		if res.Status != http.StatusServiceUnavailable || res.str("error") != "temporarily_unavailable" || res.Header.Get("Retry-After") == "" {
			t.Fatalf("a token for a caller who hung up before the client was read: %d %v %v, want 503 temporarily_unavailable with Retry-After", res.Status, res.Header, res.Body)
		}
		if got := tokenRequests(t, "client_credentials", outcomeCanceled) - canceled; got != 1 {
			t.Errorf("canceled counted %v times, want 1", got)
		}
		if got := tokenRequests(t, "client_credentials", "server_error") - failed; got != 0 {
			t.Errorf("counted as server_error %v times", got)
		}
	})
}
