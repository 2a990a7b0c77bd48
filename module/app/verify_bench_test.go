package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// BenchmarkVerifyFirstSight is a flood of tokens each presented once (the
// never-seen-token load of issue 9) on a node with the default cache size:
// every Verify is a miss, and admission (admission.go) keeps them out of
// the cache, so the cost is the verification alone, without the cache's
// insertions, evictions and retained heap.
func BenchmarkVerifyFirstSight(b *testing.B) {
	for _, driver := range storetest.Drivers {
		b.Run(driver, func(b *testing.B) {
			ctx := context.Background()
			a := apptest.Open(b, driver, noPolling)
			c, _ := newClient(b, a, "flood")
			tokens := make([]string, b.N)
			for i := range tokens {
				tokens[i], _ = mint(b, a, c.ID, "", time.Hour)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for _, raw := range tokens {
				if _, err := a.Verify(ctx, raw); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(a.CachedTokens()), "cached")
		})
	}
}
