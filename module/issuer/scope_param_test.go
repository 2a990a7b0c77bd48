package issuer

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// The scope parameter is split on single spaces only (RFC 6749 §3.3): at
// the token endpoint, the authorize endpoint and a refresh, a tab, a
// newline or two spaces between scopes is invalid_scope saying what is
// wrong, and a refused refresh does not spend the refresh token. Single
// spaces, with spaces around the list, work; no scope still means the
// client's default scopes.
func TestScopeParameterStrict(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, secret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read", "demo.write"},
			DefaultScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		key, keySecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read", "demo.write"}, DefaultScopes: store.Strings{"demo.read"}})
		bad := map[string]string{
			"demo.read\tdemo.write":     "a tab",
			"demo.read\ndemo.write":     "a line feed",
			"demo.read  demo.write":     "two spaces in a row",
			"demo.read\u00a0demo.write": "U+00A0",
		}
		for raw, says := range bad {
			res := f.refuse(t, f.ep, withBasic(formRequest(ccForm("scope", raw)), key.ID, keySecret), http.StatusBadRequest, oauth.InvalidScope)
			if !strings.Contains(res.str("error_description"), says) {
				t.Errorf("token endpoint, scope %q: %q does not say %q", raw, res.str("error_description"), says)
			}
		}
		for raw, want := range map[string]string{" demo.read demo.write ": "demo.read demo.write", "": "demo.read"} {
			res, _ := f.issue(t, f.ep, key.ID, keySecret, "scope", raw)
			if res.str("scope") != want {
				t.Errorf("scope %q granted %q, want %q", raw, res.str("scope"), want)
			}
		}

		_, b := f.authorize(t)
		for raw, says := range bad {
			params := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "scope": {raw}, "state": {"s"}}
			v := redirected(t, b.get(params), appRedirect+"?", false)
			if v.Get("error") != oauth.InvalidScope || !strings.Contains(v.Get("error_description"), says) || v.Get("state") != "s" {
				t.Errorf("authorize, scope %q: %v", raw, v)
			}
		}

		code := codeFor(t, b, c, "")
		first := serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}}), c.ID, secret))
		if first.Status != http.StatusOK {
			t.Fatalf("redeem: %s", first.Raw)
		}
		refresh := func(scopeParam string) result {
			return serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"refresh_token"},
				"refresh_token": {first.str("refresh_token")}, "scope": {scopeParam}}), c.ID, secret))
		}
		if res := refresh("demo.read\tdemo.read"); res.str("error") != oauth.InvalidScope || !strings.Contains(res.str("error_description"), "a tab") {
			t.Fatalf("refresh with a tab: %s", res.Raw)
		}
		if res := refresh("demo.read"); res.Status != http.StatusOK {
			t.Fatalf("the refresh token after a refused malformed scope: %s", res.Raw)
		}
	})
}
