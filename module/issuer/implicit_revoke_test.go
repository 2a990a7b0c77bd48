package issuer

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// An implicit-grant token (Imagen's response_type=token, no refresh token)
// ends with its grant, as the code flow's access tokens do: revoking the
// user's consent for the client refuses that client's token and leaves the
// user's token of another client working; a password reset refuses every
// implicit token of the user; a token handed out after either works. The
// record of each token is gone once it is revoked.
func TestImplicitTokensEndWithTheirGrant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		u := f.authUser(store.DefaultTenantID, "ada")
		c, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{OOB}})
		d, _ := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{OOB}})
		// A fresh browser signs in each time; a consent page, when shown,
		// is approved.
		implicitToken := func(clientID string) string {
			t.Helper()
			_, b := f.authorize(t)
			params := implicitParams(clientID, OOB, "demo.read")
			rec := b.login(params, "ada", testPassword)
			if !strings.Contains(rec.Body.String(), `id="token"`) {
				rec = b.decide(params, rec, "approve")
			}
			tok := between(page(t, rec, http.StatusOK, `id="token"`), `id="token" readonly value="`, `"`)
			f.verify(t, tok)
			return tok
		}
		refused := func(what, tok string) {
			t.Helper()
			if _, err := f.app.Verify(context.Background(), tok); !errors.Is(err, app.ErrRevoked) {
				t.Errorf("%s: Verify = %v, want ErrRevoked", what, err)
			}
		}
		fromC, fromD := implicitToken(c.ID), implicitToken(d.ID)
		if n := countImplicit(t, f, u.ID); n != 2 {
			t.Fatalf("%d implicit tokens recorded, want 2", n)
		}

		if err := f.app.Store().RevokeConsent(context.Background(), u.ID, c.ID, tester); err != nil {
			t.Fatal(err)
		}
		refused("the consented client's token after its consent was revoked", fromC)
		f.verify(t, fromD) // another client's grant is untouched

		again := implicitToken(c.ID)
		if err := f.app.Store().SetUserPassword(context.Background(), u.ID, u.TenantID, "$2a$04$reset", tester); err != nil {
			t.Fatal(err)
		}
		refused("a token of the user after a password reset", again)
		refused("another client's token of the user after a password reset", fromD)
		if n := countImplicit(t, f, u.ID); n != 0 {
			t.Errorf("%d implicit token records left after the reset, want 0", n)
		}
	})
}

func countImplicit(t *testing.T, f *fixture, userID string) int64 {
	t.Helper()
	var n int64
	if err := f.app.Store().DB.Model(&store.ImplicitToken{}).Where("user_id = ?", userID).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}
