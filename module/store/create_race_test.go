package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Users created at once whose names differ only in letter case end as
// created one after the other: one is created, the others are refused with
// UsernameCaseError naming it (or, for the same spelling, ErrConflict). On
// PostgreSQL the test holds the tenant's row until every create waits for
// it, the interleaving in which each used to pass the check.
func TestConcurrentCaseVariantUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		createTenants(t, s, "acme")
		names := []string{"racer", "Racer", "RACER", "rAcEr", "racer"}
		held := holdLock(t, s, driver, `SELECT id FROM tenants WHERE id = 'acme' FOR UPDATE`)
		var wg sync.WaitGroup
		errs := make(chan error, len(names))
		for _, n := range names {
			wg.Go(func() {
				errs <- s.CreateUser(ctx, &store.User{ID: store.NewID(), TenantID: "acme", Username: n}, admin)
			})
		}
		held.awaitWaiters(len(names))
		held.release()
		wg.Wait()
		close(errs)
		created := 0
		for err := range errs {
			var ce *store.UsernameCaseError
			switch {
			case err == nil:
				created++
			case errors.As(err, &ce), errors.Is(err, store.ErrConflict):
			default:
				t.Fatalf("create: %v", err)
			}
		}
		users, _, err := s.ListUsers(ctx, "acme", store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if created != 1 || len(users) != 1 {
			t.Fatalf("%d creates succeeded and the tenant has %d users of one name in five spellings, want 1", created, len(users))
		}
	})
}

// Two tenants created at once, each named as the other's id, end as if
// created one after the other: the second is ErrTenantNameIsID, so one
// word names one tenant. On PostgreSQL the test holds the tenants table
// until both creates wait for it.
func TestConcurrentTenantNameIDClash(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		held := holdLock(t, s, driver, `LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE`)
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for _, pair := range [][2]string{{"p", "q"}, {"q", "p"}} {
			wg.Go(func() { errs <- s.CreateTenant(ctx, &store.Tenant{ID: pair[0], Name: pair[1]}, admin) })
		}
		held.awaitWaiters(2)
		held.release()
		wg.Wait()
		close(errs)
		var created, clashed int
		for err := range errs {
			switch {
			case err == nil:
				created++
			case errors.Is(err, store.ErrTenantNameIsID):
				clashed++
			default:
				t.Fatalf("create: %v", err)
			}
		}
		if created != 1 || clashed != 1 {
			t.Fatalf("%d created, %d refused as a name-id clash; want one of each", created, clashed)
		}
	})
}
