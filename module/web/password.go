// Package web holds what Scopegate's browser pages share: password hashing,
// sign-in throttling, sealed session cookies, CSRF protection and the page
// layout (html/template with embedded assets, no CDN, no JavaScript needed).
package web

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// PasswordCost is the bcrypt cost of new password hashes. Tests may lower it
// (before the first check).
var PasswordCost = 12

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 10

// ErrWeakPassword means a password is too short or too long for bcrypt.
var ErrWeakPassword = errors.New("passwords need at least 10 characters and at most 72 bytes")

// HashPassword returns a slow, salted hash of password (bcrypt).
func HashPassword(password string) (string, error) {
	if utf8.RuneCountInString(password) < MinPasswordLength || len(password) > 72 {
		return "", ErrWeakPassword
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), PasswordCost)
	return string(h), err
}

// dummyHashes are hashes of nothing anyone knows, one per cost, that a
// check for a user who does not exist (or has no password) runs against so
// that it takes as long as a real one: made at PasswordCost, the cost of
// the real hashes, so the two take the same time. (A cheaper dummy made a
// missing user answer in 3 ms and a real one in 250 ms, telling which
// users, and on the console which tenants, exist.)
var dummyHashes sync.Map // int → []byte

func dummyHash() []byte {
	cost := PasswordCost
	if h, ok := dummyHashes.Load(cost); ok {
		return h.([]byte)
	}
	h, err := bcrypt.GenerateFromPassword([]byte("scopegate-timing-equaliser"), cost)
	if err != nil {
		// Only an out-of-range PasswordCost; HashPassword fails the same way.
		h, _ = bcrypt.GenerateFromPassword([]byte("scopegate-timing-equaliser"), bcrypt.DefaultCost)
	}
	h2, _ := dummyHashes.LoadOrStore(cost, h)
	return h2.([]byte)
}

// comparePassword reports whether password matches hash; its caller holds
// a turn of passwordWork. An empty hash (no such user, or a user without a
// password) never matches but does the same work as a real check: a
// comparison against a hash of PasswordCost.
func comparePassword(hash, password string) bool {
	h := []byte(hash)
	if hash == "" {
		h = dummyHash()
	}
	if obs := compareObserver.Load(); obs != nil {
		cost, _ := bcrypt.Cost(h)
		(*obs)(cost)
	}
	ok := bcrypt.CompareHashAndPassword(h, []byte(password)) == nil
	return ok && hash != ""
}

// passwordWork lets at most half the CPUs (one at least) check passwords at
// once. A check costs about 200 ms of CPU (bcrypt at cost 12), and the
// sign-in throttle bounds each address, not callers of many addresses, who
// could otherwise keep every core on bcrypt: past this bound sign-ins wait
// their turn (SignInAttempt.CheckPassword bounds the wait) while every
// other request keeps the remaining cores.
var passwordWork = make(chan struct{}, max(1, runtime.NumCPU()/2))

var compareObserver atomic.Pointer[func(cost int)]

// ObserveComparisons calls fn with the bcrypt cost of the hash every
// CheckPassword compares against, until stop is called. It is for tests
// that check every sign-in failure does the same work as a real check; one
// observer at a time.
func ObserveComparisons(fn func(cost int)) (stop func()) {
	compareObserver.Store(&fn)
	return func() { compareObserver.Store(nil) }
}
