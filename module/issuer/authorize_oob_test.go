package issuer

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// oob every_client (Imagen: the oob redirect is "the default redirect value
// for an Installed Application"): a client that registered no redirect URI
// gets the documented oob flow (sign-in, consent, the token on a page with
// state), also when the request names no redirect; its approval is asked
// every time (a link cannot show the user a token without a click), and
// response_type=code is refused (no code, no refresh token). A client that
// registered an https redirect does not get the unregistered oob (its
// users' approvals are remembered); another unregistered redirect is still
// refused, and so is an admin scope there. By default (registered) the oob
// request of a client without redirect URIs is refused. An unknown value is a config error.
func TestAuthorizeOOBEveryClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		u := f.authUser(store.DefaultTenantID, "ada")
		none, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		https, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{"https://app.example/cb"}})

		_, sb := f.authorize(t)
		page(t, sb.get(implicitParams(none.ID, OOB, "demo.read")), http.StatusBadRequest, "not registered")

		every, b := f.authorize(t)
		every.OOB = OOBEveryClient
		params := implicitParams(none.ID, OOB, "demo.read")
		consent := b.login(params, "ada", testPassword)
		page(t, consent, http.StatusOK, `value="approve"`, "demo.read")
		body := page(t, b.decide(params, consent, "approve"), http.StatusOK, `id="token"`, `id="state">1<`)
		claims := f.verify(t, between(body, `id="token" readonly value="`, `"`))
		if claims.Subject != u.ID || claims.ClientID != none.ID || claims.Legs != 3 {
			t.Fatalf("token claims %+v", claims)
		}
		// Approved before, asked again: no token without a click.
		again := b.get(params)
		page(t, again, http.StatusOK, `value="approve"`)
		if strings.Contains(again.Body.String(), `id="token"`) {
			t.Fatal("an unregistered oob request showed a token without asking")
		}
		// No redirect_uri, none registered: oob, asked too.
		bare := implicitParams(none.ID, OOB, "demo.read")
		bare.Del("redirect_uri")
		page(t, b.get(bare), http.StatusOK, `value="approve"`)
		// A code on the unregistered oob: refused on the page.
		code := implicitParams(none.ID, OOB, "demo.read")
		code.Set("response_type", "code")
		page(t, b.get(code), http.StatusBadRequest, "response_type=token only")
		// A client with an https redirect: the oob is not its.
		page(t, b.get(implicitParams(https.ID, OOB, "demo.read")), http.StatusBadRequest, "not registered")
		page(t, b.get(implicitParams(https.ID, "https://evil.example/cb", "demo.read")), http.StatusBadRequest, "not registered")
		page(t, b.get(implicitParams(none.ID, "urn:ietf:wg:oauth:2.0:oob:auto", "demo.read")), http.StatusBadRequest, "not registered")

		// An admin client (the bootstrap client registers no redirect) is
		// refused an admin scope there: a token on a page is one a user can
		// be talked out of. Its other scopes still work.
		admin, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read", "scopegate.admin", "scopegate.tenant_admin"}})
		for _, sc := range []string{"scopegate.admin", "demo.read scopegate.tenant_admin"} {
			page(t, b.get(implicitParams(admin.ID, OOB, sc)), http.StatusBadRequest, "invalid_scope", "admin console")
		}
		page(t, b.get(implicitParams(admin.ID, OOB, "demo.read")), http.StatusOK, `value="approve"`)

		if err := (&Authorize{OOB: "any"}).Validate(); err == nil || !strings.Contains(err.Error(), "every_client") {
			t.Errorf("oob any: %v, want an error naming the values", err)
		}
	})
}
