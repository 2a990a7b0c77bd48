package issuer

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// codeFor runs the authorize endpoint for client (signing ada in and
// approving when asked) and returns a code for demo.read; challenge may be
// "".
func codeFor(t *testing.T, b *browser, client *store.Client, challenge string) string {
	t.Helper()
	return codeForScope(t, b, client, challenge, "demo.read")
}

// codeForScope is codeFor asking for scope.
func codeForScope(t *testing.T, b *browser, client *store.Client, challenge, scope string) string {
	t.Helper()
	params := url.Values{"response_type": {"code"}, "client_id": {client.ID}, "scope": {scope}}
	if challenge != "" {
		params.Set("code_challenge", challenge)
		params.Set("code_challenge_method", "S256")
	}
	rec := b.get(params)
	if rec.Code == http.StatusOK && strings.Contains(rec.Body.String(), `id="sign-in"`) {
		rec = b.login(params, "ada", testPassword)
	}
	if rec.Code == http.StatusOK {
		rec = b.decide(params, rec, "approve")
	}
	return redirected(t, rec, appRedirect+"?", false).Get("code")
}

// Only a client registered as public may leave out its secret: a public
// client refreshes and revokes with client_id alone; a confidential one
// sending no secret is invalid_client (401) for the refresh token grant and
// the revocation endpoint, even holding a valid refresh token.
func TestConfidentialClientMustAuthenticate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		pub, _ := f.client(store.Client{AuthMethod: store.AuthUser, Public: true, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		conf, secret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		_, b := f.authorize(t)
		verifier := "a-verifier-that-is-long-enough-to-be-valid-0123456789"
		refresh := func(form url.Values) result {
			form.Set("grant_type", "refresh_token")
			return serve(t, f.ep, formRequest(form))
		}

		res := serve(t, f.ep, formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {codeFor(t, b, pub, s256(verifier))},
			"client_id": {pub.ID}, "code_verifier": {verifier}}))
		pubRefresh := res.str("refresh_token")
		if res.Status != 200 || pubRefresh == "" {
			t.Fatalf("public redeem: %s", res.Raw)
		}
		next := refresh(url.Values{"refresh_token": {pubRefresh}, "client_id": {pub.ID}})
		if next.Status != 200 || next.str("refresh_token") == "" {
			t.Fatalf("public refresh with client_id: %s", next.Raw)
		}

		res = serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {codeFor(t, b, conf, s256(verifier))},
			"code_verifier": {verifier}}), conf.ID, secret))
		confRefresh := res.str("refresh_token")
		if res.Status != 200 || confRefresh == "" {
			t.Fatalf("confidential redeem: %s", res.Raw)
		}
		f.refuse(t, f.ep, formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {confRefresh}, "client_id": {conf.ID}}),
			http.StatusUnauthorized, oauth.InvalidClient)
		f.refuse(t, f.ep, formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {confRefresh}}),
			http.StatusUnauthorized, oauth.InvalidClient)
		// The refused attempts did not use it up: with the secret it works.
		if r := serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {confRefresh}}), conf.ID, secret)); r.Status != 200 {
			t.Fatalf("confidential refresh with its secret: %s", r.Raw)
		}

		rv := &Revocation{app: f.app, logger: f.log}
		revoke := func(form url.Values) *httptest.ResponseRecorder {
			rec := httptest.NewRecorder()
			if err := rv.ServeHTTP(rec, formRequest(form), nil); err != nil {
				t.Fatal(err)
			}
			return rec
		}
		if rec := revoke(url.Values{"token": {next.str("refresh_token")}, "client_id": {conf.ID}}); rec.Code != http.StatusUnauthorized {
			t.Fatalf("confidential revocation without a secret: %d %s", rec.Code, rec.Body.String())
		}
		if rec := revoke(url.Values{"token": {next.str("refresh_token")}, "client_id": {pub.ID}}); rec.Code != http.StatusOK {
			t.Fatalf("public revocation with client_id: %d %s", rec.Code, rec.Body.String())
		}
		if r := refresh(url.Values{"refresh_token": {next.str("refresh_token")}, "client_id": {pub.ID}}); r.str("error") != oauth.InvalidGrant {
			t.Fatalf("refresh after the public client revoked it: %s", r.Raw)
		}
	})
}

