package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm/clause"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// An edit of an app's pair and a narrowing of the app, queued on the app's
// row in that order, both finish: each takes the app's row before the
// pair's (a review found the edit locking the pair first, and PostgreSQL
// answering one of them "deadlock detected"). A third transaction holds the
// app's row until both wait for it (pg_blocking_pids; SQLite has one
// writer at a time: nothing to order there).
func TestPairEditBesideAppNarrowingLocksInOneOrder(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t, store.Postgres)
	for _, id := range []string{"dev", "t1"} {
		if err := s.EnsureTenant(ctx, id, id); err != nil {
			t.Fatal(err)
		}
	}
	app := &store.DeveloperApp{ID: "app1", Name: "Reporter", DeveloperTenantID: "dev", OwnerID: "devuser",
		RequestedScopes: store.Strings{"a", "b"}, TenantIDs: store.Strings{"t1"}}
	if err := s.CreateApp(ctx, app, admin); err != nil {
		t.Fatal(err)
	}
	pair := &store.Client{ID: "c1", TenantID: "t1", Name: "Reporter", AuthMethod: store.AuthAPIKey, AppID: &app.ID,
		AllowedScopes: store.Strings{"a", "b"}, DefaultScopes: store.Strings{"a"}, OwnerID: "tadmin", SecretDigest: "c1"}
	if err := s.AllowApp(ctx, "app1", "t1", pair, admin); err != nil {
		t.Fatal(err)
	}
	readApp, _ := s.GetApp(ctx, "app1")
	readPair, _ := s.GetClient(ctx, "c1")

	holder := s.DB.Begin()
	var held store.DeveloperApp
	if err := holder.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", "app1").Take(&held).Error; err != nil {
		t.Fatal(err)
	}
	var holderPID int64
	if err := holder.Raw("SELECT pg_backend_pid()").Scan(&holderPID).Error; err != nil {
		t.Fatal(err)
	}
	// Sessions the holder blocks, or that queue behind one it blocks (a
	// row's second waiter waits for the first): no other test's session.
	waitForWaiters := func(n int64) {
		t.Helper()
		for {
			var waiting int64
			err := s.DB.Raw(`SELECT count(*) FROM pg_stat_activity a WHERE ? = ANY(pg_blocking_pids(a.pid))
				OR EXISTS (SELECT 1 FROM pg_stat_activity b WHERE ? = ANY(pg_blocking_pids(b.pid)) AND b.pid = ANY(pg_blocking_pids(a.pid)))`,
				holderPID, holderPID).Scan(&waiting).Error
			if err != nil {
				t.Fatal(err)
			}
			if waiting >= n {
				return
			}
			time.Sleep(5 * time.Millisecond) // polling for the event, no deadline
		}
	}
	appErr, pairErr := make(chan error, 1), make(chan error, 1)
	go func() {
		readApp.RequestedScopes = store.Strings{"a"} // drops b: narrows the pair
		appErr <- s.UpdateApp(ctx, readApp, admin)
	}()
	waitForWaiters(1)
	go func() {
		readPair.Name = "Reporter renamed" // within its app
		pairErr <- s.UpdateClientSettingsIfUnchanged(ctx, readPair, "t1", admin)
	}()
	waitForWaiters(2)
	holder.Rollback()
	if err := <-appErr; err != nil {
		t.Fatalf("the app's narrowing: %v", err)
	}
	// The rename read the pair before the narrowing changed it: stale, to
	// be applied again, never a deadlock.
	if err := <-pairErr; err != nil && !errors.Is(err, store.ErrStale) {
		t.Fatalf("the pair's rename beside it: %v, want success or ErrStale", err)
	}
}
