package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// grants gives user u a live grant of client c: a redeemed code that
// started family fam and a refresh token of it issued with access token
// jti. It also leaves an unredeemed code and a redeemed code whose refresh
// token is not saved yet (a redemption in flight), and returns its digests.
func grants(t *testing.T, s *store.Store, u, c, fam, jti string) (refresh, inflight string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	for _, code := range []string{fam + "-code", fam + "-pending", fam + "-inflight"} {
		if err := s.SaveAuthCode(ctx, &store.AuthCode{Digest: store.Digest(code), ClientID: c, UserID: u, TenantID: "t",
			Scopes: store.Strings{"a"}, ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, code := range []string{fam + "-code", fam + "-inflight"} {
		if _, _, err := s.RedeemAuthCode(ctx, store.Digest(code), now, redemption(code)); err != nil {
			t.Fatal(err)
		}
	}
	exp := now.Add(time.Hour)
	refresh = store.Digest(fam + "-refresh")
	if err := s.SaveRefreshToken(ctx, &store.RefreshToken{Digest: refresh, FamilyID: fam + "-code", ClientID: c, UserID: u,
		Scopes: store.Strings{"a"}, ExpiresAt: exp, AccessJTI: jti, AccessExpiresAt: &exp}, ""); err != nil {
		t.Fatal(err)
	}
	return refresh, fam + "-inflight"
}

// checkEnded fails unless the user's grant from grants is over: the refresh
// token is gone, its access token is revoked (with a change-feed entry so
// every node drops it), the unredeemed code no longer redeems, and a
// refresh token the in-flight redemption saves now is refused.
func checkEnded(t *testing.T, s *store.Store, what, refresh, inflight, fam, jti, c, u string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.UseRefreshToken(ctx, refresh, time.Now(), nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: the refresh token still works: %v", what, err)
	}
	if is, err := s.IsRevoked(ctx, jti); err != nil || !is {
		t.Errorf("%s: access token revoked = %v, %v", what, is, err)
	}
	changes, err := s.Feed().Since(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	fed := false
	for _, ch := range changes {
		fed = fed || (ch.Kind == store.ChangeRevoke && ch.JTI == jti)
	}
	if !fed {
		t.Errorf("%s: no change-feed entry revokes %s", what, jti)
	}
	if _, _, err := s.RedeemAuthCode(ctx, store.Digest(fam+"-pending"), time.Now(), redemption("late")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("%s: an unredeemed code still redeems: %v", what, err)
	}
	exp := time.Now().Add(time.Hour)
	late := &store.RefreshToken{Digest: store.Digest(fam + "-late"), FamilyID: inflight, ClientID: c, UserID: u,
		ExpiresAt: exp, AccessJTI: jti + "-late", AccessExpiresAt: &exp}
	if err := s.SaveRefreshToken(ctx, late, ""); !errors.Is(err, store.ErrReused) {
		t.Errorf("%s: a redemption in flight still got a refresh token: %v", what, err)
	}
}

// Hole 16: a password reset, disabling the user and revoking a consent end
// what the code flow gave the user (checkEnded); a reset or disable ends
// every client's grants of that user, a consent revocation that client's
// only, and other users keep theirs.
func TestUserGrantsEnd(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s)
		user := func(name string) *store.User {
			u := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: name}
			if err := s.CreateUser(ctx, u, admin); err != nil {
				t.Fatal(err)
			}
			return u
		}
		ada, bob := user("ada"), user("bob")
		bobRefresh, _ := grants(t, s, bob.ID, "c1", "bob", "jti-bob")

		refresh, inflight := grants(t, s, ada.ID, "c1", "reset", "jti-reset")
		other, _ := grants(t, s, ada.ID, "c2", "reset2", "jti-reset2")
		if err := s.SetUserPassword(ctx, ada.ID, store.DefaultTenantID, "$2a$new", admin); err != nil {
			t.Fatal(err)
		}
		checkEnded(t, s, "password reset", refresh, inflight, "reset", "jti-reset", "c1", ada.ID)
		if _, err := s.GetRefreshToken(ctx, other); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a reset left another client's refresh token: %v", err)
		}

		refresh, inflight = grants(t, s, ada.ID, "c1", "disable", "jti-disable")
		ada.Disabled = true
		if err := s.UpdateUserProfile(ctx, ada, store.DefaultTenantID, admin, "user.disable"); err != nil {
			t.Fatal(err)
		}
		ada.Disabled = false
		if err := s.UpdateUserProfile(ctx, ada, store.DefaultTenantID, admin, "user.restore"); err != nil {
			t.Fatal(err)
		}
		checkEnded(t, s, "disable and enable again", refresh, inflight, "disable", "jti-disable", "c1", ada.ID)

		refresh, inflight = grants(t, s, ada.ID, "c1", "consent", "jti-consent")
		kept, _ := grants(t, s, ada.ID, "c2", "consent2", "jti-consent2")
		if err := s.RevokeConsent(ctx, ada.ID, "c1", admin); err != nil {
			t.Fatal(err)
		}
		checkEnded(t, s, "consent revoked", refresh, inflight, "consent", "jti-consent", "c1", ada.ID)
		if _, err := s.GetRefreshToken(ctx, kept); err != nil {
			t.Errorf("revoking c1's consent ended c2's grant: %v", err)
		}
		if is, _ := s.IsRevoked(ctx, "jti-consent2"); is {
			t.Error("revoking c1's consent revoked c2's access token")
		}

		if _, err := s.GetRefreshToken(ctx, bobRefresh); err != nil {
			t.Errorf("another user's grant ended: %v", err)
		}
		if is, _ := s.IsRevoked(ctx, "jti-bob"); is {
			t.Error("another user's access token was revoked")
		}
	})
}
