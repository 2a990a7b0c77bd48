package issuer

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
// The token page and the error page label state as the link's value. A redirect client still skips
// consent for a cross-site link (its token goes to its registered redirect
// URI).
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

		rc, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		rparams := implicitParams(rc.ID, appRedirect, "demo.read")
		redirected(t, b.decide(rparams, b.get(rparams), "approve"), appRedirect+"#", true)
		redirected(t, b.getFrom(rparams, "cross-site"), appRedirect+"#", true)
	})
}
