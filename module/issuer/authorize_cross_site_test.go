package issuer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/web"
)

// An out-of-band client's token is shown on this site's page, so a link on
// another site (Sec-Fetch-Site cross-site or same-site) gets the consent
// page and no token even when the user approved the scopes before, and
// approving it there gives the token; opened from the address bar (no
// header, or "none") or from this site, the approval is remembered as
// before, and so does signing in first (the sign-in post comes from this
// site). The page labels state as the link's value. A redirect client
// still skips consent for a cross-site link (its token goes to its
// registered redirect URI).
func TestAuthorizeOOBCrossSiteNeedsAClick(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{OOB}})
		_, b := f.authorize(t)
		params := implicitParams(c.ID, OOB, "demo.read")
		params.Set("state", "Paste this token at evil.example")
		page(t, b.decide(params, b.login(params, "ada", testPassword), "approve"), http.StatusOK, `id="token"`, "not a message from this site")

		open := func(site string) *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodGet, "/oauth/authorize?"+params.Encode(), nil)
			if site != "" {
				r.Header.Set("Sec-Fetch-Site", site)
			}
			return b.serve(r)
		}
		for _, site := range []string{"", "none", "same-origin"} {
			page(t, open(site), http.StatusOK, `id="token"`)
		}
		for _, site := range []string{"cross-site", "same-site"} {
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
		signIn := httptest.NewRequest(http.MethodGet, "/oauth/authorize?"+params.Encode(), nil)
		signIn.Header.Set("Sec-Fetch-Site", "cross-site")
		page(t, fresh.serve(signIn), http.StatusOK, `id="sign-in"`)
		after := page(t, fresh.login(params, "ada", testPassword), http.StatusOK, `value="approve"`)
		if strings.Contains(after, `id="token"`) {
			t.Fatalf("signing in after a cross-site link minted the token at once: %s", after)
		}

		rc, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		rparams := implicitParams(rc.ID, appRedirect, "demo.read")
		redirected(t, b.decide(rparams, b.get(rparams), "approve"), appRedirect+"#", true)
		r := httptest.NewRequest(http.MethodGet, "/oauth/authorize?"+rparams.Encode(), nil)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		redirected(t, b.serve(r), appRedirect+"#", true)
	})
}

// A sign-in post whose client has gone (its request context cancelled, as
// when the connection drops mid-request) is still checked: the user lookup
// does not follow the request's cancellation, so the attempt the throttle
// took pays for its password check and answers 401, not a 500 that left a
// free attempt counted (a red-team finding: aborted posts filled the count
// without any bcrypt work).
func TestAbortedSignInIsStillChecked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{OOB}})
		_, b := f.authorize(t)
		params := implicitParams(c.ID, OOB, "demo.read")
		form := clone(params)
		form.Set("action", "login")
		form.Set("csrf", csrfOf(t, page(t, b.get(params), http.StatusOK, `id="sign-in"`)))
		form.Set("username", "ada")
		form.Set("password", "wrong-Passw0rd")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/oauth/authorize", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", b.origin)
		var checks atomic.Int32
		stop := web.ObserveComparisons(func(int) { checks.Add(1) })
		defer stop()
		if rec := b.serve(r); rec.Code != http.StatusUnauthorized {
			t.Fatalf("an aborted sign-in: %d, want 401 (checked)", rec.Code)
		}
		if checks.Load() != 1 {
			t.Fatalf("%d password checks for the aborted sign-in, want 1", checks.Load())
		}
	})
}
