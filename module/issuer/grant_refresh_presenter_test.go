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

// Only a refresh token's own client can spend it or trigger its reuse
// detection: another client presenting it (with its own secret, or a public
// client with its client_id) is invalid_grant and changes nothing, before
// and after the rightful client rotated it. The rightful client's access
// token keeps verifying, its current refresh token still rotates, and its
// rotated one presented again by itself still revokes the grant (RFC 6749
// §10.4).
func TestRefreshTokenOnlyItsClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, secret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		other, otherSecret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		pub, _ := f.client(store.Client{AuthMethod: store.AuthUser, Public: true, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		_, b := f.authorize(t)
		first := serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {codeFor(t, b, c, "")}}), c.ID, secret))
		if first.Status != http.StatusOK {
			t.Fatalf("redeem: %s", first.Raw)
		}
		refresh := func(tok, id, sec string) result {
			t.Helper()
			v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok}}
			if sec == "" {
				v.Set("client_id", id)
				return serve(t, f.ep, formRequest(v))
			}
			return serve(t, f.ep, withBasic(formRequest(v), id, sec))
		}
		foreign := func(what, tok string) {
			t.Helper()
			for name, res := range map[string]result{"confidential": refresh(tok, other.ID, otherSecret), "public": refresh(tok, pub.ID, "")} {
				if res.Status != http.StatusBadRequest || res.str("error") != oauth.InvalidGrant ||
					!strings.Contains(res.str("error_description"), "issued to another client") {
					t.Fatalf("%s, another %s client: %d %s, want invalid_grant", what, name, res.Status, res.Raw)
				}
			}
		}

		foreign("unused", first.str("refresh_token"))
		if _, err := f.app.Verify(context.Background(), first.str("access_token")); err != nil {
			t.Fatalf("another client presenting the refresh token revoked the grant: %v", err)
		}
		next := refresh(first.str("refresh_token"), c.ID, secret)
		if next.Status != http.StatusOK {
			t.Fatalf("the rightful client after another presented its refresh token: %d %s", next.Status, next.Raw)
		}
		foreign("rotated", first.str("refresh_token"))
		foreign("current", next.str("refresh_token"))
		f.verify(t, next.str("access_token"))
		again := refresh(next.str("refresh_token"), c.ID, secret)
		if again.Status != http.StatusOK {
			t.Fatalf("the current refresh token after another client presented the rotated one: %d %s", again.Status, again.Raw)
		}
		if r := refresh(next.str("refresh_token"), c.ID, secret); r.str("error") != oauth.InvalidGrant || !strings.Contains(r.str("error_description"), "already used") {
			t.Fatalf("the rightful client's own reuse: %s", r.Raw)
		}
		eventuallyRevoked(t, f, "the grant's access token after its own reuse", again.str("access_token"))
	})
}
