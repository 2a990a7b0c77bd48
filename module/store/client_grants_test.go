package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A database made before the grant_types column existed is upgraded on
// open: its clients read with no list and so keep every grant (implicit
// still as DisableImplicit says). The list then round-trips through
// UpdateClientSettings and limits AllowsGrant; emptied, it allows all again.
func TestClientGrantTypesUpgradeAndRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn, old := openByDSN(t, driver)
		seed(t, old)
		if err := old.DB.Exec("ALTER TABLE clients DROP COLUMN grant_types").Error; err != nil {
			t.Fatal(err)
		}
		old.Close()

		s, err := store.Open(driver, dsn)
		if err != nil {
			t.Fatalf("opening a database without the grant_types column: %v", err)
		}
		defer s.Close()
		c, err := s.GetClient(ctx, "c1")
		if err != nil || len(c.GrantTypes) != 0 {
			t.Fatalf("an old client after the upgrade: %+v, %v", c, err)
		}
		for _, g := range store.GrantTypeNames {
			if !c.AllowsGrant(g) {
				t.Errorf("an old client lost %s", g)
			}
		}
		c.DisableImplicit = true
		if c.AllowsGrant(store.GrantImplicit) || !c.AllowsGrant(store.GrantAuthorizationCode) {
			t.Error("DisableImplicit alone no longer takes implicit away, or takes more")
		}

		c.DisableImplicit = false
		c.GrantTypes = store.Strings{store.GrantClientCredentials, store.GrantRefreshToken}
		if err := s.UpdateClientSettings(ctx, c, c.TenantID, admin); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetClient(ctx, "c1")
		if err != nil || !slices.Equal(got.GrantTypes, c.GrantTypes) {
			t.Fatalf("grant_types after the update: %+v, %v", got, err)
		}
		for g, want := range map[string]bool{store.GrantClientCredentials: true, store.GrantRefreshToken: true,
			store.GrantAuthorizationCode: false, store.GrantImplicit: false} {
			if got.AllowsGrant(g) != want {
				t.Errorf("AllowsGrant(%s) = %v, want %v", g, !want, want)
			}
		}
		got.GrantTypes = nil
		if err := s.UpdateClientSettings(ctx, got, got.TenantID, admin); err != nil {
			t.Fatal(err)
		}
		if again, err := s.GetClient(ctx, "c1"); err != nil || len(again.GrantTypes) != 0 || !again.AllowsGrant(store.GrantImplicit) {
			t.Fatalf("an emptied list: %+v, %v", again, err)
		}
	})
}
