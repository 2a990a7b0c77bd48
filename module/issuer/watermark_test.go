package issuer

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// aheadWatermark stores, as a revoking node whose clock runs ahead would, a
// watermark ending the tokens of client and group issued up to ten seconds
// from now, and has the fixture's node read it from the change feed. It
// returns the watermark's second.
func (f *fixture) aheadWatermark(t *testing.T, client, group string) int64 {
	t.Helper()
	ctx := context.Background()
	upTo := time.Now().Add(10 * time.Second).Unix()
	s := f.app.Store()
	if err := s.DB.Create(&store.RevocationWatermark{ClientID: client, Subject: group, IssuedUpTo: upTo,
		ExpiresAt: time.Now().Add(time.Hour).UTC()}).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.Notify(ctx, store.Change{Kind: store.ChangeWatermark, ClientID: client, UserID: group}); err != nil {
		t.Fatal(err)
	}
	if err := f.app.Runtime().Poll(ctx); err != nil {
		t.Fatal(err)
	}
	return upTo
}

// A token minted after its group's watermark reached this node is never
// born ended, though the watermark lies in this node's future (a revoking
// node whose clock runs ahead, or a burst of revocations in this very
// second): it is dated a second past the watermark, and its lifetime still
// runs from now. Checked for a client's own token (client_credentials) and
// for a user's sign-in (authorization code), whose refresh token dates the
// access token's revocation: revoking that grant still ends the access
// token, though the watermark is past this node's clock. The control: a
// token of the group minted before the watermark is refused.
func TestTokensMintedAfterAWatermarkLive(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}})
		earlier, _ := f.issue(t, f.ep, c.ID, secret)

		upTo := f.aheadWatermark(t, c.ID, c.ID)
		if _, err := f.app.Verify(ctx, earlier.str("access_token")); !errors.Is(err, app.ErrRevoked) {
			t.Fatalf("a token minted before the watermark: Verify = %v, want ErrRevoked", err)
		}
		res, later := f.issue(t, f.ep, c.ID, secret) // fails the test unless it verifies
		if got := later.IssuedAt.Unix(); got != upTo+1 {
			t.Errorf("iat %d, want %d (a second past the watermark)", got, upTo+1)
		}
		if life := time.Until(later.ExpiresAt.Time); life > time.Hour || life < time.Hour-time.Minute || res.Body["expires_in"] != float64(3600) {
			t.Errorf("the token lasts %v from now, expires_in %v: want the hour it is given", life, res.Body["expires_in"])
		}

		ada := f.authUser(store.DefaultTenantID, "ada")
		uc, usecret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		_, b := f.authorize(t)
		upTo = f.aheadWatermark(t, uc.ID, ada.ID)
		granted := serve(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"authorization_code"}, "code": {codeFor(t, b, uc, "")}}), uc.ID, usecret))
		if granted.Status != 200 {
			t.Fatalf("code redemption: %s", granted.Raw)
		}
		access := f.verify(t, granted.str("access_token"))
		if got := access.IssuedAt.Unix(); got != upTo+1 {
			t.Errorf("signed-in token: iat %d, want %d", got, upTo+1)
		}
		rec := httptest.NewRecorder()
		rv := &Revocation{app: f.app, logger: f.log}
		if err := rv.ServeHTTP(rec, withBasic(formRequest(url.Values{"token": {granted.str("refresh_token")}}), uc.ID, usecret), nil); err != nil || rec.Code != 200 {
			t.Fatalf("revoking the grant: %d %v", rec.Code, err)
		}
		eventuallyRevoked(t, f, "the access token of a grant revoked past a watermark", granted.str("access_token"))
	})
}
