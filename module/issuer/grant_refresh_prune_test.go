package issuer

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A grant refreshed in a loop keeps a few rows, not one per rotation for 30
// days (21,643 refreshes had left as many rows): past twice
// store.UsedRefreshTokensKept retired tokens, the older ones are pruned and
// the access tokens issued with them revoked. A pruned token is still
// known by the family its value names: presented again it revokes the
// grant (invalid_grant, the current refresh token refused), at the token
// endpoint as at the revocation endpoint, and only for the grant's own
// client (another client changes nothing).
func TestRefreshLoopKeepsFewRowsAndPrunedTokensStillRevoke(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret, b := f.codeGrantApp(t)
		other, otherSecret := f.client(store.Client{AuthMethod: store.AuthUser, AllowedScopes: store.Strings{"demo.read"}, RedirectURIs: store.Strings{appRedirect}})
		refresh := func(clientID, clientSecret, tok string) result { return f.refreshAs(t, clientID, clientSecret, tok) }
		// grant redeems a code and refreshes it n times; it returns every
		// answer, the code's first.
		grant := func(n int) []result {
			out := []result{f.redeemCode(t, b, c, secret)}
			for range n {
				next := refresh(c.ID, secret, out[len(out)-1].str("refresh_token"))
				if next.Status != 200 {
					t.Fatalf("refresh %d: %s", len(out), next.Raw)
				}
				out = append(out, next)
			}
			return out
		}
		rotations := 3 * store.UsedRefreshTokensKept
		answers := grant(rotations)
		first, current := answers[0], answers[len(answers)-1]
		family := store.RefreshFamilyOf(first.str("refresh_token"))
		if family == "" || store.RefreshFamilyOf(current.str("refresh_token")) != family {
			t.Fatalf("refresh tokens %q and %q do not name their family", first.str("refresh_token"), current.str("refresh_token"))
		}
		var rows int64
		if err := f.app.Store().DB.Model(&store.RefreshToken{}).Where("family_id = ?", family).Count(&rows).Error; err != nil {
			t.Fatal(err)
		}
		if rows > 2*store.UsedRefreshTokensKept+1 {
			t.Fatalf("%d rotations left %d rows, want at most %d", rotations, rows, 2*store.UsedRefreshTokensKept+1)
		}
		if _, err := f.app.Store().GetRefreshToken(context.Background(), store.Digest(first.str("refresh_token"))); err == nil {
			t.Fatal("the grant's first refresh token was not pruned")
		}
		eventuallyRevoked(t, f, "the access token issued with a pruned refresh token", first.str("access_token"))
		f.verify(t, current.str("access_token"))

		// Another client presenting the pruned token changes nothing.
		f.refuse(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}}), other.ID, otherSecret),
			http.StatusBadRequest, oauth.InvalidGrant)
		f.verify(t, current.str("access_token"))

		reused := f.refuse(t, f.ep, withBasic(formRequest(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first.str("refresh_token")}}), c.ID, secret),
			http.StatusBadRequest, oauth.InvalidGrant)
		if !strings.Contains(reused.str("error_description"), "already used") {
			t.Fatalf("a pruned token presented again: %s, want the reuse refusal", reused.Raw)
		}
		if r := refresh(c.ID, secret, current.str("refresh_token")); r.str("error") != oauth.InvalidGrant {
			t.Fatalf("the grant's current refresh token after a pruned one came back: %s", r.Raw)
		}
		eventuallyRevoked(t, f, "the grant's current access token", current.str("access_token"))

		// At the revocation endpoint: a pruned token takes its grant along.
		answers = grant(3 * store.UsedRefreshTokensKept)
		rec := httptest.NewRecorder()
		rv := &Revocation{app: f.app, logger: f.log}
		if err := rv.ServeHTTP(rec, withBasic(formRequest(url.Values{"token": {answers[0].str("refresh_token")}}), c.ID, secret), nil); err != nil || rec.Code != 200 {
			t.Fatalf("revocation: %d %v", rec.Code, err)
		}
		if r := refresh(c.ID, secret, answers[len(answers)-1].str("refresh_token")); r.str("error") != oauth.InvalidGrant {
			t.Fatalf("the current refresh token after its grant's pruned token was revoked: %s", r.Raw)
		}
	})
}

// A grant made before refresh tokens named their family goes on as it
// was: its successors name none (they could not name a family whose id is
// no handle's digest), its retired tokens keep their rows (pruning them
// would lose what recognises them), and the first of them presented again
// after many rotations still revokes the grant.
func TestRefreshOfAnUnnamedFamilyIsNotPruned(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		f := newFixture(t, driver)
		c, secret, _ := f.codeGrantApp(t)
		ada, err := f.app.Store().FindUser(context.Background(), store.DefaultTenantID, "ada")
		if err != nil {
			t.Fatal(err)
		}
		legacy, family := "legacyRefreshTokenValueWithoutAnyFamilyInIt", "legacyFamilyId00000000"
		if err := f.app.Store().SaveRefreshToken(context.Background(), &store.RefreshToken{Digest: store.Digest(legacy), FamilyID: family,
			ClientID: c.ID, UserID: ada.ID, Scopes: store.Strings{"demo.read"}, ExpiresAt: time.Now().Add(time.Hour)}, ""); err != nil {
			t.Fatal(err)
		}
		tok := legacy
		for i := range 3 * store.UsedRefreshTokensKept {
			r := f.refreshAs(t, c.ID, secret, tok)
			if r.Status != http.StatusOK {
				t.Fatalf("refresh %d: %s", i, r.Raw)
			}
			if tok = r.str("refresh_token"); store.RefreshHandleOf(tok) != "" {
				t.Fatalf("a successor in an unnamed family names one: %q", tok)
			}
		}
		var rows int64
		f.app.Store().DB.Model(&store.RefreshToken{}).Where("family_id = ?", family).Count(&rows)
		if rows != 3*store.UsedRefreshTokensKept+1 {
			t.Fatalf("%d rows, want every one of %d kept", rows, 3*store.UsedRefreshTokensKept+1)
		}
		if r := f.refreshAs(t, c.ID, secret, legacy); !strings.Contains(r.str("error_description"), "already used") {
			t.Fatalf("the family's first token again: %s, want the reuse refusal", r.Raw)
		}
	})
}
