package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/secret"
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
		// family saves n retired tokens and a current one of a new named
		// family; it returns the family's id and its first token's value.
		family := func(n int) (string, string) {
			handle, fam := store.NewRefreshFamily()
			var first string
			for i := range n + 1 {
				raw := store.NewRefreshToken(handle, storetest.Sealer)
				if i == 0 {
					first = raw
				}
				rt := &store.RefreshToken{Digest: store.Digest(raw), FamilyID: fam, ClientID: "c1", UserID: "u1",
					Scopes: store.Strings{"demo.read"}, ExpiresAt: exp, CreatedAt: base.Add(time.Duration(i) * time.Second),
					AccessJTI: fmt.Sprintf("%s-a%d", fam[:8], i), AccessExpiresAt: &exp}
				if err := s.SaveRefreshToken(ctx, rt, ""); err != nil {
					t.Fatal(err)
				}
				if i < n {
					if _, err := s.UseRefreshTokenValue(ctx, raw, storetest.Sealer, time.Now(), nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			return fam, first
		}
		pruned, first := family(3 * store.UsedRefreshTokensKept)
		kept, _ := family(3 * store.UsedRefreshTokensKept)
		third, _ := family(3 * store.UsedRefreshTokensKept)
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
			_, err := s.UseRefreshTokenValue(ctx, first, storetest.Sealer, time.Now(), nil)
			if errors.Is(err, store.ErrReused) || errors.Is(err, store.ErrNotFound) {
				return nil // the reuse revoked the grant, or found it revoked
			}
			return fmt.Errorf("%v, want the reuse refused", err)
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if _, err := s.UseRefreshTokenValue(ctx, first, storetest.Sealer, time.Now(), nil); !errors.Is(err, store.ErrNotFound) {
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

// A named family far past the bound (rows the prune had not taken yet) is
// pruned a batch at a time: each prune succeeds however many rows there
// are (one statement deleting 70,000 digests by name failed on both
// databases: too many parameters), and a few bring it down to the newest
// retired tokens; a pruned token presented again still revokes the grant.
func TestPruningALargeFamily(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		createTenants(t, s, store.DefaultTenantID)
		createClients(t, s, store.AuthUser, "c1")
		handle, fam := store.NewRefreshFamily()
		base := time.Now().Add(-time.Hour).Truncate(time.Second)
		expired := base // their access tokens expired long ago: nothing to revoke
		rows := make([]store.RefreshToken, 0, 600)
		var first string
		for i := range 600 {
			raw := store.NewRefreshToken(handle, storetest.Sealer)
			if i == 0 {
				first = raw
			}
			used := base.Add(time.Duration(i) * time.Second)
			rows = append(rows, store.RefreshToken{Digest: store.Digest(raw), FamilyID: fam, ClientID: "c1", UserID: "u1",
				Scopes: store.Strings{"demo.read"}, ExpiresAt: time.Now().Add(time.Hour), CreatedAt: used, UsedAt: &used,
				AccessJTI: fmt.Sprint("a", i), AccessExpiresAt: &expired})
		}
		if err := s.DB.CreateInBatches(rows, 100).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.SaveRefreshToken(ctx, &store.RefreshToken{Digest: store.Digest(store.NewRefreshToken(handle, storetest.Sealer)), FamilyID: fam,
			ClientID: "c1", UserID: "u1", Scopes: store.Strings{"demo.read"}, ExpiresAt: time.Now().Add(time.Hour)}, ""); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := s.PruneRefreshFamily(ctx, fam); err != nil {
				t.Fatal(err)
			}
		}
		var left int64
		s.DB.Model(&store.RefreshToken{}).Where("family_id = ? AND used_at IS NOT NULL", fam).Count(&left)
		if left != store.UsedRefreshTokensKept {
			t.Fatalf("%d retired rows left after three prunes of 600, want %d", left, store.UsedRefreshTokensKept)
		}
		if _, err := s.UseRefreshTokenValue(ctx, first, storetest.Sealer, time.Now(), nil); !errors.Is(err, store.ErrReused) {
			t.Fatalf("a pruned token presented again: %v, want the reuse", err)
		}
	})
}

// A value no row holds counts as a pruned retired token of the family it
// names only when it carries the family's seal: a made-up value around a
// family's handle (a logged or cut-off token, another seal, another key's
// seal, a seal moved onto another random part) is unknown and leaves the
// grant alone, at refresh and revocation (protocol red team: any suffix to
// the handle revoked the family); a genuine pruned token still revokes it.
// A family an older release made (unsealed handle) keeps the old rule.
func TestMadeUpRefreshTokensDoNotEndTheGrant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		createTenants(t, s, store.DefaultTenantID)
		createClients(t, s, store.AuthUser, "c1")
		save := func(raw, fam string) {
			t.Helper()
			row := &store.RefreshToken{Digest: store.Digest(raw), FamilyID: fam, ClientID: "c1", UserID: "u1",
				Scopes: store.Strings{"demo.read"}, ExpiresAt: time.Now().Add(time.Hour)}
			if err := s.SaveRefreshToken(ctx, row, ""); err != nil {
				t.Fatal(err)
			}
		}
		handle, fam := store.NewRefreshFamily()
		live := store.NewRefreshToken(handle, storetest.Sealer)
		save(live, fam)
		pruned := store.NewRefreshToken(handle, storetest.Sealer) // genuine, no row: as after a prune
		other, err := secret.NewSealer(bytes.Repeat([]byte{7}, secret.KeySize))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(pruned, ".") != 1 {
			t.Fatalf("a sealed refresh token %q has %d dots, want one (two would read as a JWT)", pruned, strings.Count(pruned, "."))
		}
		seal := len(pruned) - 32
		for name, raw := range map[string]string{
			"a suffix":                 handle + ".x",
			"cut off":                  pruned[:len(pruned)-1],
			"one more character":       pruned + "a",
			"unsealed form":            handle + "." + secret.NewToken(32),
			"another key's seal":       store.NewRefreshToken(handle, other),
			"seal on another random":   handle + "." + secret.NewToken(24) + pruned[seal:],
			"the seal in capitals":     pruned[:seal] + strings.ToUpper(pruned[seal:]),
			"the live token's seal on": live[:seal] + pruned[seal:],
		} {
			if _, err := s.UseRefreshTokenValue(ctx, raw, storetest.Sealer, time.Now(), nil); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", name, err)
			}
			if _, err := s.LiveRefreshFamily(ctx, raw, storetest.Sealer); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s at revocation: %v, want ErrNotFound", name, err)
			}
		}
		if _, err := s.GetRefreshToken(ctx, store.Digest(live)); err != nil {
			t.Fatalf("the live token after made-up values: %v, want it kept", err)
		}
		if _, err := s.UseRefreshTokenValue(ctx, pruned, storetest.Sealer, time.Now(), nil); !errors.Is(err, store.ErrReused) {
			t.Fatalf("a genuine pruned token: %v, want the reuse", err)
		}

		// An older release's family: its handle is 22 characters.
		oldHandle := secret.NewToken(16)
		save(store.NewRefreshToken(oldHandle, storetest.Sealer), store.Digest(oldHandle))
		for _, raw := range []string{oldHandle + ".anything", oldHandle + "." + secret.NewToken(32)[:42]} {
			if _, err := s.UseRefreshTokenValue(ctx, raw, storetest.Sealer, time.Now(), nil); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a value naming an older family without its tokens' shape: %v, want ErrNotFound", err)
			}
		}
		if _, err := s.UseRefreshTokenValue(ctx, oldHandle+"."+secret.NewToken(32), storetest.Sealer, time.Now(), nil); !errors.Is(err, store.ErrReused) {
			t.Fatalf("a value of an older family's shape: %v, want the reuse (the old rule)", err)
		}
	})
}
