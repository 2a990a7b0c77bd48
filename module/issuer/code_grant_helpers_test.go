package issuer

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/scopegate/scopegate/module/store"
)

// codeGrantApp makes user ada and a confidential app that signs users in
// with the authorization code flow (demo.read), and returns the app, its
// secret and a browser signed in as ada at the authorize endpoint.
func (f *fixture) codeGrantApp(t *testing.T) (*store.Client, string, *browser) {
	t.Helper()
	f.authUser(store.DefaultTenantID, "ada")
	c, secret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
	_, b := f.authorize(t)
	return c, secret, b
}

// redeemCode has ada approve c in b and redeems the code, failing the test
// unless tokens come back.
func (f *fixture) redeemCode(t *testing.T, b *browser, c *store.Client, secret string) result {
	t.Helper()
	r := serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {codeFor(t, b, c, "")}}), c.ID, secret))
	if r.Status != http.StatusOK {
		t.Fatalf("redeem: %s", r.Raw)
	}
	return r
}

// refreshAs presents refresh token tok at the token endpoint as client id
// with its secret.
func (f *fixture) refreshAs(t *testing.T, id, secret, tok string) result {
	t.Helper()
	return serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}), id, secret))
}
