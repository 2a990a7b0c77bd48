package issuer

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Only the code's own client can spend a code or trigger its reuse
// detection: another client presenting it (with its own secret, or a public
// client with its client_id), and the rightful client with the wrong
// redirect_uri or code_verifier (or one RFC 7636 does not allow), are each
// invalid_grant and leave the code as it was; the rightful client then redeems it. Once it is redeemed,
// another client presenting it again revokes nothing; the rightful client
// presenting it again still does (RFC 6749 §4.1.2).
func TestAuthorizationCodeOnlyItsClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, secret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect, OOB}})
		other, otherSecret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		pub, _ := f.client(store.Client{AuthMethod: store.AuthUser, Public: true, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		_, b := f.authorize(t)
		verifier := "a-verifier-that-is-long-enough-to-be-valid-0123456789"
		params := url.Values{"response_type": {"code"}, "client_id": {c.ID}, "redirect_uri": {appRedirect}, "scope": {"demo.read"},
			"code_challenge": {s256(verifier)}, "code_challenge_method": {"S256"}}
		code := redirected(t, b.decide(params, b.login(params, "ada", testPassword), "approve"), appRedirect+"?", false).Get("code")

		redeem := func(id, sec string, kv ...string) result {
			t.Helper()
			v := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {appRedirect}, "code_verifier": {verifier}}
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i+1] == "" {
					v.Del(kv[i])
				} else {
					v.Set(kv[i], kv[i+1])
				}
			}
			r := formRequest(v)
			if sec != "" {
				r = withBasic(r, id, sec)
			} else {
				v.Set("client_id", id)
				r = formRequest(v)
			}
			return serve(t, f.ep, r)
		}
		refused := func(what string, res result, want string) {
			t.Helper()
			if res.Status != http.StatusBadRequest || res.str("error") != oauth.InvalidGrant || !strings.Contains(res.str("error_description"), want) {
				t.Fatalf("%s: %d %s, want invalid_grant saying %q", what, res.Status, res.Raw, want)
			}
		}
		refused("another client", redeem(other.ID, otherSecret), "issued to another client")
		refused("a public client", redeem(pub.ID, ""), "issued to another client")
		refused("wrong redirect_uri", redeem(c.ID, secret, "redirect_uri", "urn:ietf:wg:oauth:2.0:oob"), "redirect_uri differs")
		refused("no redirect_uri", redeem(c.ID, secret, "redirect_uri", ""), "redirect_uri differs")
		refused("wrong verifier", redeem(c.ID, secret, "code_verifier", verifier+"x"), "does not match")
		refused("no verifier", redeem(c.ID, secret, "code_verifier", ""), "code_verifier is missing")
		// RFC 7636 §4.1: 43 to 128 unreserved characters. A client with a
		// guessable verifier ("a") is told so, whatever its challenge.
		for name, bad := range map[string]string{"one character": "a", "42 characters": strings.Repeat("v", 42),
			"129 characters": strings.Repeat("v", 129), "a reserved character": verifier[:42] + "+", "a space": verifier[:42] + " "} {
			refused("verifier of "+name, redeem(c.ID, secret, "code_verifier", bad), "43 to 128")
		}

		ok := redeem(c.ID, secret)
		if ok.Status != http.StatusOK {
			t.Fatalf("the rightful client after the refusals: %d %s", ok.Status, ok.Raw)
		}
		f.verify(t, ok.str("access_token"))
		refused("another client, after", redeem(other.ID, otherSecret), "issued to another client")
		if _, err := f.app.Verify(context.Background(), ok.str("access_token")); err != nil {
			t.Fatalf("another client presenting the used code revoked the rightful tokens: %v", err)
		}
		refused("the rightful client again", redeem(c.ID, secret), "already used")
		if _, err := f.app.Verify(context.Background(), ok.str("access_token")); err == nil {
			t.Fatal("the code's own reuse revoked nothing")
		}
	})
}
