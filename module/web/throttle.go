package web

import (
	"crypto/sha256"
	"encoding/binary"
	"net"
	"slices"
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
	keys    int              // the cache's size
	now     func() time.Time // time.Now; tests move it
}

type throttleEntry struct {
	attempts int // taken and not given back
	until    time.Time
}

// throttleKeys bounds the keys a Throttle remembers.
const throttleKeys = 100_000

// NewThrottle lets free attempts per key through at once, then makes the
// key wait base, 2×base, … up to maxWait between attempts.
func NewThrottle(free int, base, maxWait time.Duration) *Throttle {
	return newThrottle(free, base, maxWait, throttleKeys)
}

func newThrottle(free int, base, maxWait time.Duration, keys int) *Throttle {
	c, _ := lru.New[string, *throttleEntry](keys)
	return &Throttle{free: max(free, 1), base: base, maxWait: maxWait, entries: c, keys: keys, now: time.Now}
}

// Acquire takes an attempt for key and returns 0, or returns how long key
// must still wait and takes nothing. Taking and counting happen under one
// lock, so of any number of concurrent attempts at most free get through
// before the first wait.
func (t *Throttle) Acquire(key string) time.Duration {
	wait, _ := t.acquire(key)
	return wait
}

// acquire is Acquire, also returning the attempts key holds once this one
// is taken (0 when it waits).
func (t *Throttle) acquire(key string) (time.Duration, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	e, ok := t.entries.Get(key)
	if !ok {
		// Full, a new key would push out the least recently used one. If
		// that one is still made to wait, pushing it out would lift its
		// wait (a flood of made-up names would reset a guessed account's
		// lock), so the new key waits instead, until that wait ends.
		if t.entries.Len() >= t.keys {
			if _, oldest, ok := t.entries.GetOldest(); ok && oldest.until.After(now) {
				return oldest.until.Sub(now), 0
			}
		}
		e = &throttleEntry{}
		t.entries.Add(key, e)
	}
	if wait := e.until.Sub(now); wait > 0 {
		return wait, 0
	}
	e.attempts++
	if e.attempts >= t.free {
		wait := t.base << min(e.attempts-t.free, 20)
		e.until = now.Add(min(wait, t.maxWait))
	}
	return 0, e.attempts
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
	if e.attempts == 0 {
		// Nothing left to remember: an entry kept at zero would fill the
		// cache for free (a refused attempt costs no password check).
		t.entries.Remove(key)
	}
}

// Succeed forgets key's attempts.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.entries.Remove(key)
}

// SignInThrottle counts sign-in attempts per account and per client
// address. One serves every sign-in form of the process that shares a
// database (the console and every authorize page), so a form is no way
// around another's count.
//
// An account's attempts from an address it has signed in from before (the
// last few, per node) are counted apart from the rest: someone guessing at
// the account from elsewhere makes everyone else wait, but not its owner at
// their usual address. Every other address has a count of its own for the
// account (pair), which makes it wait as the account's did, and adds only
// its first perAddressShare attempts to the account's shared count (user):
// one address alone then makes the account's other addresses wait a few
// seconds at most, not for good with one guess each quarter hour (the
// count never wears off; resource-exhaustion red team), while guesses from
// many addresses still add up there. The attempts of addresses past their
// share go on a second count of the account (beyond), which only such
// addresses consult: however many there are, they share one schedule of
// waits, so more addresses do not mean more guesses (a review found that
// each address past its share guessed on a schedule of its own).
type SignInThrottle struct {
	user, addr *Throttle
	pair       *Throttle // account and address
	beyond     *Throttle // account, for addresses past their share
	mu         sync.Mutex
	known      *lru.Cache[string, []string] // account -> its recent sign-in addresses
	checking   map[string]int               // address -> its sign-ins waiting for or in a password check
}

// knownAddrs is how many recent sign-in addresses an account keeps.
const knownAddrs = 4

// NewSignInThrottle allows five attempts per account and fifty per address
// (an office behind NAT shares one) before waits doubling from 2s up to 15
// minutes.
func NewSignInThrottle() *SignInThrottle {
	known, _ := lru.New[string, []string](throttleKeys)
	return &SignInThrottle{
		user:     NewThrottle(5, 2*time.Second, 15*time.Minute),
		pair:     NewThrottle(5, 2*time.Second, 15*time.Minute),
		beyond:   NewThrottle(1, 2*time.Second, 15*time.Minute),
		addr:     NewThrottle(50, 2*time.Second, 15*time.Minute),
		known:    known,
		checking: map[string]int{},
	}
}

