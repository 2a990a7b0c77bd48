package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A presenter Redemption.Check refuses gets its error and changes nothing:
// an unused code is not spent, and a used one is not taken as reused (its
// family is not revoked); an expired unused code is ErrNotFound before the
// check runs.
func TestRedeemAuthCodeCheckFirst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		now := time.Now()
		for _, c := range []*store.AuthCode{
			{Digest: store.Digest("code"), ClientID: "c1", UserID: "u1", TenantID: "t", Scopes: store.Strings{"a"}, ExpiresAt: now.Add(time.Minute)},
			{Digest: store.Digest("old"), ClientID: "c1", UserID: "u1", TenantID: "t", Scopes: store.Strings{"a"}, ExpiresAt: now.Add(-time.Second)},
		} {
			if err := s.SaveAuthCode(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		errOther := errors.New("issued to another client")
		checks := 0
		other := redemption("fam-x")
		other.Check = func(c *store.AuthCode) error {
			checks++
			if c.ClientID != "c1" {
				t.Errorf("Check saw %+v", c)
			}
			return errOther
		}
		if _, _, err := s.RedeemAuthCode(ctx, store.Digest("code"), now, other); !errors.Is(err, errOther) {
			t.Fatalf("refused presenter: %v", err)
		}
		if _, _, err := s.RedeemAuthCode(ctx, store.Digest("old"), now, other); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired code: %v", err)
		}
		got, _, err := s.RedeemAuthCode(ctx, store.Digest("code"), now, redemption("fam"))
		if err != nil || got.FamilyID != "fam" {
			t.Fatalf("the rightful redemption after a refusal: %+v, %v", got, err)
		}
		exp := now.Add(time.Hour)
		if err := s.SaveRefreshToken(ctx, &store.RefreshToken{Digest: store.Digest("r1"), FamilyID: "fam", ClientID: "c1",
			UserID: "u1", ExpiresAt: exp, AccessJTI: "jti-1", AccessExpiresAt: &exp}, ""); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.RedeemAuthCode(ctx, store.Digest("code"), now, other); !errors.Is(err, errOther) {
			t.Fatalf("refused presenter of a used code: %v", err)
		}
		if revoked, err := s.IsRevoked(ctx, "jti-1"); err != nil || revoked {
			t.Fatalf("a refused presenter revoked the grant: %v %v", revoked, err)
		}
		if _, err := s.GetRefreshToken(ctx, store.Digest("r1")); err != nil {
			t.Fatalf("a refused presenter deleted the grant's refresh token: %v", err)
		}
		if checks != 2 {
			t.Fatalf("Check ran %d times, want 2", checks)
		}
	})
}
