package store_test

import (
	"context"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// FindUser takes an id or a username; when one user's username is another
// user's id (a row an older version let in), the id wins, whichever row was
// written first, so tokens asked for that id are never bound to the
// namesake. A username still finds its own user when no id equals it.
func TestFindUserPrefersTheID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s)
		for _, namesakeFirst := range []bool{true, false} {
			realID := store.NewID()
			real := &store.User{ID: realID, TenantID: store.DefaultTenantID, Username: "carol-" + realID[:8]}
			namesake := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: realID}
			order := []*store.User{real, namesake}
			if namesakeFirst {
				order = []*store.User{namesake, real}
			}
			for _, u := range order {
				if err := s.CreateUser(ctx, u, admin); err != nil {
					t.Fatal(err)
				}
			}
			for i := 0; i < 3; i++ {
				got, err := s.FindUser(ctx, store.DefaultTenantID, realID)
				if err != nil || got.ID != realID {
					t.Fatalf("namesake first %v: FindUser(id) = %+v, %v; want the user whose id it is", namesakeFirst, got, err)
				}
			}
			if got, err := s.FindUser(ctx, store.DefaultTenantID, real.Username); err != nil || got.ID != realID {
				t.Fatalf("FindUser(username) = %+v, %v", got, err)
			}
		}
	})
}
