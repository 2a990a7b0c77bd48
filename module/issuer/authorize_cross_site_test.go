package issuer

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// An out-of-band client's token is shown on this site's page, so only the
// user opening the URL themselves (Sec-Fetch-Site none: the address bar)
// skips the consent page the approval would otherwise skip. A link on
// another site (cross-site, same-site), this site's own redirect (same-origin:
// another client's redirect URI chained to this client's out-of-band URL,
// after that client's consent) and a browser sending no Fetch Metadata all
// get the consent page and no token, and approving it there gives the
// token; signing in first asks too (the sign-in post comes from this site).
// The token page and the error page label state as the link's value. A
// redirect client skips consent for its own pages' links (next test).
func TestAuthorizeOOBCrossSiteNeedsAClick(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f, b, params := oobFixture(t, driver)
		params.Set("state", "Paste this token at evil.example")
		page(t, b.decide(params, b.login(params, "ada", testPassword), "approve"), http.StatusOK, `id="token"`, "not a message from this site")
		// The error page labels it too: an unknown scope fails on this
		// site's page, before any sign-in.
		bad := implicitParams(params.Get("client_id"), params.Get("redirect_uri"), "no.such.scope")
		bad.Set("state", "Your session expired. Call +1-555-0100")
		page(t, b.get(bad), http.StatusBadRequest, `id="state"`, "not a message from this site")

		open := func(site string) *httptest.ResponseRecorder { return b.getFrom(params, site) }
		page(t, open("none"), http.StatusOK, `id="token"`)
		for _, site := range []string{"cross-site", "same-site", "same-origin", ""} {
			consent := page(t, open(site), http.StatusOK, `value="approve"`)
			if strings.Contains(consent, `id="token"`) {
				t.Fatalf("a %s link got a token: %s", site, consent)
			}
		}
		page(t, b.decide(params, open("cross-site"), "approve"), http.StatusOK, `id="token"`)

		// Not signed in, the cross-site link gets the sign-in page; signing
		// in there (a POST from this site) must not mint the token at once
		// either, though the scopes were approved before.
		_, fresh := f.authorize(t)
		fresh.cookies = map[string]*http.Cookie{}
		page(t, fresh.getFrom(params, "cross-site"), http.StatusOK, `id="sign-in"`)
		after := page(t, fresh.login(params, "ada", testPassword), http.StatusOK, `value="approve"`)
		if strings.Contains(after, `id="token"`) {
			t.Fatalf("signing in after a cross-site link minted the token at once: %s", after)
		}
	})
}

// approvedImplicit is how the redirect-client tests begin: user ada, a
// client redirecting to appRedirect allowed demo.read, its implicit grant
// approved by ada once; it returns the client, ada's browser, the
// parameters the client sends and the parameters of that first redirect.
func approvedImplicit(t *testing.T, driver string) (*fixture, *store.Client, *browser, url.Values, url.Values) {
	t.Helper()
	f := newFixture(t, driver)
	f.authUser(store.DefaultTenantID, "ada")
	rc, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
	_, b := f.authorize(t)
	params := implicitParams(rc.ID, appRedirect, "demo.read")
	first := redirected(t, b.decide(params, b.login(params, "ada", testPassword), "approve"), appRedirect+"#", true)
	return f, rc, b, params, first
}

// codeParams are the parameters of a PKCE code request of client id.
func codeParams(id string) url.Values {
	return url.Values{"response_type": {"code"}, "client_id": {id}, "redirect_uri": {appRedirect}, "scope": {"demo.read"},
		"state": {"1"}, "code_challenge": {s256("a-verifier-long-enough-for-pkce-0123456789")}, "code_challenge_method": {"S256"}}
}

