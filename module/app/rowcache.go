package app

import (
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
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
type rowCache[T any] struct {
	found   *lru.Cache[string, *T]
	missing *lru.Cache[string, struct{}]

	mu  sync.Mutex // orders add against forget
	gen uint64     // counts forgets

	counters cacheCounters // set by the runtime
}

func newRowCache[T any](found, missing int) *rowCache[T] {
	f, _ := lru.New[string, *T](found) // sizes are positive constants: no error
	m, _ := lru.New[string, struct{}](missing)
	return &rowCache[T]{found: f, missing: m}
}

// get returns the cached row for id; known is false when the cache holds
// nothing about id, and row is nil for an id known to be missing.
func (c *rowCache[T]) get(id string) (row *T, known bool) {
	if row, ok := c.found.Get(id); ok {
		c.counters.observe(true)
		return row, true
	}
	known = c.missing.Contains(id)
	c.counters.observe(known)
	return nil, known
}

// generation is what add needs from before the database was asked.
func (c *rowCache[T]) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
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
	if row == nil {
		c.missing.Add(id, struct{}{})
		return
	}
	c.missing.Remove(id)
	c.found.Add(id, row)
}

// forget drops whatever is cached about id, and keeps out rows read before.
func (c *rowCache[T]) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.found.Remove(id)
	c.missing.Remove(id)
}
