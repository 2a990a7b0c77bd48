package issuer

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/web"
)

// padded returns v with n made-up parameters more.
func padded(v url.Values, n int) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	for i := range n {
		out.Set(fmt.Sprintf("p%d", i), "x")
	}
	return out
}

// Parsing a parameter costs about as much as a request's own work, and
// nothing the endpoints read needs more than a dozen, so a query or body
// with more than web.MaxParams is refused before it is parsed, before any
// credential is checked: a token request (form or JSON) with 400
// invalid_request in RFC 6749 JSON, the authorize endpoint's link and form
// with its 400 page. Just under the bound, the made-up parameters are
// ignored as before (the control: a token is issued).
func TestTooManyParametersAreRefusedUnparsed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		var under []string
		for i := range web.MaxParams - 2 {
			under = append(under, fmt.Sprintf("p%d", i), "x")
		}
		f.issue(t, f.ep, c.ID, secret, under...)

		form := padded(ccForm(), web.MaxParams)
		res := f.refuse(t, f.ep, withBasic(formRequest(form), c.ID, secret), http.StatusBadRequest, oauth.InvalidRequest)
		if !strings.Contains(res.str("error_description"), "parameters") {
			t.Errorf("form: %s", res.Raw)
		}
		members := map[string]any{"grant_type": "client_credentials"}
		for i := range web.MaxParams {
			members[fmt.Sprintf("p%d", i)] = "x"
		}
		f.refuse(t, f.ep, withBasic(jsonRequest(members), c.ID, secret), http.StatusBadRequest, oauth.InvalidRequest)

		_, b, params := oobFixture(t, driver)
		page(t, b.get(padded(params, web.MaxParams)), http.StatusBadRequest, "too many parameters")
		page(t, b.post(padded(params, web.MaxParams)), http.StatusBadRequest, "could not be read")
	})
}
