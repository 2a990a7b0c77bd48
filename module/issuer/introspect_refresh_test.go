package issuer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A refresh token is introspected too (RFC 7662 §2.1 takes either kind; a
// live one answered inactive): active, with token_type refresh_token, its
// grant's scopes, client, user and expiry, while it can be used; inactive
// once rotated or revoked, and for another client (as its access tokens
// are).
func TestIntrospectingRefreshTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret, b := f.codeGrantApp(t)
		ada, err := f.app.Store().FindUser(context.Background(), store.DefaultTenantID, "ada")
		if err != nil {
			t.Fatal(err)
		}
		other, otherSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		in := &Introspection{app: f.app, logger: f.log}
		introspect := func(tok, id, sec string) map[string]any {
			t.Helper()
			rec := httptest.NewRecorder()
			if err := in.ServeHTTP(rec, withBasic(formRequest(url.Values{"token": {tok}}), id, sec), nil); err != nil || rec.Code != http.StatusOK {
				t.Fatalf("introspection: %d %v %s", rec.Code, err, rec.Body)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			return body
		}
		rt := f.redeemCode(t, b, c, secret).str("refresh_token")
		got := introspect(rt, c.ID, secret)
		if got["active"] != true || got["token_type"] != "refresh_token" || got["scope"] != "demo.read" ||
			got["client_id"] != c.ID || got["sub"] != ada.ID || got["tenant"] != store.DefaultTenantID || got["exp"] == nil {
			t.Fatalf("a live refresh token: %v", got)
		}
		if got := introspect(rt, other.ID, otherSecret); got["active"] != false || len(got) != 1 {
			t.Errorf("another client's view of the refresh token: %v, want {active: false}", got)
		}
		next := f.refreshAs(t, c.ID, secret, rt)
		if next.Status != 200 {
			t.Fatalf("refresh: %s", next.Raw)
		}
		if got := introspect(rt, c.ID, secret); got["active"] != false {
			t.Errorf("a rotated refresh token: %v, want inactive", got)
		}
		if got := introspect(next.str("refresh_token"), c.ID, secret); got["active"] != true {
			t.Errorf("its successor: %v, want active", got)
		}
		rec := httptest.NewRecorder()
		rv := &Revocation{app: f.app, logger: f.log}
		if err := rv.ServeHTTP(rec, withBasic(formRequest(url.Values{"token": {next.str("refresh_token")}}), c.ID, secret), nil); err != nil || rec.Code != 200 {
			t.Fatalf("revocation: %d %v", rec.Code, err)
		}
		if got := introspect(next.str("refresh_token"), c.ID, secret); got["active"] != false {
			t.Errorf("a revoked refresh token: %v, want inactive", got)
		}
	})
}
