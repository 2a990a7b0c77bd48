package issuer

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Imagen: "the API Key is tied to a user ID". For a client that connects
// as a user, another user who signs in sees a 403 page saying only that
// user can authorize it (with the sign-in form to switch), whether he just
// signed in, comes back signed in, or posts an approval anyway; nothing is
// minted for him and no consent is kept. The connect-as user signs in,
// approves and gets a 3-legged token for himself, not marked connect-as: it
// is the user's own (held by the user), so it may never act on behalf of
// others even if the client is later allowed to impersonate. A
// code for another user (issued before the client was given its user) is
// refused at redemption.
func TestAuthorizeConnectAsOnlyThatUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		ada := f.authUser(store.DefaultTenantID, "ada")
		bob := f.authUser(store.DefaultTenantID, "bob")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read", "demo.write"}, RedirectURIs: store.Strings{OOB},
			ConnectAsUserID: &ada.ID})
		_, b := f.authorize(t)
		params := implicitParams(c.ID, OOB, "demo.read")

		refused := b.login(params, "bob", testPassword)
		body := page(t, refused, http.StatusForbidden, NotConnectAsUser, `id="sign-in"`)
		if strings.Contains(body, `id="token"`) || strings.Contains(body, `value="approve"`) {
			t.Fatalf("bob got a token or a consent form: %s", body)
		}
		again := page(t, b.get(params), http.StatusForbidden, NotConnectAsUser)
		// A forged approval with a valid session and CSRF token: bob's CSRF
		// comes from his session, shown by no page, so read it from the
		// consent page of an ordinary client of the tenant.
		plain, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{OOB}})
		consent := b.get(implicitParams(plain.ID, OOB, "demo.read"))
		page(t, consent, http.StatusOK, `value="approve"`)
		page(t, b.decide(params, consent, "approve"), http.StatusForbidden, NotConnectAsUser)
		if cons, _ := f.app.Store().GetConsent(t.Context(), bob.ID, c.ID); cons != nil {
			t.Fatalf("a consent was kept for bob: %+v", cons)
		}

		// ada takes over in the same browser, with the page's sign-in form,
		// and gets her token.
		form := clone(params)
		form.Set("action", "login")
		form.Set("csrf", csrfOf(t, again))
		form.Set("username", "ada")
		form.Set("password", testPassword)
		consent = b.post(form)
		page(t, consent, http.StatusOK, `value="approve"`)
		done := page(t, b.decide(params, consent, "approve"), http.StatusOK, `id="token"`)
		claims := f.verify(t, between(done, `id="token" readonly value="`, `"`))
		if claims.Subject != ada.ID || claims.Legs != 3 || claims.ConnectAs {
			t.Fatalf("ada's token: sub %q legs %d cas %v", claims.Subject, claims.Legs, claims.ConnectAs)
		}

		// A code of bob's from before the client connected as ada.
		codeClient, codeSecret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		_, bb := f.authorize(t)
		codeParams := url.Values{"response_type": {"code"}, "client_id": {codeClient.ID}, "redirect_uri": {appRedirect}, "scope": {"demo.read"}}
		code := redirected(t, bb.decide(codeParams, bb.login(codeParams, "bob", testPassword), "approve"), appRedirect+"?", false).Get("code")
		codeClient.ConnectAsUserID = &ada.ID
		if err := f.app.Store().UpdateClient(t.Context(), codeClient, tester, "client.update"); err != nil {
			t.Fatal(err)
		}
		f.app.Runtime().ForgetClient(codeClient.ID)
		res := f.refuse(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appRedirect}}),
			codeClient.ID, codeSecret), http.StatusBadRequest, "invalid_grant")
		if !strings.Contains(res.str("error_description"), "acts as another user") {
			t.Fatalf("bob's code after the client connects as ada: %q", res.str("error_description"))
		}
	})
}

// Imagen's example URL, pasted into a browser: "response_type=token " (the
// browser sends token%20) is the implicit grant, and the scope list may
// come in the brackets the document writes it in. Brackets stay part of a
// scope name the catalogue knows with them.
func TestAuthorizeImagenExampleURL(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read", "demo.write"}, RedirectURIs: store.Strings{OOB}})
		_, b := f.authorize(t)
		for _, tc := range []struct{ rt, scope, want string }{
			{"token ", "demo.read demo.write", "demo.read demo.write"},
			{" token\t", "[demo.read demo.write]", "demo.read demo.write"},
			{"token", "[demo.read]", "demo.read"},
		} {
			params := implicitParams(c.ID, OOB, tc.scope)
			params.Set("response_type", tc.rt)
			rec := b.get(params)
			if strings.Contains(rec.Body.String(), `id="sign-in"`) {
				rec = b.login(params, "ada", testPassword)
			}
			if strings.Contains(rec.Body.String(), `value="approve"`) {
				rec = b.decide(params, rec, "approve")
			}
			body := page(t, rec, http.StatusOK, `id="token"`, `id="state">1<`)
			if got := f.verify(t, between(body, `id="token" readonly value="`, `"`)).Scope; got != tc.want {
				t.Errorf("response_type %q scope %q: token scope %q, want %q", tc.rt, tc.scope, got, tc.want)
			}
		}
		// Other whitespace inside the value is still unsupported.
		params := implicitParams(c.ID, OOB, "demo.read")
		params.Set("response_type", "to ken")
		page(t, b.get(params), http.StatusBadRequest, UnsupportedResponseType)

		if got := unbracket(f.app.Catalogue(), "[demo.read demo.write]"); got != "demo.read demo.write" {
			t.Errorf("unbracket: %q", got)
		}
		if got := unbracket(f.app.Catalogue(), "[nope]"); got != "nope" {
			t.Errorf("unbracket of an unknown name: %q", got)
		}
		if got := unbracket(f.app.Catalogue(), "demo.read"); got != "demo.read" {
			t.Errorf("unbracket without brackets: %q", got)
		}
	})
}

// A request naming no scope at the authorize endpoint gets the default
// scopes that fit a user's token: a 2-legged-only one is left out, and for
// the implicit grant so is one whose required claims the link lacks.
func TestAuthorizeDefaultScopes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver, withSessionScope)
		f.authUser(store.DefaultTenantID, "ada")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read", "global", "application.session"},
			RedirectURIs: store.Strings{OOB, "https://app.example/cb"}})
		_, b := f.authorize(t)
		params := implicitParams(c.ID, OOB, "")
		params.Del("scope")
		consent := b.login(params, "ada", testPassword)
		body := page(t, consent, http.StatusOK, `value="approve"`, "demo.read")
		if strings.Contains(body, "global") || strings.Contains(body, "application.session") {
			t.Fatalf("the consent page lists a scope the request cannot have: %s", body)
		}
		done := page(t, b.decide(params, consent, "approve"), http.StatusOK, `id="token"`)
		if got := f.verify(t, between(done, `id="token" readonly value="`, `"`)).Scope; got != "demo.read" {
			t.Fatalf("token scope %q", got)
		}
	})
}
