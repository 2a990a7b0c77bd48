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

// An app that stops requesting a scope takes it away from every tenant's
// pair (the decision's granted scopes, the client's scopes and defaults)
// and ends the tokens of the pairs that held it; a pair that never held it
// keeps its tokens, and an edit dropping no scope ends nothing; a pair
// allowed afterwards from a stale read of the app gets only what it
// requests now.
func TestAppNarrowingNarrowsItsPairs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		for _, id := range []string{"dev", "t1", "t2"} {
			if err := s.EnsureTenant(ctx, id, id); err != nil {
				t.Fatal(err)
			}
		}
		app := &store.DeveloperApp{ID: "app1", Name: "Reporter", DeveloperTenantID: "dev", OwnerID: "devuser",
			RequestedScopes: store.Strings{"a", "b"}, TenantIDs: store.Strings{"t1", "t2"}}
		if err := s.CreateApp(ctx, app, admin); err != nil {
			t.Fatal(err)
		}
		pair := func(id, tenant string, scopes, defaults store.Strings) *store.Client {
			return &store.Client{ID: id, TenantID: tenant, Name: "Reporter", AuthMethod: store.AuthAPIKey, AppID: &app.ID,
				AllowedScopes: scopes, DefaultScopes: defaults, OwnerID: "tadmin", SecretDigest: id}
		}
		if err := s.AllowApp(ctx, "app1", "t1", pair("c1", "t1", store.Strings{"a", "b"}, store.Strings{"b"}), admin); err != nil {
			t.Fatal(err)
		}
		if err := s.AllowApp(ctx, "app1", "t2", pair("c2", "t2", store.Strings{"a"}, store.Strings{"a"}), admin); err != nil {
			t.Fatal(err)
		}
		edit := func(scopes ...string) {
			t.Helper()
			got, err := s.GetApp(ctx, "app1")
			if err != nil {
				t.Fatal(err)
			}
			got.RequestedScopes = scopes
			if err := s.UpdateApp(ctx, got, admin); err != nil {
				t.Fatal(err)
			}
		}
		edit("a", "b", "c") // adds a scope: no pair changes
		edit("a", "c")
		c1, _ := s.GetClient(ctx, "c1")
		if len(c1.AllowedScopes) != 1 || c1.AllowedScopes[0] != "a" || len(c1.DefaultScopes) != 1 || c1.DefaultScopes[0] != "a" || c1.TokenGeneration != 1 {
			t.Fatalf("t1's pair after the app dropped b: scopes %v, defaults %v, generation %d; want [a], [a], 1",
				c1.AllowedScopes, c1.DefaultScopes, c1.TokenGeneration)
		}
		if conn, _ := s.GetConnection(ctx, "app1", "t1"); len(conn.GrantedScopes) != 1 || conn.GrantedScopes[0] != "a" {
			t.Fatalf("t1's decision after the app dropped b grants %v, want [a]", conn.GrantedScopes)
		}
		if c2, _ := s.GetClient(ctx, "c2"); len(c2.AllowedScopes) != 1 || c2.TokenGeneration != 0 {
			t.Fatalf("t2's pair, which never held b: scopes %v, generation %d; want [a], 0", c2.AllowedScopes, c2.TokenGeneration)
		}
		// An allow that read the app's scopes before the narrowing (a
		// pair asking for b) stores only what the app requests now.
		if err := s.EnsureTenant(ctx, "t3", "t3"); err != nil {
			t.Fatal(err)
		}
		if err := s.AllowApp(ctx, "app1", "t3", pair("c3", "t3", store.Strings{"a", "b"}, store.Strings{"b"}), admin); err != nil {
			t.Fatal(err)
		}
		if c3, _ := s.GetClient(ctx, "c3"); len(c3.AllowedScopes) != 1 || c3.AllowedScopes[0] != "a" || len(c3.DefaultScopes) != 1 || c3.DefaultScopes[0] != "a" {
			t.Fatalf("a pair allowed with a stale read of the app: scopes %v, defaults %v; want [a], [a]", c3.AllowedScopes, c3.DefaultScopes)
		}
		if conn, _ := s.GetConnection(ctx, "app1", "t3"); len(conn.GrantedScopes) != 1 || conn.GrantedScopes[0] != "a" {
			t.Fatalf("its decision grants %v, want [a]", conn.GrantedScopes)
		}
		// An edit of a pair that read the app before the narrowing (giving
		// t2's pair c, which the app dropped meanwhile) is not saved
		// (ErrStale: checked again), while one within the app is; a scope
		// the pair already holds is not its to check (multi-node red team).
		stale, _ := s.GetClient(ctx, "c2")
		edit("a")
		stale.AllowedScopes = store.Strings{"a", "c"}
		if err := s.UpdateClientSettingsIfUnchanged(ctx, stale, "t2", admin); !errors.Is(err, store.ErrStale) {
			t.Fatalf("a pair given a scope its app dropped meanwhile: %v, want ErrStale", err)
		}
		fresh, _ := s.GetClient(ctx, "c2")
		fresh.Name = "Reporter (t2)"
		if err := s.UpdateClientSettingsIfUnchanged(ctx, fresh, "t2", admin); err != nil {
			t.Fatalf("a pair renamed within its app: %v", err)
		}
		entries, _, err := s.ListAudit(ctx, "t1", store.Page{})
		if err != nil || len(entries) == 0 || entries[0].Action != "client.update" || entries[0].Target != "c1" {
			t.Fatalf("t1's audit log does not show its pair narrowed: %+v %v", entries, err)
		}
	})
}
