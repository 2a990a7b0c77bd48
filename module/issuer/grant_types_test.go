package issuer

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Every grant the token endpoint has is one a client's grant_types can
// name, so no grant escapes the list.
func TestRegisteredGrantsAreNamable(t *testing.T) {
	for _, g := range GrantTypes() {
		if !slices.Contains(store.GrantTypeNames, g) {
			t.Errorf("grant %q is not in store.GrantTypeNames", g)
		}
	}
}

// A client limited to some grant types is refused the others with
// unauthorized_client (RFC 6749 §5.2, 400) at the token endpoint, before
// anything is spent: a refresh token it may no longer use stays valid.
// Redeeming a code, a client without refresh_token gets no refresh token.
// An empty list keeps every grant the client's kind allows.
func TestClientGrantTypesAtTokenEndpoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		ctx := context.Background()
		cc, ccSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect},
			GrantTypes: store.Strings{store.GrantClientCredentials}})
		web, webSecret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect},
			GrantTypes: store.Strings{store.GrantAuthorizationCode, store.GrantRefreshToken}})
		codeOnly, codeOnlySecret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect},
			GrantTypes: store.Strings{store.GrantAuthorizationCode}})
		unlisted, unlistedSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		_, b := f.authorize(t)
		unauthorized := func(what string, req *http.Request, want string) {
			t.Helper()
			res := f.refuse(t, f.ep, req, http.StatusBadRequest, oauth.UnauthorizedClient)
			if !strings.Contains(res.str("error_description"), want) {
				t.Fatalf("%s: description %q, want %q", what, res.str("error_description"), want)
			}
		}
		redeem := func(id, secret, code string) result {
			return serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}}), id, secret))
		}
		refresh := func(id, secret, tok string) *http.Request {
			return withBasic(formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}), id, secret)
		}

		f.issue(t, f.ep, cc.ID, ccSecret)
		unauthorized("a code for a client_credentials client", withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}), cc.ID, ccSecret),
			"may not use the authorization_code grant")
		unauthorized("a refresh for a client_credentials client", refresh(cc.ID, ccSecret, "x"), "may not use the refresh_token grant")
		unauthorized("client_credentials for a user client", withBasic(formRequest(ccForm()), web.ID, webSecret), "signs users in")

		granted := redeem(web.ID, webSecret, codeFor(t, b, web, ""))
		if granted.Status != http.StatusOK || granted.str("refresh_token") == "" {
			t.Fatalf("code of a client allowed refresh_token: %s", granted.Raw)
		}
		// Taking refresh_token away refuses the refresh and spends nothing.
		web.GrantTypes = store.Strings{store.GrantAuthorizationCode}
		if err := f.app.Store().UpdateClientSettings(ctx, web, web.TenantID, tester); err != nil {
			t.Fatal(err)
		}
		unauthorized("a refresh once refresh_token is taken away", refresh(web.ID, webSecret, granted.str("refresh_token")), "may not use the refresh_token grant")
		web.GrantTypes = nil
		if err := f.app.Store().UpdateClientSettings(ctx, web, web.TenantID, tester); err != nil {
			t.Fatal(err)
		}
		if r := serve(t, f.ep, refresh(web.ID, webSecret, granted.str("refresh_token"))); r.Status != http.StatusOK {
			t.Fatalf("the refused refresh spent the token: %s", r.Raw)
		}

		plain := redeem(codeOnly.ID, codeOnlySecret, codeFor(t, b, codeOnly, ""))
		if plain.Status != http.StatusOK {
			t.Fatalf("code of a client limited to authorization_code: %s", plain.Raw)
		}
		if _, ok := plain.Body["refresh_token"]; ok {
			t.Fatalf("a client without refresh_token got a refresh token: %s", plain.Raw)
		}
		f.verify(t, plain.str("access_token"))

		f.issue(t, f.ep, unlisted.ID, unlistedSecret)
		if r := redeem(unlisted.ID, unlistedSecret, codeFor(t, b, unlisted, "")); r.Status != http.StatusOK || r.str("refresh_token") == "" {
			t.Fatalf("a client with no list lost a grant: %s", r.Raw)
		}
	})
}

