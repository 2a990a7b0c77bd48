package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// countQueries counts the COUNT queries s runs from now on (no other
// goroutine uses s: a callback registered on a store in use would race).
func countQueries(t *testing.T, s *store.Store) *atomic.Int64 {
	t.Helper()
	var n atomic.Int64
	err := s.DB.Callback().Query().After("gorm:query").Register("test:count_queries", func(db *gorm.DB) {
		if strings.Contains(strings.ToLower(db.Statement.SQL.String()), "count(") {
			n.Add(1)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return &n
}

// A client revoking its own tokens one by one no longer has its group's
// rows counted on every revocation (a scan of up to the whole bound, about
// 2.5 ms near a client's 10,000): filling a bound of 200 takes some 8 ln 200
// counts, and the bound holds as exactly as before on one node (200 rows
// kept, no watermark; the 201st revocation replaces them by one).
func TestRevocationBoundCountsRarely(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		const kept = 200
		s.SetRevocationsKept(kept)
		counts := countQueries(t, s)
		base := time.Now().Add(-time.Hour).Truncate(time.Second)
		for i := range kept {
			if err := revokeOfC1(s, fmt.Sprint("t", i), "u1", base.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		if n := counts.Load(); n > 45 {
			t.Errorf("%d revocations filling the bound counted the group %d times, want at most 45 (about 8 ln %d)", kept, n, kept)
		}
		if n, err := s.RevocationCount(ctx, "c1", "u1"); err != nil || n != kept {
			t.Fatalf("%d rows (%v), want all %d: the bound is not passed yet", n, err, kept)
		}
		if w, err := s.Watermark(ctx, "c1", "u1"); err == nil {
			t.Fatalf("watermark %+v before the bound was passed", w)
		}
		if err := revokeOfC1(s, "past", "u1", base.Add(kept*time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Watermark(ctx, "c1", "u1"); err != nil {
			t.Fatalf("the revocation past the bound left no watermark: %v", err)
		}
		if n, err := s.RevocationCount(ctx, "c1", "u1"); err != nil || n > kept {
			t.Fatalf("%d rows (%v) past the bound, want at most %d", n, err, kept)
		}
	})
}

// Four nodes (four stores on one database) revoking in one group in turn
// keep it near its bound: each counts on its own budget, an eighth of what
// was left, so the group passes the bound by at most three eighths of it
// (it reached 2x the bound with half of what was left per node), and a
// watermark replaces the rows once it is passed.
func TestRevocationBoundOnFourNodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn := storetest.DSN(t, driver)
		var nodes [4]*store.Store
		for i := range nodes {
			s, err := store.Open(driver, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			const kept = 40
			s.SetRevocationsKept(kept)
			nodes[i] = s
		}
		base := time.Now().Add(-time.Hour).Truncate(time.Second)
		most := int64(0)
		for i := range 200 {
			if err := revokeOfC1(nodes[i%len(nodes)], fmt.Sprint("t", i), "u1", base.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatal(err)
			}
			n, err := nodes[0].RevocationCount(ctx, "c1", "u1")
			if err != nil {
				t.Fatal(err)
			}
			most = max(most, n)
		}
		if most > 55 {
			t.Errorf("the group held %d rows at most, want at most 55 (a bound of 40 and three eighths of it)", most)
		}
		if _, err := nodes[1].Watermark(ctx, "c1", "u1"); err != nil {
			t.Fatalf("200 revocations past a bound of 40 left no watermark: %v", err)
		}
	})
}
