package app

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/scopegate/scopegate/module/token"
)

// tokenKey is sha256 of a raw token: the cache never keeps tokens.
type tokenKey = [32]byte

// tokenCache maps sha256(token) to the claims that verified, so the common
// request needs no signature check. Entries are also indexed by client and
// by subject, so that a change to a client or a user drops its tokens at the
// cost of what it removes: a walk over the whole cache (100k entries by
// default) for every change would make a burst of admin changes slow to
// reach the node. The indexes follow the LRU through its eviction callback,
// which runs under mu, so they never name an entry the LRU does not hold.
type tokenCache struct {
	mu        sync.RWMutex // lookups read-lock (promoteNow); changes write-lock
	lru       *simplelru.LRU[tokenKey, *token.Claims]
	byClient  map[string]map[tokenKey]struct{}
	bySubject map[string]map[tokenKey]struct{}
	counters  cacheCounters
	// doorkeeper admits a token on its second verification (admission.go).
	doorkeeper *admission
}

func newTokenCache(size int) *tokenCache {
	c := &tokenCache{byClient: map[string]map[tokenKey]struct{}{}, bySubject: map[string]map[tokenKey]struct{}{},
		counters: newCacheCounters(CacheTokens), doorkeeper: newAdmission(size)}
	c.lru, _ = simplelru.NewLRU(max(size, 1), c.evicted) // a positive size: no error
	return c
}

// get returns the claims cached for k, and now and then marks them
// recently used (promoteNow: every guarded request looks up its token).
func (c *tokenCache) get(k tokenKey) (*token.Claims, bool) {
	c.mu.RLock()
	claims, ok := c.lru.Peek(k)
	c.mu.RUnlock()
	if ok && promoteNow() && c.mu.TryLock() {
		c.lru.Get(k) // moves the entry to the front
		c.mu.Unlock()
	}
	c.counters.observe(ok)
	return claims, ok
}

// contains reports whether k is cached, without marking it used.
func (c *tokenCache) contains(k tokenKey) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.lru.Contains(k)
}

// add caches claims for k (evicting the least recently used entry when full).
func (c *tokenCache) add(k tokenKey, claims *token.Claims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(k) // a replaced entry leaves the indexes first
	c.lru.Add(k, claims)
	index(c.byClient, claims.ClientID, k)
	index(c.bySubject, claims.Subject, k)
}

// admit caches claims for k if k was verified before (admission.go): a
// token used once is never cached.
func (c *tokenCache) admit(k tokenKey, claims *token.Claims) {
	if c.doorkeeper.secondSight(k) {
		c.add(k, claims)
	}
}

// remove drops k.
func (c *tokenCache) remove(k tokenKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Remove(k)
}

// forgetClient drops every token of a client.
func (c *tokenCache) forgetClient(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.byClient[id] {
		c.lru.Remove(k) // evicted updates both indexes
	}
}

// forgetSubject drops every token whose subject is id (a user's tokens).
func (c *tokenCache) forgetSubject(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.bySubject[id] {
		c.lru.Remove(k)
	}
}

// len is the number of cached tokens.
func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.lru.Len()
}

// evicted is the LRU's eviction callback (mu is held): the entry leaves
// the indexes whether it was removed or pushed out by a newer one.
func (c *tokenCache) evicted(k tokenKey, claims *token.Claims) {
	unindex(c.byClient, claims.ClientID, k)
	unindex(c.bySubject, claims.Subject, k)
}

func index(m map[string]map[tokenKey]struct{}, id string, k tokenKey) {
	set := m[id]
	if set == nil {
		set = map[tokenKey]struct{}{}
		m[id] = set
	}
	set[k] = struct{}{}
}

func unindex(m map[string]map[tokenKey]struct{}, id string, k tokenKey) {
	if set := m[id]; set != nil {
		delete(set, k)
		if len(set) == 0 {
			delete(m, id)
		}
	}
}

// forgetAll drops every cached token.
func (c *tokenCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lru.Purge()
	c.byClient = map[string]map[tokenKey]struct{}{}
	c.bySubject = map[string]map[tokenKey]struct{}{}
}