// perAddressShare is how many of an address's attempts at an account
// count towards the account's shared count (as many as the account lets
// through at once).
const perAddressShare = 5

// SignInAttempt is an attempt Acquire let through.
type SignInAttempt struct {
	s                           *SignInThrottle
	account, counted, pair, adr string
	on                          *Throttle // the count counted is kept in: user or beyond
}

// Acquire takes an attempt for the account userKey from the client IP ip,
// before the password is checked; every attempt counts as a failure until
// Succeeded says otherwise. It returns the attempt, or how long to wait
// (nothing is taken then). The address is counted first: an address made
// to wait adds nothing to the accounts' memory, so it cannot crowd out an
// account's count.
func (s *SignInThrottle) Acquire(userKey, ip string) (SignInAttempt, time.Duration) {
	adr := AddressKey(ip)
	if wait := s.addr.Acquire(adr); wait > 0 {
		return SignInAttempt{}, wait
	}
	// The keys are digests of length-prefixed parts: fixed size whatever
	// the form sent (64 KiB usernames), and no username can spell another
	// account's key (a NUL in "ada\x00192.0.2.1" is not a separator).
	userKey = throttleKey("account", userKey)
	if s.knows(userKey, adr) {
		counted := throttleKey("known", userKey, adr)
		if wait := s.user.Acquire(counted); wait > 0 {
			s.addr.Release(adr)
			return SignInAttempt{}, wait
		}
		return SignInAttempt{s: s, account: userKey, counted: counted, adr: adr, on: s.user}, 0
	}
	pair := throttleKey("pair", userKey, adr)
	wait, n := s.pair.acquire(pair)
	if wait > 0 {
		s.addr.Release(adr)
		return SignInAttempt{}, wait
	}
	on := s.user
	if n > perAddressShare {
		on = s.beyond
	}
	if wait := on.Acquire(userKey); wait > 0 {
		s.pair.Release(pair)
		s.addr.Release(adr)
		return SignInAttempt{}, wait
	}
	return SignInAttempt{s: s, account: userKey, counted: userKey, pair: pair, adr: adr, on: on}, 0
}

// Succeeded records that the attempt signed in: the failures it was counted
// with are forgotten, the address gets its attempt back (its other failures
// stand: it may be guessing at other accounts) and becomes one the account
// is known to sign in from.
func (at SignInAttempt) Succeeded() {
	s := at.s
	if s == nil {
		return
	}
	if at.pair != "" {
		// From an address not known yet: the account's counts are
		// forgotten too, as from any address before.
		s.user.Succeed(at.account)
		s.beyond.Succeed(at.account)
		s.pair.Succeed(at.pair)
	} else {
		s.user.Succeed(at.counted)
	}
	s.addr.Release(at.adr)
	s.mu.Lock()
	defer s.mu.Unlock()
	addrs, _ := s.known.Get(at.account)
	addrs = append([]string{at.adr}, slices.DeleteFunc(slices.Clone(addrs), func(a string) bool { return a == at.adr })...)
	s.known.Add(at.account, addrs[:min(len(addrs), knownAddrs)])
}

// Abandon gives the attempt back unchecked: the server failed before the
// password check (its database did), which is no guess of the caller's.
func (at SignInAttempt) Abandon() {
	if at.s == nil {
		return
	}
	at.on.Release(at.counted)
	if at.pair != "" {
		at.s.pair.Release(at.pair)
	}
	at.s.addr.Release(at.adr)
}

func (s *SignInThrottle) knows(account, adr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	addrs, _ := s.known.Peek(account)
	return slices.Contains(addrs, adr)
}

// throttleKey is the SHA-256 of kind and parts, each length-prefixed.
func throttleKey(kind string, parts ...string) string {
	h := sha256.New()
	for _, p := range append([]string{kind}, parts...) {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(p))))
		h.Write([]byte(p))
	}
	return string(h.Sum(nil))
}

// AddressKey is what an address is counted by: an IPv4 address itself, an
// IPv6 address its /64 (one host commonly holds the whole /64, and would
// otherwise get a fresh count from every address in it).
func AddressKey(ip string) string {
	a := net.ParseIP(ip)
	if a == nil || a.To4() != nil {
		return ip
	}
	return a.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
