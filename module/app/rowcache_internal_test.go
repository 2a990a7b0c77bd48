package app

import (
	"fmt"
	"sync"
	"testing"

	"github.com/scopegate/scopegate/module/token"
)

// A cached row or miss older than the ttl is unknown again, so the caller
// reads the database: a change that never reached the node through the
// feed is outlived by its row for rowTTL at most. Within the ttl both are
// served from the cache.
func TestRowCacheEntriesExpire(t *testing.T) {
	type row struct{ id string }
	c := newRowCache[row](4, 4)
	r := &row{"r"}
	c.add("r", r, c.generation())
	c.add("gone", nil, c.generation())
	if got, known := c.get("r"); !known || got != r {
		t.Fatalf("get(r) within the ttl = %v, %v", got, known)
	}
	if got, known := c.get("gone"); !known || got != nil {
		t.Fatalf("get(gone) within the ttl = %v, %v", got, known)
	}
	c.ttl = -1 // every entry is older than this
	for _, id := range []string{"r", "gone"} {
		if _, known := c.get(id); known {
			t.Errorf("get(%s) past the ttl is still known", id)
		}
	}
	c.ttl = int64(rowTTL)
	c.add("r", nil, c.generation()) // read again: the row is gone now
	if got, known := c.get("r"); !known || got != nil {
		t.Fatalf("get(r) after the row was read again as missing = %v, %v", got, known)
	}
}

// The row cache keeps misses in an LRU of their own: a stream of misses
// evicts older misses only, never a row; a row found for an id once missing
// replaces the miss; forget drops both, and an add read before it.
func TestRowCacheKeepsMissesApart(t *testing.T) {
	type row struct{ id string }
	c := newRowCache[row](2, 2)
	a, b := &row{"a"}, &row{"b"}
	c.add("a", a, c.generation())
	c.add("b", b, c.generation())
	for _, id := range []string{"x1", "x2", "x3", "x4"} {
		c.add(id, nil, c.generation())
	}
	for id, want := range map[string]*row{"a": a, "b": b} {
		if got, known := c.get(id); !known || got != want {
			t.Errorf("get(%s) = %v, %v after a stream of misses; want the row", id, got, known)
		}
	}
	if got, known := c.get("x4"); !known || got != nil {
		t.Errorf("get(x4) = %v, %v; want a known miss", got, known)
	}
	if _, known := c.get("x1"); known {
		t.Error("the oldest miss is still held beyond the miss LRU's size")
	}

	x3 := &row{"x3"}
	c.add("x3", x3, c.generation()) // the row was created after the miss was cached
	if got, known := c.get("x3"); !known || got != x3 {
		t.Errorf("get(x3) = %v, %v; want the new row", got, known)
	}
	if _, miss := c.missing.Peek("x3"); miss {
		t.Error("x3 is still cached as a miss")
	}

	c.forget("a")
	c.forget("x4")
	for _, id := range []string{"a", "x4"} {
		if _, known := c.get(id); known {
			t.Errorf("get(%s) still known after forget", id)
		}
	}

	// A row read before a forget is not added after it.
	before := c.generation()
	c.forget("b")
	c.add("b", b, before)
	if _, known := c.get("b"); known {
		t.Error("a row read before a forget was cached after it")
	}
}

// Lookups take the read lock and move an entry to the front only now and
// then (promoteNow), yet a row looked up between every two additions is
// never evicted by a stream of new rows; nor is a token. A cache that never
// promoted on a hit (pure insertion order) would lose both after eight
// additions.
func TestHotEntriesStayCached(t *testing.T) {
	type row struct{ id string }
	rows := newRowCache[row](8, 8)
	hot := &row{"hot"}
	rows.add("hot", hot, rows.generation())
	tokens := newTokenCache(8)
	hotKey := tokenKeyOf("hot token")
	tokens.add(hotKey, &token.Claims{ClientID: "c"})
	for i := range 1000 {
		for range 200 {
			if got, known := rows.get("hot"); !known || got != hot {
				t.Fatalf("after %d new rows the hot row is gone", i)
			}
			if _, ok := tokens.get(hotKey); !ok {
				t.Fatalf("after %d new tokens the hot token is gone", i)
			}
		}
		id := fmt.Sprint("cold ", i)
		rows.add(id, &row{id}, rows.generation())
		tokens.add(tokenKeyOf(id), &token.Claims{ClientID: "c"})
	}
	if rows.len() != 8 || tokens.len() != 8 {
		t.Fatalf("%d rows and %d tokens cached, want 8 each", rows.len(), tokens.len())
	}
}

// Lookups, additions and forgets from many goroutines at once (run with
// -race): every lookup answers what was added, or nothing after a forget.
func TestRowCacheConcurrentUse(t *testing.T) {
	type row struct{ id string }
	c := newRowCache[row](64, 16)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				id := fmt.Sprint("r", (g*7+i)%100)
				switch i % 10 {
				case 0:
					c.forget(id)
				case 1, 2:
					c.add(id, &row{id}, c.generation())
				default:
					if got, known := c.get(id); known && got != nil && got.id != id {
						t.Errorf("get(%s) = %s", id, got.id)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
