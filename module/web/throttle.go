package web

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Throttle slows down password guessing: a few attempts per key (for
// example tenant+username, and separately the client IP) go through at once,
// then every further attempt must wait, doubling up to a maximum. State is
// per node and bounded.
//
// An attempt is counted when it is taken (Acquire), before the slow password
// check, not when the check has failed: counted afterwards, a burst of
// parallel guesses would all pass the "may I try?" question before the first
// failure was recorded. A success gives its attempt back (Succeed, Release).
type Throttle struct {
	free    int
	base    time.Duration
	maxWait time.Duration
	mu      sync.Mutex
	entries *lru.Cache[string, *throttleEntry]
	now     func() time.Time // time.Now; tests move it
}

type throttleEntry struct {
	attempts int // taken and not given back
	until    time.Time
}

// NewThrottle lets free attempts per key through at once, then makes the
// key wait base, 2×base, … up to maxWait between attempts.
func NewThrottle(free int, base, maxWait time.Duration) *Throttle {
	c, _ := lru.New[string, *throttleEntry](100_000)
	return &Throttle{free: max(free, 1), base: base, maxWait: maxWait, entries: c, now: time.Now}
}

// Acquire takes an attempt for key and returns 0, or returns how long key
// must still wait and takes nothing. Taking and counting happen under one
// lock, so of any number of concurrent attempts at most free get through
// before the first wait.
func (t *Throttle) Acquire(key string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	e, ok := t.entries.Get(key)
	if !ok {
		e = &throttleEntry{}
		t.entries.Add(key, e)
	}
	if wait := e.until.Sub(now); wait > 0 {
		return wait
	}
	e.attempts++
	if e.attempts >= t.free {
		wait := t.base << min(e.attempts-t.free, 20)
		e.until = now.Add(min(wait, t.maxWait))
	}
	return 0
}

// Release gives back an attempt that turned out not to be a failure (a
// successful sign-in, counted against a shared address), or that was never
// made (the other throttle refused it).
func (t *Throttle) Release(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.entries.Get(key)
	if !ok {
		return
	}
	e.attempts = max(e.attempts-1, 0)
	if e.attempts < t.free {
		e.until = time.Time{}
	}
}

// Succeed forgets key's attempts.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entries.Remove(key)
}

// SignInThrottle counts sign-in attempts per account and per client address.
type SignInThrottle struct {
	user, addr *Throttle
}

// NewSignInThrottle allows five attempts per account and fifty per address
// (an office behind NAT shares one) before waits doubling from 2s up to 15
// minutes.
func NewSignInThrottle() *SignInThrottle {
	return &SignInThrottle{
		user: NewThrottle(5, 2*time.Second, 15*time.Minute),
		addr: NewThrottle(50, 2*time.Second, 15*time.Minute),
	}
}

// Acquire takes an attempt for the account userKey from address addrKey,
// before the password is checked; every attempt counts as a failure until
// Succeeded says otherwise. It returns 0, or how long to wait (nothing is
// taken then).
func (s *SignInThrottle) Acquire(userKey, addrKey string) time.Duration {
	if wait := s.user.Acquire(userKey); wait > 0 {
		return wait
	}
	if wait := s.addr.Acquire(addrKey); wait > 0 {
		s.user.Release(userKey)
		return wait
	}
	return 0
}

// Succeeded records that the attempt signed in: the account's failures are
// forgotten and the address gets its attempt back (the address's other
// failures stand: it may be guessing at other accounts).
func (s *SignInThrottle) Succeeded(userKey, addrKey string) {
	s.user.Succeed(userKey)
	s.addr.Release(addrKey)
}