// A public client must use PKCE: the authorize endpoint answers a code
// request without code_challenge with invalid_request at the redirect URI
// (nothing issued), a code issued without PKCE before the client became
// public is not redeemable with its client_id, and a public client never
// gets client_credentials; a secret stored for it (as when it was
// confidential) authenticates nothing: invalid_client, at the token
// endpoint for any grant, the code exchange included.
func TestPublicClientRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		pub, pubSecret := f.client(store.Client{AuthMethod: store.AuthUser, Public: true, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		_, b := f.authorize(t)
		// Signed in and approved through a PKCE request first, so the
		// refusal below cannot be the sign-in or consent page's doing.
		codeFor(t, b, pub, s256("a-verifier-that-is-long-enough-to-be-valid-0123456789"))
		v := redirected(t, b.get(url.Values{"response_type": {"code"}, "client_id": {pub.ID}, "scope": {"demo.read"}, "state": {"x"}}), appRedirect+"?", false)
		if v.Get("error") != oauth.InvalidRequest || !strings.Contains(v.Get("error_description"), "code_challenge") || v.Get("code") != "" || v.Get("state") != "x" {
			t.Fatalf("public code request without PKCE answered %v", v)
		}

		// Made public by an admin, a client's pending codes end with its
		// grants (they would be redeemed with client_id alone).
		later, _ := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		code := codeFor(t, b, later, "")
		later.Public = true
		if err := f.app.Store().UpdateClientSettings(context.Background(), later, later.TenantID, tester); err != nil {
			t.Fatal(err)
		}
		f.refuse(t, f.ep, formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {later.ID}}),
			http.StatusBadRequest, oauth.InvalidGrant)
		// A code that outlived the change (made public by an older build,
		// which kept them) is still refused for want of PKCE.
		older, _ := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		code = codeFor(t, b, older, "")
		older.Public = true
		if err := f.app.Store().UpdateClient(context.Background(), older, tester, "client.update"); err != nil {
			t.Fatal(err)
		}
		res := f.refuse(t, f.ep, formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {older.ID}}),
			http.StatusBadRequest, oauth.InvalidGrant)
		if !strings.Contains(res.str("error_description"), "PKCE") {
			t.Fatalf("description %q", res.str("error_description"))
		}

		// Even a public client stored as api_key (not possible through the
		// admin API) gets no client_credentials token.
		svc, svcSecret := f.client(store.Client{AuthMethod: store.AuthAPIKey, Public: true, AllowedScopes: store.Strings{"demo.read"}})
		for id, sec := range map[string]string{pub.ID: pubSecret, svc.ID: svcSecret} {
			res := f.refuse(t, f.ep, withBasic(formRequest(ccForm()), id, sec), http.StatusUnauthorized, oauth.InvalidClient)
			if !strings.Contains(res.str("error_description"), "public client has no secret") {
				t.Fatalf("client_credentials with a public client's stored secret: %q", res.str("error_description"))
			}
		}
		verifier := "another-verifier-that-is-long-enough-to-be-valid-0123456789"
		pkce := codeFor(t, b, pub, s256(verifier))
		f.refuse(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {pkce}, "redirect_uri": {appRedirect}, "code_verifier": {verifier}}), pub.ID, pubSecret),
			http.StatusUnauthorized, oauth.InvalidClient)
		// The same code with client_id alone, as a public client sends it:
		// the refusal did not spend it.
		if r := serve(t, f.ep, formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {pkce}, "redirect_uri": {appRedirect}, "code_verifier": {verifier}, "client_id": {pub.ID}})); r.Status != http.StatusOK {
			t.Fatalf("the code with client_id alone after the refusal: %d %s", r.Status, r.Raw)
		}
	})
}

// Past store.GrantsKeptPerUser pending codes of one client, the user's next
// approval forgets the code that expires first and gets its own: refused,
// any site's page navigating the signed-in user's browser to the app's
// authorize URL filled the bound in seconds and locked the user out of the
// app until the codes expired (protocol red team). The rows stay at the
// bound; the new code redeems.
func TestCodeGrantsPerUserAreBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		ada := f.authUser(store.DefaultTenantID, "ada")
		c, secret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		_, b := f.authorize(t)
		if codeFor(t, b, c, "") == "" { // signs ada in and records her consent
			t.Fatal("no first code")
		}
		var rows []store.AuthCode
		for i := range store.GrantsKeptPerUser - 1 {
			rows = append(rows, store.AuthCode{Digest: store.Digest(fmt.Sprint("flood", i)), ClientID: c.ID, UserID: ada.ID, TenantID: store.DefaultTenantID,
				RedirectURI: appRedirect, Scopes: store.Strings{"demo.read"}, ExpiresAt: time.Now().Add(time.Hour).UTC()})
		}
		if err := f.app.Store().DB.CreateInBatches(rows, 200).Error; err != nil {
			t.Fatal(err)
		}
		params := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "scope": {"demo.read"}}
		got := redirected(t, b.get(params), appRedirect+"?", false)
		if got.Get("code") == "" || got.Get("error") != "" {
			t.Fatalf("past the bound: %v, want a code", got)
		}
		var n int64
		if err := f.app.Store().DB.Model(&store.AuthCode{}).Where("client_id = ? AND user_id = ?", c.ID, ada.ID).Count(&n).Error; err != nil || n != store.GrantsKeptPerUser {
			t.Fatalf("%d codes (%v), want %d", n, err, store.GrantsKeptPerUser)
		}
		form := url.Values{"grant_type": {"authorization_code"}, "code": {got.Get("code")}}
		if r := serve(t, f.ep, withBasic(formRequest(form), c.ID, secret)); r.Status != http.StatusOK {
			t.Fatalf("the code past the bound: %d %s", r.Status, r.Raw)
		}
	})
}
