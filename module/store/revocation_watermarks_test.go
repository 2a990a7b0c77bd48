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
// revoked token, and keep the group's rows within the bound (plus those
// racing the last move, which a transaction cannot see); a revocation of
// the same client's tokens for another subject keeps its row.
func TestConcurrentRevocationsPastTheBound(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		s.SetRevocationsKept(3)
		base := time.Now().Add(-time.Hour).Truncate(time.Second)
		revoke := func(jti, subject string, iat time.Time) error {
			return s.RevokeToken(ctx, store.RevokedToken{JTI: jti, ClientID: "c1", Subject: subject, IssuedAt: iat,
				Until: time.Now().Add(2 * time.Hour), Longest: 24 * time.Hour})
		}
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
		if n, err := s.RevocationCount(ctx, "c1", "u1"); err != nil || n > 3+workers {
			t.Fatalf("%d rows kept (%v) of %d revocations, want at most %d", n, err, workers*each, 3+workers)
		}
		if n, err := s.RevocationCount(ctx, "c1", "u2"); err != nil || n != 1 {
			t.Errorf("another subject's revocation: %d rows (%v), want 1", n, err)
		}
	})
}
