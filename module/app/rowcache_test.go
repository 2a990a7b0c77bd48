package app_test

import (
	"context"
	"testing"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
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
