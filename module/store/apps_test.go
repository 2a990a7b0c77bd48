package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A developer app offered to two tenants yields one client pair per tenant
// that allows it; tenants not listed are not offered it; allowing twice is a
// conflict; declining is recorded; deleting the pair frees the tenant to
// allow the app again.
func TestAppConnections(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		for _, id := range []string{"dev", "t1", "t2", "t3"} {
			if err := s.EnsureTenant(ctx, id, id); err != nil {
				t.Fatal(err)
			}
		}
		app := &store.DeveloperApp{ID: "app1", Name: "Reporter", DeveloperTenantID: "dev", OwnerID: "devuser",
			RequestedScopes: store.Strings{"a", "b"}, TenantIDs: store.Strings{"t1", "t2"}}
		if err := s.CreateApp(ctx, app, admin); err != nil {
			t.Fatal(err)
		}
		for tenant, want := range map[string]int{"t1": 1, "t2": 1, "t3": 0} {
			if got, err := s.OfferedApps(ctx, tenant); err != nil || len(got) != want {
				t.Fatalf("offered to %s: %v %v", tenant, got, err)
			}
		}
		pair := func(id, tenant string) *store.Client {
			return &store.Client{ID: id, TenantID: tenant, Name: "Reporter", AuthMethod: store.AuthAPIKey, AppID: &app.ID,
				AllowedScopes: store.Strings{"a"}, DefaultScopes: store.Strings{"a"}, OwnerID: "tadmin", SecretDigest: id}
		}
		if err := s.AllowApp(ctx, "app1", "t1", pair("c1", "t1"), admin); err != nil {
			t.Fatal(err)
		}
		if err := s.AllowApp(ctx, "app1", "t2", pair("c2", "t2"), admin); err != nil {
			t.Fatal(err)
		}
		if err := s.AllowApp(ctx, "app1", "t1", pair("c3", "t1"), admin); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second allow: %v", err)
		}
		if _, err := s.GetClient(ctx, "c3"); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("a refused allow left its client behind")
		}
		_, total, _ := s.ListClients(ctx, store.ClientFilter{AppID: "app1"})
		if total != 2 {
			t.Fatalf("pairs for the app: %d, want one per tenant", total)
		}
		conn, err := s.GetConnection(ctx, "app1", "t1")
		if err != nil || conn.Status != store.ConnectionAllowed || *conn.ClientID != "c1" || conn.GrantedScopes[0] != "a" {
			t.Fatalf("connection: %+v %v", conn, err)
		}
		if err := s.DeclineApp(ctx, "app1", "t1", admin); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("decline after allow: %v", err)
		}
		if err := s.DeleteClient(ctx, "c1", admin); err != nil {
			t.Fatal(err)
		}
		if err := s.AllowApp(ctx, "app1", "t1", pair("c4", "t1"), admin); err != nil {
			t.Fatalf("allow after the pair was deleted: %v", err)
		}
		if err := s.DeclineApp(ctx, "app1", "t3", admin); err != nil {
			t.Fatal(err)
		}
		if c, _ := s.GetConnection(ctx, "app1", "t3"); c.Status != store.ConnectionDeclined {
			t.Fatalf("decline not recorded: %+v", c)
		}
	})
}

// Tenant ids may contain LIKE's wildcard characters: an app offered to
// "t_1" is offered to "t_1" and not to "tx1" or "t1", though the look-up
// goes through LIKE.
func TestOfferedAppsWildcardTenantIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		app := &store.DeveloperApp{ID: "app1", Name: "Reporter", DeveloperTenantID: "dev", OwnerID: "devuser",
			RequestedScopes: store.Strings{"a"}, TenantIDs: store.Strings{"t_1", "50%"}}
		if err := s.CreateApp(ctx, app, admin); err != nil {
			t.Fatal(err)
		}
		for tenant, want := range map[string]int{"t_1": 1, "50%": 1, "tx1": 0, "t1": 0, "50x": 0, "T_1": 0} {
			if got, err := s.OfferedApps(ctx, tenant); err != nil || len(got) != want {
				t.Errorf("offered to %q: %d apps (%v), want %d", tenant, len(got), err, want)
			}
		}
	})
}
