package issuer

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// What the authorize pages tell people: a redirect_uri the application did
// not register is named as the problem, with what its developer must do
// (not that it "gets no answer"); the out-of-band page shows the token once,
// in the read-only field it is copied from.
func TestAuthorizeWording(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{OOB}})
		_, b := f.authorize(t)

		body := page(t, b.get(implicitParams(c.ID, "https://evil.test/cb", "")), http.StatusBadRequest, "not registered")
		msg := between(body, `<p id="message">`, `</p>`)
		if !strings.Contains(msg, "developer must register that exact URL") || strings.Contains(msg, "no answer") {
			t.Fatalf("unregistered redirect page says %q", msg)
		}

		params := implicitParams(c.ID, OOB, "demo.read")
		body = page(t, b.decide(params, b.login(params, "ada", testPassword), "approve"), http.StatusOK, `id="token" readonly value="`)
		tok := between(body, `id="token" readonly value="`, `"`)
		if n := strings.Count(body, tok); tok == "" || n != 1 {
			t.Fatalf("the token is on the page %d times, want once", n)
		}
	})
}
