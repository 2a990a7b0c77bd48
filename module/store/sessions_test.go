package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// An ended session is reported as ended (ending it twice is fine), another
// id is not, and Cleanup forgets it once it has expired but not before.
func TestEndedSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		now := time.Now()
		for _, id := range []string{"live", "old"} {
			until := now.Add(time.Hour)
			if id == "old" {
				until = now.Add(-time.Second)
			}
			for range 2 {
				if err := s.EndSession(ctx, id, until); err != nil {
					t.Fatalf("end %s: %v", id, err)
				}
			}
		}
		ended := func(id string) bool {
			t.Helper()
			got, err := s.SessionEnded(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if !ended("live") || !ended("old") || ended("other") {
			t.Fatalf("ended: live %v old %v other %v", ended("live"), ended("old"), ended("other"))
		}
		if err := s.Cleanup(ctx, now, time.Minute, "2000-01-01"); err != nil {
			t.Fatal(err)
		}
		if !ended("live") || ended("old") {
			t.Fatalf("after cleanup: live %v (want true) old %v (want false)", ended("live"), ended("old"))
		}
		var n int64
		if err := s.DB.Model(&store.EndedSession{}).Count(&n).Error; err != nil || n != 1 {
			t.Fatalf("%d rows left (%v), want 1", n, err)
		}
	})
}
