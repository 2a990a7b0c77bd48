package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Before names the newest entry written before a time, as both databases
// store and compare entry times: 0 when none is that old, the older entry's
// id between two entries, the newest id past both.
func TestFeedBefore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		now := time.Now().UTC()
		old := store.Change{Kind: store.ChangeGeneral, CreatedAt: now.Add(-2 * time.Minute)}
		fresh := store.Change{Kind: store.ChangeGeneral, CreatedAt: now}
		feed := s.Feed()
		if id, err := feed.Before(ctx, now.Add(-time.Hour)); err != nil || id != 0 {
			t.Fatalf("empty feed: %d, %v", id, err)
		}
		for _, c := range []*store.Change{&old, &fresh} {
			if err := s.DB.Create(c).Error; err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			at   time.Time
			want uint64
		}{{now.Add(-time.Hour), 0}, {now.Add(-time.Minute), old.ID}, {now.Add(time.Second), fresh.ID}} {
			if id, err := feed.Before(ctx, tc.at); err != nil || id != tc.want {
				t.Errorf("Before(%v): %d, %v; want %d", tc.at, id, err, tc.want)
			}
		}
		// In another zone the same instants compare the same.
		if id, err := feed.Before(ctx, now.Add(-time.Minute).In(time.FixedZone("X", -5*3600))); err != nil || id != old.ID {
			t.Errorf("Before in another zone: %d, %v; want %d", id, err, old.ID)
		}
	})
}