// At the authorize endpoint a client lacking authorization_code is refused
// response_type=code, and one lacking implicit response_type=token, with
// unauthorized_client (RFC 6749 §4.1.2.1, §4.2.2.1) sent to a valid
// redirect URI (query for code, fragment for token, with state) or shown on
// the error page when the redirect URI is not the client's. DisableImplicit
// alone still refuses the implicit grant, whatever grant_types says.
func TestClientGrantTypesAtAuthorize(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		implicitOnly, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect, OOB},
			GrantTypes: store.Strings{store.GrantImplicit}})
		codeOnly, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect},
			GrantTypes: store.Strings{store.GrantAuthorizationCode, store.GrantRefreshToken}})
		vetoed, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect},
			GrantTypes: store.Strings{store.GrantImplicit, store.GrantAuthorizationCode}, DisableImplicit: true})
		_, b := f.authorize(t)
		codeParams := func(id, redirect string) url.Values {
			return url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {redirect}, "state": {"s1"}, "scope": {"demo.read"}}
		}
		for name, tc := range map[string]struct {
			params   url.Values
			fragment bool
			want     string
		}{
			"code, implicit only":    {codeParams(implicitOnly.ID, appRedirect), false, "authorization_code"},
			"token, code only":       {implicitParams(codeOnly.ID, appRedirect, "demo.read"), true, "implicit grant"},
			"token, DisableImplicit": {implicitParams(vetoed.ID, appRedirect, "demo.read"), true, "implicit grant"},
		} {
			t.Run(name, func(t *testing.T) {
				v := redirected(t, b.get(tc.params), appRedirect, tc.fragment)
				if v.Get("error") != oauth.UnauthorizedClient || !strings.Contains(v.Get("error_description"), tc.want) {
					t.Fatalf("answer %v, want unauthorized_client naming %s", v, tc.want)
				}
				if st := tc.params.Get("state"); v.Get("state") != st {
					t.Fatalf("state %q, want %q", v.Get("state"), st)
				}
			})
		}
		// An unregistered redirect URI is never redirected to; the oob
		// client's user sees the refusal on the page.
		page(t, b.get(codeParams(implicitOnly.ID, "https://evil.test/cb")), http.StatusBadRequest, "not registered")
		page(t, b.get(codeParams(implicitOnly.ID, OOB)), http.StatusBadRequest, oauth.UnauthorizedClient)
		// What each client may use still starts: the sign-in page.
		page(t, b.get(implicitParams(implicitOnly.ID, appRedirect, "demo.read")), http.StatusOK, `id="sign-in"`)
		page(t, b.get(codeParams(codeOnly.ID, appRedirect)), http.StatusOK, `id="sign-in"`)
		page(t, b.get(codeParams(vetoed.ID, appRedirect)), http.StatusOK, `id="sign-in"`)
	})
}

// In a config that mounts no authorize endpoint nothing hands out codes,
// nor the refresh tokens that come with them: the token endpoint answers
// the code and refresh grants unsupported_grant_type (RFC 6749 §5.2), as
// its metadata leaves them out, instead of invalid_grant for a code it
// could never have issued (protocol red team: quickstart, tenants and
// postgres.Caddyfile). With the authorize endpoint mounted the same
// requests reach their grants.
func TestCodeGrantsNeedTheAuthorizeEndpoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		requests := map[string]func() *http.Request{
			"authorization_code": func() *http.Request {
				return withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}), c.ID, secret)
			},
			"refresh_token": func() *http.Request {
				return withBasic(formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}), c.ID, secret)
			},
		}
		for gt, req := range requests {
			res := f.refuse(t, f.ep, req(), http.StatusBadRequest, oauth.UnsupportedGrantType)
			if !strings.Contains(res.str("error_description"), gt) {
				t.Errorf("%s: description %q, want it named", gt, res.str("error_description"))
			}
		}
		f.issue(t, f.ep, c.ID, secret) // client_credentials is served

		f.app.RegisterEndpoint(EndpointAuthorize)
		for gt, req := range requests {
			if res := serve(t, f.ep, req()); res.Status != http.StatusBadRequest || res.str("error") != oauth.InvalidGrant {
				t.Errorf("%s with the authorize endpoint mounted: %d %s, want 400 invalid_grant", gt, res.Status, res.Raw)
			}
		}
	})
}
