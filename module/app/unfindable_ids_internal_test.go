package app

import (
	"context"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// An id no row can hold (longer than the id column, a NUL, invalid UTF-8)
// is answered "no such client/user" without being remembered as a miss: a
// caller sending 64 KiB client_ids pinned 65 MB in the miss cache with
// 1,000 requests and no credential. A findable unknown id is still
// remembered (and so spares the database its next lookup).
func TestUnfindableIDsAreNotCached(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		rt := &Runtime{Store: storetest.Open(t, driver),
			clients: newRowCache[store.Client](rowCacheSize, missCacheSize),
			users:   newRowCache[store.User](rowCacheSize, missCacheSize)}
		ctx := context.Background()
		for _, id := range []string{"sg_" + strings.Repeat("A", 65_000), "sg_\x00nul", "sg_\xffbad"} {
			if c, err := rt.Client(ctx, id); c != nil || err != nil {
				t.Fatalf("client %.20q: %v, %v; want none", id, c, err)
			}
			if u, err := rt.User(ctx, id); u != nil || err != nil {
				t.Fatalf("user %.20q: %v, %v; want none", id, u, err)
			}
		}
		if n := rt.clients.missing.Len() + rt.users.missing.Len(); n != 0 {
			t.Fatalf("%d unfindable ids cached as misses, want none", n)
		}
		if c, err := rt.Client(ctx, "sg_unknownButFindable"); c != nil || err != nil {
			t.Fatal(c, err)
		}
		if _, known := rt.clients.get("sg_unknownButFindable"); !known {
			t.Error("a findable unknown client id is not remembered as missing")
		}
	})
}
