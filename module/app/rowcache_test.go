package app_test

import (
	"context"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Anyone can send client_ids to the token endpoint. Made-up ones are
// cached as misses apart from real clients: after more unknown ids than the
// client cache holds, the known client is still served from the cache (the
// database is closed by then, so a look-up would fail), and so is the last
// unknown id, as "no such client".
func TestUnknownClientIDsDoNotEvictKnownClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		rt := a.Runtime()
		known, _ := newClient(t, a, "known")
		if got, err := rt.Client(ctx, known.ID); err != nil || got == nil {
			t.Fatalf("Client(known) = %v, %v", got, err)
		}
		var last string
		for range app.RowCacheSize + 100 {
			last = app.NewClientID()
			if got, err := rt.Client(ctx, last); err != nil || got != nil {
				t.Fatalf("Client(unknown) = %v, %v; want nil, nil", got, err)
			}
		}

		if err := a.Store().Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := rt.Client(ctx, app.NewClientID()); err == nil {
			t.Fatal("control: a look-up on the closed database did not fail")
		}
		if got, err := rt.Client(ctx, known.ID); err != nil || got == nil || got.ID != known.ID {
			t.Fatalf("known client after the flood of unknown ids: %v, %v; it was evicted", got, err)
		}
		if got, err := rt.Client(ctx, last); err != nil || got != nil {
			t.Fatalf("last unknown id: %v, %v; want it cached as a miss", got, err)
		}
	})
}

// A client row read from the database just before an admin disables the
// client, and returned just after the change was applied to the cache
// (ForgetClient), must not be cached: the next request reads the change.
// The read is held between the query and the caching by a hook on the
// query, while the disable commits and is applied.
func TestClientReadDuringChangeIsNotCached(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		rt := a.Runtime()
		c, _ := newClient(t, a, "changing")
		var armed atomic.Bool
		reading, release := make(chan struct{}), make(chan struct{})
		err := a.Store().DB.Callback().Query().After("gorm:query").Register("hold_client_read", func(db *gorm.DB) {
			if db.Statement.Table == "clients" && armed.CompareAndSwap(true, false) {
				close(reading)
				<-release
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		armed.Store(true)
		done := make(chan *store.Client)
		go func() {
			got, err := rt.Client(ctx, c.ID)
			if err != nil {
				t.Error(err)
			}
			done <- got
		}()
		<-reading
		if err := a.Store().SetClientDisabled(ctx, c.ID, true, tester); err != nil {
			t.Fatal(err)
		}
		rt.ForgetClient(c.ID)
		close(release)
		if stale := <-done; stale == nil || stale.Disabled {
			t.Fatal("control: the held read did not return the row as it was before the change")
		}
		if got, err := rt.Client(ctx, c.ID); err != nil || got == nil || !got.Disabled {
			t.Fatalf("Client after the change: %v, disabled %v; want the disabled row, not the one read before", err, got != nil && got.Disabled)
		}
	})
}
