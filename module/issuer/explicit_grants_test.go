package issuer

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A token endpoint whose config lists refresh_token explicitly, on a node
// whose config mounts no authorize endpoint (the sign-in pages served by
// other nodes sharing the database), serves the grant: only the default
// list leaves out what this config cannot have issued (a review).
func TestExplicitRefreshGrantWithoutAuthorize(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		ep := f.endpoint(&TokenEndpoint{GrantTypes: []string{"client_credentials", "authorization_code", "refresh_token"}})
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		req := withBasic(formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}), c.ID, secret)
		if res := serve(t, ep, req); res.Status != http.StatusBadRequest || res.str("error") != oauth.InvalidGrant {
			t.Errorf("explicitly enabled refresh_token: %d %s, want invalid_grant (the grant reached)", res.Status, res.Raw)
		}
	})
}
