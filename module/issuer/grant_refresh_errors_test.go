package issuer

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A refused refresh leaves the refresh token usable (RFC 6749 §6): asking
// for a scope the grant does not hold, a scope the client no longer holds,
// and a daily allowance used up (found only once the token was spent) are
// each answered with their error, and the very same refresh token then
// rotates once the request or the client is put right; it is not taken as
// reused, and the grant's access token still verifies.
func TestRefusedRefreshKeepsTheToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		ctx := context.Background()
		f.authUser(store.DefaultTenantID, "ada")
		c, secret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read", "demo.write"},
			RedirectURIs: store.Strings{appRedirect}, TokenLifetimeMinutes: 60})
		_, b := f.authorize(t)
		first := serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {codeFor(t, b, c, "")}}), c.ID, secret))
		if first.Status != http.StatusOK {
			t.Fatalf("redeem: %s", first.Raw)
		}
		rt := first.str("refresh_token")
		refresh := func(extra ...string) result {
			t.Helper()
			v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			for i := 0; i+1 < len(extra); i += 2 {
				v.Set(extra[i], extra[i+1])
			}
			return serve(t, f.ep, withBasic(formRequest(v), c.ID, secret))
		}
		save := func(change func(*store.Client)) {
			t.Helper()
			cl, err := f.app.Store().GetClient(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			change(cl)
			if err := f.app.Store().UpdateClient(ctx, cl, store.Actor{Principal: "test"}, "client.update"); err != nil {
				t.Fatal(err)
			}
		}
		rotates := func(what string) {
			t.Helper()
			res := refresh()
			if res.Status != http.StatusOK || res.str("refresh_token") == "" {
				t.Fatalf("%s: the same refresh token then: %d %s, want a rotation", what, res.Status, res.Raw)
			}
			f.verify(t, first.str("access_token"))
			rt = res.str("refresh_token")
		}

		// A wider scope than the grant's.
		res := refresh("scope", "demo.read demo.write")
		if res.Status != http.StatusBadRequest || res.str("error") != oauth.InvalidScope {
			t.Fatalf("wider scope: %d %s, want invalid_scope", res.Status, res.Raw)
		}
		rotates("after invalid_scope")

		// The client no longer holds the grant's scope: refused until an
		// admin gives it back.
		save(func(cl *store.Client) { cl.AllowedScopes = store.Strings{"user.only"} })
		if res := refresh(); res.str("error") != oauth.InvalidScope {
			t.Fatalf("a scope the client lost: %d %s, want invalid_scope", res.Status, res.Raw)
		}
		save(func(cl *store.Client) { cl.AllowedScopes = store.Strings{"demo.read", "demo.write"} })
		rotates("after the client got its scope back")

		// A daily allowance is known only once the token is spent.
		save(func(cl *store.Client) { cl.MaxMinutesPerDay = 60 })
		if res := refresh(); res.Status != http.StatusOK {
			t.Fatalf("first token of the day: %d %s", res.Status, res.Raw)
		} else {
			rt = res.str("refresh_token")
		}
		if res := refresh(); res.str("error") != oauth.InvalidGrant || res.Header.Get("Retry-After") == "" {
			t.Fatalf("allowance used up: %d %v %s, want invalid_grant with Retry-After", res.Status, res.Header, res.Raw)
		}
		save(func(cl *store.Client) { cl.MaxMinutesPerDay = 0 })
		rotates("after the allowance was lifted")
	})
}

// A refresh may narrow the grant (RFC 6749 §6), also to a scope the
// grant's imply (the user who approved demo.write approved demo.read with
// it, as the authorize endpoint reads an approval): the token has that
// scope alone, the grant keeps its own, so the next refresh naming none
// gets demo.write again; a scope neither granted nor implied is
// invalid_scope.
func TestRefreshNarrowsToAnImpliedScope(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		f.authUser(store.DefaultTenantID, "ada")
		c, secret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.write", "global"},
			RedirectURIs: store.Strings{appRedirect}})
		_, b := f.authorize(t)
		res := serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"},
			"code": {codeForScope(t, b, c, "", "demo.write")}}), c.ID, secret))
		if res.Status != http.StatusOK || res.str("scope") != "demo.write" {
			t.Fatalf("redeem: %d %s", res.Status, res.Raw)
		}
		rt := res.str("refresh_token")
		refresh := func(scope string) result {
			t.Helper()
			v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
			if scope != "" {
				v.Set("scope", scope)
			}
			r := serve(t, f.ep, withBasic(formRequest(v), c.ID, secret))
			if r.Status == http.StatusOK {
				rt = r.str("refresh_token")
			}
			return r
		}
		if r := refresh("demo.read"); r.Status != http.StatusOK || r.str("scope") != "demo.read" {
			t.Fatalf("narrowed to demo.read, implied by the grant's demo.write: %d %s", r.Status, r.Raw)
		}
		if r := refresh(""); r.Status != http.StatusOK || r.str("scope") != "demo.write" {
			t.Fatalf("after the narrowing, a refresh naming no scope: %d %s, want the grant's demo.write", r.Status, r.Raw)
		}
		if r := refresh("global"); r.Status != http.StatusBadRequest || r.str("error") != oauth.InvalidScope {
			t.Fatalf("a scope the grant neither holds nor implies: %d %s, want invalid_scope", r.Status, r.Raw)
		}
	})
}
