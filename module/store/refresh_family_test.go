package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Pruning a family's retired tokens runs beside everything else that locks
// them without a deadlock or a lost row: two prunes of each of a user's
// two grants, the first grant's revocation (RFC 7009) and a pruned token
// of it presented again, all at once, each succeed (or find the grant
// already gone), and leave the first grant gone and the other within the
// bound; then prunes of a third grant beside the user's consent revoked
// (which locks every grant of the user) leave none.
func TestPruningBesideRevocations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		createTenants(t, s, store.DefaultTenantID)
		createClients(t, s, store.AuthUser, "c1")
		exp := time.Now().Add(time.Hour)
		base := time.Now().Add(-time.Minute).Truncate(time.Second)
		// family saves n retired tokens and a current one of family fam;
		// it returns the first token's value.
		family := func(fam string, n int) string {
			var first string
			for i := range n + 1 {
				raw := store.NewRefreshToken(fam)
				if i == 0 {
					first = raw
				}
				rt := &store.RefreshToken{Digest: store.Digest(raw), FamilyID: fam, ClientID: "c1", UserID: "u1",
					Scopes: store.Strings{"demo.read"}, ExpiresAt: exp, CreatedAt: base.Add(time.Duration(i) * time.Second),
					AccessJTI: fmt.Sprintf("%s-a%d", fam, i), AccessExpiresAt: &exp}
				if err := s.SaveRefreshToken(ctx, rt, ""); err != nil {
					t.Fatal(err)
				}
				if i < n {
					if _, err := s.UseRefreshTokenValue(ctx, raw, time.Now(), nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			return first
		}
		const pruned, kept, third = "fffffffffffffffffffff1", "kkkkkkkkkkkkkkkkkkkkk2", "ttttttttttttttttttttt3"
		first := family(pruned, 3*store.UsedRefreshTokensKept)
		family(kept, 3*store.UsedRefreshTokensKept)
		family(third, 3*store.UsedRefreshTokensKept)
		if err := s.PruneRefreshFamily(ctx, pruned); err != nil {
			t.Fatal(err)
		}

		var wg sync.WaitGroup
		errs := make(chan error, 16)
		run := func(what string, fn func() error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(); err != nil {
					errs <- fmt.Errorf("%s: %w", what, err)
				}
			}()
		}
		for range 2 {
			run("prune", func() error { return s.PruneRefreshFamily(ctx, pruned) })
			run("prune the other grant", func() error { return s.PruneRefreshFamily(ctx, kept) })
		}
		run("revoke the grant", func() error { return s.RevokeRefreshFamily(ctx, pruned) })
		run("reuse a pruned token", func() error {
			_, err := s.UseRefreshTokenValue(ctx, first, time.Now(), nil)
			if errors.Is(err, store.ErrReused) || errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if _, err := s.UseRefreshTokenValue(ctx, first, time.Now(), nil); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the revoked grant's first token: %v, want not found (the grant is gone)", err)
		}
		var left, other int64
		s.DB.Model(&store.RefreshToken{}).Where("family_id = ?", pruned).Count(&left)
		s.DB.Model(&store.RefreshToken{}).Where("family_id = ?", kept).Count(&other)
		if left != 0 || other != store.UsedRefreshTokensKept+1 {
			t.Fatalf("rows left: %d of the revoked grant, want 0; %d of the other, want %d", left, other, store.UsedRefreshTokensKept+1)
		}
		errs = make(chan error, 4)
		for range 2 {
			run("prune the third grant", func() error { return s.PruneRefreshFamily(ctx, third) })
		}
		run("revoke the consent", func() error { return s.RevokeConsent(ctx, "u1", "c1", admin) })
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		s.DB.Model(&store.RefreshToken{}).Where("family_id IN ?", []string{kept, third}).Count(&other)
		if other != 0 {
			t.Fatalf("%d rows of the user's grants after its consent was revoked, want 0", other)
		}
	})
}
