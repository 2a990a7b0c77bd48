package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A node that could not read the change feed for longer than resyncAfter
// may have missed entries cleanup deleted meanwhile (a disable, a
// revocation made while it was cut off from the database). Its next poll
// drops every cache and reloads the revocations, so it refuses what the
// database says it must. Without that, the node kept accepting a disabled
// client's cached token for good.
func TestResyncAfterTheFeedWentUnread(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		a := apptest.Open(t, driver, noPolling)
		ctx := context.Background()
		c, _ := newClient(t, a, "cut-off")
		raw, claims := mint(t, a, c.ID, "", time.Hour)
		verifiedOn(t, a, raw)

		// The changes as the node finds them after the outage: in the
		// tables, with their feed entries gone.
		db := a.Store().DB
		if err := db.Model(&store.Client{}).Where("id = ?", c.ID).Update("disabled", true).Error; err != nil {
			t.Fatal(err)
		}
		if err := db.Create(&store.Revocation{JTI: claims.ID, ClientID: c.ID, ExpiresAt: claims.ExpiresAt.Add(time.Minute)}).Error; err != nil {
			t.Fatal(err)
		}
		rt := a.Runtime()
		if err := rt.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if rt.IsRevoked(claims.ID) || !a.TokenCached(raw) {
			t.Fatal("precondition: a node that read the feed recently trusts it and sees no change")
		}

		rt.SetFeedRead(time.Now().Add(-6 * time.Minute))
		if err := rt.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if !rt.IsRevoked(claims.ID) {
			t.Fatal("the revocation made while the feed went unread was not loaded")
		}
		if a.TokenCached(raw) {
			t.Fatal("the token cache was kept")
		}
		got, err := rt.Client(ctx, c.ID)
		if err != nil || !got.Disabled {
			t.Fatalf("the client row was not read again: %+v, %v", got, err)
		}
	})
}
