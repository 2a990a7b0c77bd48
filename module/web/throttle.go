package web

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Throttle slows down password guessing: after a few failures for one key
// (for example tenant+username, and separately the client IP) every further
// attempt must wait, doubling up to a maximum. State is per node and bounded.
type Throttle struct {
	free    int
	base    time.Duration
	maxWait time.Duration
	mu      sync.Mutex
	entries *lru.Cache[string, *throttleEntry]
}

type throttleEntry struct {
	failures int
	until    time.Time
}

// NewThrottle allows free failures per key, then waits base, 2×base, … up to maxWait.
func NewThrottle(free int, base, maxWait time.Duration) *Throttle {
	c, _ := lru.New[string, *throttleEntry](100_000)
	return &Throttle{free: free, base: base, maxWait: maxWait, entries: c}
}

// Wait returns how long key must still wait before its next attempt (0: go ahead).
func (t *Throttle) Wait(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries.Get(key)
	if !ok {
		return 0
	}
	return max(time.Until(e.until), 0)
}

// Fail records a failed attempt.
func (t *Throttle) Fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries.Get(key)
	if !ok {
		e = &throttleEntry{}
		t.entries.Add(key, e)
	}
	e.failures++
	if e.failures > t.free {
		wait := t.base << min(e.failures-t.free-1, 20)
		e.until = time.Now().Add(min(wait, t.maxWait))
	}
}

// Succeed forgets key's failures.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entries.Remove(key)
}
