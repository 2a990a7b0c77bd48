package issuer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/token"
)

// A code presented a second time is invalid_grant and revokes what it
// produced (RFC 6749 §4.1.2): the access token of the first redemption and
// the one from refreshing it stop verifying at once, and stay revoked as
// long as they could verify (exp plus the leeway), and the current refresh
// token of the grant is refused. Another grant of the same client and user
// is untouched, and neither the code nor a token is logged.
func TestAuthorizationCodeReuseRevokes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, secret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		_, b := f.authorize(t)
		redeem := func(code string) result {
			return serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}}), c.ID, secret))
		}
		refresh := func(tok string) result {
			return serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}), c.ID, secret))
		}
		code := codeFor(t, b, c, "")
		first := redeem(code)
		if first.Status != 200 {
			t.Fatalf("redeem: %s", first.Raw)
		}
		refreshed := refresh(first.str("refresh_token"))
		if refreshed.Status != 200 {
			t.Fatalf("refresh: %s", refreshed.Raw)
		}
		otherGrant := redeem(codeFor(t, b, c, ""))
		var verified []*token.Claims
		for _, tok := range []string{first.str("access_token"), refreshed.str("access_token")} {
			verified = append(verified, f.verify(t, tok))
		}

		again := f.refuse(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {code}}), c.ID, secret),
			http.StatusBadRequest, oauth.InvalidGrant)
		if !strings.Contains(again.str("error_description"), "already used") {
			t.Fatalf("description %q", again.str("error_description"))
		}
		for name, tok := range map[string]string{"first": first.str("access_token"), "refreshed": refreshed.str("access_token")} {
			if _, err := f.app.Verify(context.Background(), tok); err == nil {
				t.Errorf("the %s access token still verifies after the code's reuse", name)
			}
		}
		for _, claims := range verified {
			var rv store.Revocation
			if err := f.app.Store().DB.Where("jti = ?", claims.ID).Take(&rv).Error; err != nil {
				t.Fatalf("no revocation of %s: %v", claims.ID, err)
			}
			if want := f.app.RevocationUntil(claims.ExpiresAt.Time); rv.ExpiresAt.Unix() != want.Unix() {
				t.Errorf("revocation of %s lasts until %v, want %v (exp plus the leeway, 5 min at least)", claims.ID, rv.ExpiresAt, want)
			}
		}
		if r := refresh(refreshed.str("refresh_token")); r.str("error") != oauth.InvalidGrant {
			t.Fatalf("the grant's refresh token after the code's reuse: %s", r.Raw)
		}
		f.verify(t, otherGrant.str("access_token"))
		if r := refresh(otherGrant.str("refresh_token")); r.Status != 200 {
			t.Fatalf("another grant was revoked: %s", r.Raw)
		}
		logged := f.loggedText()
		if !strings.Contains(logged, "used twice") {
			t.Errorf("the reuse was not logged: %s", logged)
		}
		for _, s := range []string{code, first.str("access_token"), first.str("refresh_token"), refreshed.str("refresh_token")} {
			if strings.Contains(logged, s) {
				t.Fatal("a code or token was logged")
			}
		}
	})
}

// eventuallyRevoked waits for the change feed (polled every 50ms in tests)
// to bring revocations to this node, and fails if tok still verifies after
// ten seconds (generous on a busy machine: the wait ends on arrival).
func eventuallyRevoked(t *testing.T, f *fixture, what, tok string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second) // polls every 50ms; ends on arrival
	for {
		if _, err := f.app.Verify(context.Background(), tok); err != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still verifies", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Revoking a grant revokes its access tokens too, not only its refresh
// tokens: a rotated refresh token presented again, and a refresh token
// revoked at the revocation endpoint (RFC 7009), each make every access
// token of that grant stop verifying; other grants are untouched.
func TestRevokedGrantRevokesAccessTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, secret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		_, b := f.authorize(t)
		grant := func() (result, result) {
			first := serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {codeFor(t, b, c, "")}}), c.ID, secret))
			next := serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}}), c.ID, secret))
			if first.Status != 200 || next.Status != 200 {
				t.Fatalf("grant: %s %s", first.Raw, next.Raw)
			}
			return first, next
		}
		reused, reusedNext := grant()
		revoked, revokedNext := grant()
		kept, _ := grant()

		f.refuse(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {reused.str("refresh_token")}}), c.ID, secret),
			http.StatusBadRequest, oauth.InvalidGrant)
		rec := httptest.NewRecorder()
		rv := &Revocation{app: f.app, logger: f.log}
		if err := rv.ServeHTTP(rec, withBasic(formRequest(url.Values{"token": {revokedNext.str("refresh_token")}}), c.ID, secret), nil); err != nil || rec.Code != 200 {
			t.Fatalf("revocation: %d %v", rec.Code, err)
		}
		eventuallyRevoked(t, f, "the reused grant's first access token", reused.str("access_token"))
		eventuallyRevoked(t, f, "the reused grant's refreshed access token", reusedNext.str("access_token"))
		eventuallyRevoked(t, f, "the revoked grant's first access token", revoked.str("access_token"))
		eventuallyRevoked(t, f, "the revoked grant's refreshed access token", revokedNext.str("access_token"))
		f.verify(t, kept.str("access_token"))
	})
}
