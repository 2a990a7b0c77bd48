package issuer

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// oob every_client (Imagen: the oob redirect is "the default redirect value
// for an Installed Application"): a client that registered no redirect
// URI, or only an https one, gets the documented oob flow (sign-in,
// consent, the token on a page with state), and one without any redirect
// URI gets it when the request names none; another unregistered redirect is
// still refused with the error page. By default (registered) the same oob
// request is refused. An unknown value is a config error.
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
		for _, c := range []*store.Client{none, https} {
			params := implicitParams(c.ID, OOB, "demo.read")
			consent := b.get(params)
			if b.cookies[LoginCookie] == nil {
				consent = b.login(params, "ada", testPassword)
			}
			page(t, consent, http.StatusOK, `value="approve"`, "demo.read")
			body := page(t, b.decide(params, consent, "approve"), http.StatusOK, `id="token"`, `id="state">1<`)
			claims := f.verify(t, between(body, `id="token" readonly value="`, `"`))
			if claims.Subject != u.ID || claims.ClientID != c.ID || claims.Legs != 3 {
				t.Fatalf("%s: token claims %+v", c.ID, claims)
			}
		}
		// No redirect_uri, none registered: oob.
		params := implicitParams(none.ID, OOB, "demo.read")
		params.Del("redirect_uri")
		page(t, b.get(params), http.StatusOK, `id="token"`, `id="state">1<`)
		// Another unregistered redirect is still refused.
		page(t, b.get(implicitParams(https.ID, "https://evil.example/cb", "demo.read")), http.StatusBadRequest, "not registered")
		page(t, b.get(implicitParams(none.ID, "urn:ietf:wg:oauth:2.0:oob:auto", "demo.read")), http.StatusBadRequest, "not registered")

		if err := (&Authorize{OOB: "any"}).Validate(); err == nil || !strings.Contains(err.Error(), "every_client") {
			t.Errorf("oob any: %v, want an error naming the values", err)
		}
	})
}
