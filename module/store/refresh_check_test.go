package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A presenter UseRefreshToken's check refuses gets its error and changes
// nothing: an unused token is not spent, and a used one is not taken as
// reused (its family is not revoked); an expired token is ErrNotFound
// before the check runs.
func TestUseRefreshTokenCheckFirst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		now := time.Now()
		exp := now.Add(time.Hour)
		for _, rt := range []*store.RefreshToken{
			{Digest: store.Digest("r1"), FamilyID: "fam", ClientID: "c1", UserID: "u1", ExpiresAt: exp, AccessJTI: "jti-1", AccessExpiresAt: &exp},
			{Digest: store.Digest("old"), FamilyID: "fam-old", ClientID: "c1", UserID: "u1", ExpiresAt: now.Add(-time.Second)},
		} {
			if err := s.SaveRefreshToken(ctx, rt, ""); err != nil {
				t.Fatal(err)
			}
		}
		errOther := errors.New("issued to another client")
		checks := 0
		other := func(rt *store.RefreshToken) error {
			checks++
			if rt.ClientID != "c1" || rt.FamilyID != "fam" {
				t.Errorf("check saw %+v", rt)
			}
			return errOther
		}
		if _, err := s.UseRefreshToken(ctx, store.Digest("r1"), now, other); !errors.Is(err, errOther) {
			t.Fatalf("refused presenter: %v", err)
		}
		if _, err := s.UseRefreshToken(ctx, store.Digest("old"), now, other); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired token: %v", err)
		}
		got, err := s.UseRefreshToken(ctx, store.Digest("r1"), now, nil)
		if err != nil || got.UsedAt == nil {
			t.Fatalf("the rightful use after a refusal: %+v, %v", got, err)
		}
		if err := s.SaveRefreshToken(ctx, &store.RefreshToken{Digest: store.Digest("r2"), FamilyID: "fam", ClientID: "c1",
			UserID: "u1", ExpiresAt: exp}, store.Digest("r1")); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UseRefreshToken(ctx, store.Digest("r1"), now, other); !errors.Is(err, errOther) {
			t.Fatalf("refused presenter of a used token: %v", err)
		}
		if revoked, err := s.IsRevoked(ctx, "jti-1"); err != nil || revoked {
			t.Fatalf("a refused presenter revoked the grant: %v %v", revoked, err)
		}
		if _, err := s.GetRefreshToken(ctx, store.Digest("r2")); err != nil {
			t.Fatalf("a refused presenter deleted the grant's current refresh token: %v", err)
		}
		if checks != 2 {
			t.Fatalf("check ran %d times, want 2", checks)
		}
	})
}
