package app

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Sizes of the client and user caches: rows found, and ids known to be
// missing.
const (
	rowCacheSize  = 10_000
	missCacheSize = 1_000
)

// rowCache caches database rows by id. Rows that exist and ids that do not
// are kept in two LRUs: anyone may send made-up client_ids to the token
// endpoint, and if misses shared the LRU of real rows, a stream of them
// would evict every real client and send each request to the database.
// Misses only evict other misses.
//
// A row read from the database may be outdated by the time it is added: an
// admin change can commit and be forgotten in between. Callers take the
// generation before they read and add with it; a forget since then makes the
// add a no-op, so the next request reads the change.
//
// Every token request and every guarded request looks a client up, so a
// lookup takes the read lock only (see promoteNow).
//
// Entries are read again after rowTTL: the change feed drops them when their
// row changes, and this bounds how long one could outlive its row should a
// change ever fail to reach the node, at the cost of one read per row and
// node every few minutes.
type rowCache[T any] struct {
	mu      sync.RWMutex // guards both LRUs and gen
	found   *simplelru.LRU[string, cachedRow[T]]
	missing *simplelru.LRU[string, int64] // when each miss was added (Unix ns)
	gen     uint64                        // counts forgets
	ttl     int64                         // rowTTL in ns (tests shorten it)

	counters cacheCounters // set by the runtime
}

// cachedRow is a row and when it was added (Unix ns).
type cachedRow[T any] struct {
	row   *T
	added int64
}

// rowTTL is how long a cached row or miss is trusted without the feed
// saying otherwise.
const rowTTL = 5 * time.Minute

func newRowCache[T any](found, missing int) *rowCache[T] {
	f, _ := simplelru.NewLRU[string, cachedRow[T]](found, nil) // sizes are positive constants: no error
	m, _ := simplelru.NewLRU[string, int64](missing, nil)
	return &rowCache[T]{found: f, missing: m, ttl: int64(rowTTL)}
}

// get returns the cached row for id; known is false when the cache holds
// nothing about id (or only something older than the ttl), and row is nil
// for an id known to be missing.
func (c *rowCache[T]) get(id string) (row *T, known bool) {
	now := time.Now().UnixNano()
	c.mu.RLock()
	e, ok := c.found.Peek(id)
	if ok && now-e.added > c.ttl {
		ok = false
	}
	if !ok {
		added, miss := c.missing.Peek(id)
		known = miss && now-added <= c.ttl
	}
	c.mu.RUnlock()
	row = e.row
	if ok {
		if promoteNow() && c.mu.TryLock() {
			c.found.Get(id) // moves the row to the front
			c.mu.Unlock()
		}
		c.counters.observe(true)
		return row, true
	}
	c.counters.observe(known)
	return nil, known
}

// len is the number of rows cached (misses not counted).
func (c *rowCache[T]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.found.Len()
}

// generation is what add needs from before the database was asked.
func (c *rowCache[T]) generation() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.gen
}

// add caches what the database answered for id, asked at generation since:
// row, or nil for no row; nothing if anything was forgotten since.
func (c *rowCache[T]) add(id string, row *T, since uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != since {
		return
	}
	now := time.Now().UnixNano()
	if row == nil {
		c.found.Remove(id) // a row that has expired from the ttl
		c.missing.Add(id, now)
		return
	}
	c.missing.Remove(id)
	c.found.Add(id, cachedRow[T]{row, now})
}

// forget drops whatever is cached about id, and keeps out rows read before.
func (c *rowCache[T]) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.found.Remove(id)
	c.missing.Remove(id)
}

// promoteOneIn is how many cache hits share one recency update.
const promoteOneIn = 16

// promoteNow says whether this cache hit should move its entry to the front
// of the LRU, which needs the write lock: about one hit in promoteOneIn
// does, and only if the lock is free at once (TryLock). A lookup under a
// lock that every request takes queues them all behind whichever holder the
// scheduler parks: on two cores with 64 connections, a quarter of the token
// endpoint's goroutines waited there, and its p99 was eight times its
// median. A hot entry is hit often, so it still moves to the front long
// before it could be evicted: for the entries that matter, the caches stay
// least-recently-used.
func promoteNow() bool { return rand.Uint32()%promoteOneIn == 0 }

// forgetAll drops every row and every miss.
func (c *rowCache[T]) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.found.Purge()
	c.missing.Purge()
}