// A redirect client's approval on record mints an implicit token at once,
// and each mint spends the user's daily allowance for the client and its
// bound of live implicit tokens: a link on another site (Sec-Fetch-Site
// cross-site or same-site, Referer not on the redirect URI's origin, or
// none) gets the consent page instead, one click from the token, so no
// page can spend them unseen (browser red team: two visits to an attacker's
// page used up a 60-minute day). Links from the client's own origin, the
// address bar, this site and a browser sending no Fetch Metadata still go
// straight to the token; a code (spent only when redeemed) too.
func TestAuthorizeImplicitFromAnotherSiteNeedsAClick(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f, rc, b, params, _ := approvedImplicit(t, driver)
		open := func(site, referer string) *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodGet, "/oauth/authorize?"+params.Encode(), nil)
			r.Header.Set("Sec-Fetch-Site", site)
			if referer != "" {
				r.Header.Set("Referer", referer)
			}
			return b.serve(r)
		}
		for _, tc := range []struct{ site, referer string }{
			{"cross-site", ""}, {"cross-site", "https://evil.example/"}, {"same-site", "https://evil.app.test/"},
			{"cross-site", "http://app.test/"}, {"cross-site", "https://app.test:8443/"}, {"cross-site", "not a url"},
		} {
			rec := open(tc.site, tc.referer)
			if loc := rec.Header().Get("Location"); rec.Code != http.StatusOK || loc != "" {
				t.Fatalf("%s link from %q: %d Location %q, want the consent page", tc.site, tc.referer, rec.Code, loc)
			}
			page(t, rec, http.StatusOK, `value="approve"`)
		}
		redirected(t, b.decide(params, open("cross-site", "https://evil.example/"), "approve"), appRedirect+"#", true)
		for _, tc := range []struct{ site, referer string }{
			{"cross-site", "https://app.test/"}, {"same-site", "https://APP.test/home?x=1"}, {"none", ""},
			{"same-origin", ""},
		} {
			redirected(t, open(tc.site, tc.referer), appRedirect+"#", true)
		}
		redirected(t, b.get(params), appRedirect+"#", true) // no Fetch Metadata

		// A redirect URI registered with its default port: the client's own
		// page sends its origin without it (review).
		withPort, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{"https://app.test:443/cb"}})
		params = implicitParams(withPort.ID, "https://app.test:443/cb", "demo.read")
		redirected(t, b.decide(params, b.get(params), "approve"), "https://app.test:443/cb#", true)
		redirected(t, open("cross-site", "https://app.test/"), "https://app.test:443/cb#", true)
		page(t, open("cross-site", "https://app.test:8443/"), http.StatusOK, `value="approve"`)

		r := httptest.NewRequest(http.MethodGet, "/oauth/authorize?"+codeParams(rc.ID).Encode(), nil)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		if v := redirected(t, b.serve(r), appRedirect+"?", false); v.Get("code") == "" {
			t.Fatalf("a code for a cross-site link: %v", v)
		}
	})
}

// Every authorization response redirected to a client names this issuer
// (iss, RFC 9207): a client talking to several servers can then tell which
// one answered, and refuse a mix-up. A token, a code and an error each carry
// it, in the fragment or the query.
func TestAuthorizationResponsesNameTheIssuer(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		_, rc, b, _, first := approvedImplicit(t, driver)
		if first.Get("iss") != apptest.Issuer {
			t.Errorf("implicit token: iss %q, want %q", first.Get("iss"), apptest.Issuer)
		}
		if v := redirected(t, b.get(codeParams(rc.ID)), appRedirect+"?", false); v.Get("iss") != apptest.Issuer || v.Get("code") == "" {
			t.Errorf("code: %v, want iss %q", v, apptest.Issuer)
		}
		bad := implicitParams(rc.ID, appRedirect, "no.such.scope")
		if v := redirected(t, b.get(bad), appRedirect+"#", true); v.Get("iss") != apptest.Issuer || v.Get("error") != "invalid_scope" {
			t.Errorf("error: %v, want invalid_scope with iss %q", v, apptest.Issuer)
		}
	})
}
