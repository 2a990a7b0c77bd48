package store_test

import (
	"context"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// An upgrade that fails half-way changes nothing: here the backfill of a
// column the older database lacks (disabled_by_super, which keeps a
// disabled client out of a tenant admin's reach) is made to fail after
// AutoMigrate added the column. The open fails, the column is still
// missing, so the next open, once the fault is gone, adds it and runs the
// backfill (without the one transaction the column stayed, and the
// backfill never ran again: the disabled client read as disabled by
// nobody in particular).
func TestFailedMigrationChangesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn, old := openByDSN(t, driver)
		defer old.Close()
		if err := old.EnsureTenant(ctx, store.DefaultTenantID, "Default"); err != nil {
			t.Fatal(err)
		}
		seed(t, old)
		if err := old.SetClientDisabled(ctx, "c1", true, admin); err != nil {
			t.Fatal(err)
		}
		fault := []string{"CREATE TRIGGER no_updates BEFORE UPDATE ON clients BEGIN SELECT RAISE(ABORT, 'no updates'); END"}
		cure := []string{"DROP TRIGGER no_updates"}
		if driver == store.Postgres {
			fault = []string{
				"CREATE FUNCTION no_updates() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no updates'; END $$",
				"CREATE TRIGGER no_updates BEFORE UPDATE ON clients FOR EACH ROW EXECUTE FUNCTION no_updates()",
			}
			cure = []string{"DROP TRIGGER no_updates ON clients", "DROP FUNCTION no_updates()"}
		}
		for _, sql := range append([]string{"ALTER TABLE clients DROP COLUMN disabled_by_super"}, fault...) {
			if err := old.DB.Exec(sql).Error; err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}

		if s, err := store.Open(driver, dsn); err == nil {
			s.Close()
			t.Fatal("the migration succeeded although its backfill failed")
		}
		if old.DB.Migrator().HasColumn(&store.Client{}, "DisabledBySuper") {
			t.Fatal("the failed migration left the column it added")
		}

		for _, sql := range cure {
			if err := old.DB.Exec(sql).Error; err != nil {
				t.Fatalf("%s: %v", sql, err)
			}
		}
		s, err := store.Open(driver, dsn)
		if err != nil {
			t.Fatalf("opening once the fault is gone: %v", err)
		}
		defer s.Close()
		if c, err := s.GetClient(ctx, "c1"); err != nil || !c.DisabledBySuper {
			t.Fatalf("the disabled client after the upgrade: disabled_by_super %v (%v), want true", c != nil && c.DisabledBySuper, err)
		}
	})
}
