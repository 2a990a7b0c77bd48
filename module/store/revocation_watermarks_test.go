package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Revocations of one group made at once, well past the bound, all succeed
// (no deadlock, no duplicate watermark), leave a watermark below the newest
// revoked token, and keep the group's rows within the bound (they take
// turns, so none misses another's row); a revocation of the same client's
// tokens for another subject keeps its row.
func TestConcurrentRevocationsPastTheBound(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		s.SetRevocationsKept(3)
		base := time.Now().Add(-time.Hour).Truncate(time.Second)
		revoke := func(jti, subject string, iat time.Time) error { return revokeOfC1(s, jti, subject, iat) }
		if err := revoke("elsewhere", "u2", base); err != nil {
			t.Fatal(err)
		}
		const workers, each = 6, 8
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					n := w*each + i
					errs <- revoke(fmt.Sprintf("t%02d", n), "u1", base.Add(time.Duration(n)*time.Second))
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("a concurrent revocation failed: %v", err)
			}
		}
		newest := base.Unix() + workers*each - 1
		w, err := s.Watermark(ctx, "c1", "u1")
		if err != nil || w.IssuedUpTo <= base.Unix() || w.IssuedUpTo >= newest {
			t.Fatalf("watermark %+v (%v), want one between %d and %d", w, err, base.Unix(), newest)
		}
		if n, err := s.RevocationCount(ctx, "c1", "u1"); err != nil || n > 3 {
			t.Fatalf("%d rows kept (%v) of %d revocations, want at most 3 (the group's revocations take turns)", n, err, workers*each)
		}
		if n, err := s.RevocationCount(ctx, "c1", "u2"); err != nil || n != 1 {
			t.Errorf("another subject's revocation: %d rows (%v), want 1", n, err)
		}
	})
}

// A watermark never passes a second before the revoking node's clock, even
// when the revoked tokens come from a node whose clock runs an hour ahead
// (their group's tokens minted after now must not be ended in advance);
// and tokens of the newest second, kept as rows while they are few, are
// replaced too once they alone pass the bound.
func TestWatermarkBounds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		s.SetRevocationsKept(3)
		revoke := func(jti, subject string, iat time.Time) {
			t.Helper()
			if err := revokeOfC1(s, jti, subject, iat); err != nil {
				t.Fatal(err)
			}
		}
		ahead := time.Now().Add(time.Hour)
		before := time.Now().Unix()
		for i := range 5 {
			revoke(fmt.Sprintf("ahead%d", i), "skewed", ahead.Add(time.Duration(i)*time.Second))
		}
		w, err := s.Watermark(ctx, "c1", "skewed")
		if err != nil || w.IssuedUpTo > time.Now().Unix() || w.IssuedUpTo < before-1 {
			t.Fatalf("tokens from a clock an hour ahead: watermark %+v (%v), want one at most a second before now (%d)", w, err, before)
		}

		second := time.Now().Add(-time.Minute).Truncate(time.Second)
		for i := range 5 {
			revoke(fmt.Sprintf("burst%d", i), "burst", second)
		}
		w, err = s.Watermark(ctx, "c1", "burst")
		if err != nil || w.IssuedUpTo != second.Unix() {
			t.Fatalf("five revocations of one second past a bound of 3: watermark %+v (%v), want that second (%d)", w, err, second.Unix())
		}
		if n, err := s.RevocationCount(ctx, "c1", "burst"); err != nil || n > 3 {
			t.Fatalf("%d rows kept (%v), want at most 3", n, err)
		}
	})
}

// Access tokens revoked with their refresh family join the group of the
// user whose sign-in granted them, dated by their refresh token's creation
// (at or after the access token's iat): a user who refreshes again and
// again and then revokes the grant passes the bound like one revoking each
// token, and keeps a watermark instead of a row per token.
func TestFamilyRevocationsAreGrouped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		s.SetRevocationsKept(2)
		createTenants(t, s, store.DefaultTenantID)
		createClients(t, s, store.AuthUser, "c1")
		base := time.Now().Add(-time.Minute).Truncate(time.Second)
		exp := time.Now().Add(time.Hour)
		for i := range 4 {
			rt := &store.RefreshToken{Digest: store.Digest(fmt.Sprint("r", i)), FamilyID: "fam", ClientID: "c1", UserID: "u1",
				Scopes: store.Strings{"demo.read"}, ExpiresAt: exp, CreatedAt: base.Add(time.Duration(i) * time.Second),
				AccessJTI: fmt.Sprint("a", i), AccessExpiresAt: &exp}
			if err := s.SaveRefreshToken(ctx, rt, ""); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.RevokeRefreshFamily(ctx, "fam"); err != nil {
			t.Fatal(err)
		}
		w, err := s.Watermark(ctx, "c1", "u1")
		if err != nil || w.IssuedUpTo < base.Unix() {
			t.Fatalf("after revoking a family of 4 past a bound of 2: watermark %+v (%v), want one ending tokens from %d", w, err, base.Unix())
		}
		if n, err := s.RevocationCount(ctx, "c1", "u1"); err != nil || n > 2 {
			t.Fatalf("%d rows kept (%v), want at most 2", n, err)
		}
	})
}

// revokeOfC1 revokes token jti of client c1, of subject's group and issued
// at iat, valid for two more hours.
func revokeOfC1(s *store.Store, jti, subject string, iat time.Time) error {
	return s.RevokeToken(context.Background(), store.RevokedToken{JTI: jti, ClientID: "c1", Subject: subject,
		IssuedAt: iat, Until: time.Now().Add(2 * time.Hour)})
}

// A token revoked again adds nothing: no row and no change-feed entry (a
// client revoking one token in a loop wrote an entry, and on PostgreSQL a
// notification to every node, each time), grouped or not.
func TestRevokingAgainWritesNoChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		count := func() int64 {
			t.Helper()
			var n int64
			if err := s.DB.Model(&store.Change{}).Where("kind = ?", store.ChangeRevoke).Count(&n).Error; err != nil {
				t.Fatal(err)
			}
			return n
		}
		ungrouped := store.RevokedToken{JTI: "plain", ClientID: "c1", Until: time.Now().Add(time.Hour)}
		for i := range 3 {
			if err := revokeOfC1(s, "grouped", "u1", time.Now()); err != nil {
				t.Fatal(err)
			}
			if err := s.RevokeToken(ctx, ungrouped); err != nil {
				t.Fatal(err)
			}
			if n := count(); n != 2 {
				t.Fatalf("after revoking two tokens %d times: %d revoke entries, want 2", i+1, n)
			}
		}
	})
}
