package web

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// Password checks take turns: no more than cap(passwordWork) run at once,
// however many sign-ins arrive together (from as many addresses as the
// throttle lets through), and each waiting one runs once a slot frees. The
// observer, called inside the slot, holds it until released.
func TestPasswordChecksTakeTurns(t *testing.T) {
	slots := cap(passwordWork)
	entered := make(chan struct{}, 16)
	release := make(chan struct{})
	stop := ObserveComparisons(func(int) {
		entered <- struct{}{}
		<-release
	})
	defer stop()
	const callers = 6
	s := NewSignInThrottle()
	var wg sync.WaitGroup
	for i := range callers {
		at, _ := s.Acquire(fmt.Sprint("guesser", i), fmt.Sprintf("203.0.113.%d", i+1)) // an account and address each
		wg.Go(func() { _, _ = at.CheckPassword(context.Background(), "", "guess-guess") })
	}
	for range slots {
		<-entered
	}
	// Any check past the bound would enter at once; none may until a slot
	// frees (a slow machine only makes a breach harder to see, never a
	// false failure).
	select {
	case <-entered:
		t.Fatalf("more than %d password checks ran at once", slots)
	case <-time.After(100 * time.Millisecond):
	}
	for range callers - slots {
		release <- struct{}{}
		<-entered
	}
	for range slots {
		release <- struct{}{}
	}
	wg.Wait()
}

// holdTurns takes every turn of passwordWork with sign-ins from addresses
// of their own, each held inside its check until release is closed; it
// returns once all are inside.
func holdTurns(t *testing.T, s *SignInThrottle) (release func()) {
	t.Helper()
	entered := make(chan struct{}, cap(passwordWork))
	held := make(chan struct{})
	stop := ObserveComparisons(func(int) {
		entered <- struct{}{}
		<-held
	})
	var wg sync.WaitGroup
	for i := range cap(passwordWork) {
		at, _ := s.Acquire("holder", fmt.Sprintf("198.51.100.%d", i+1))
		wg.Go(func() { _, _ = at.CheckPassword(context.Background(), "", "guess-guess") })
	}
	for range cap(passwordWork) {
		<-entered
	}
	return func() {
		stop()
		close(held)
		wg.Wait()
	}
}

// A sign-in's password check waits its turn no longer than its caller stays
// and PasswordWaitLimit, and one address has at most MaxChecksPerAddress
// checks waiting or running: past that it is ErrSignInsAtOnce at once while
// another address still queues. Each refusal gives the attempt back (the
// address's count is as before). The DoS red team queued 80 posts, closed at
// once, ahead of a real sign-in, which waited 7 s.
func TestSignInPasswordWaitIsBounded(t *testing.T) {
	s := NewSignInThrottle()
	release := holdTurns(t, s)
	defer release()

	// Gone while waiting: returns when the caller goes, not at its turn.
	ctx, cancel := context.WithCancel(context.Background())
	at, _ := s.Acquire("ada", "192.0.2.1")
	done := make(chan error, 1)
	go func() { _, err := at.CheckPassword(ctx, "", "guess-guess"); done <- err }()
	cancel()
	if err := <-done; !errors.Is(err, ErrSignInGone) {
		t.Fatalf("a caller gone while waiting: %v, want ErrSignInGone", err)
	}

	// No turn within the limit: ErrSignInBusy.
	defer func(was time.Duration) { PasswordWaitLimit = was }(PasswordWaitLimit)
	PasswordWaitLimit = 20 * time.Millisecond
	at, _ = s.Acquire("ada", "192.0.2.1")
	if _, err := at.CheckPassword(context.Background(), "", "guess-guess"); !errors.Is(err, ErrSignInBusy) {
		t.Fatalf("no turn within the limit: %v, want ErrSignInBusy", err)
	}

	// MaxChecksPerAddress waiting from one address; the next is refused at
	// once, another address's still waits.
	PasswordWaitLimit = time.Hour
	waitCtx, stopWaiting := context.WithCancel(context.Background())
	var waiting sync.WaitGroup
	for i := range MaxChecksPerAddress {
		at, _ := s.Acquire(fmt.Sprintf("user%d", i), "192.0.2.7")
		waiting.Go(func() { _, _ = at.CheckPassword(waitCtx, "", "guess-guess") })
	}
	for !waitingFrom(s, "192.0.2.7", MaxChecksPerAddress) {
		time.Sleep(time.Millisecond) // until all are queued: an event, not a deadline
	}
	at, _ = s.Acquire("another", "192.0.2.7")
	// Bounded, so a missing refusal fails (ErrSignInGone) instead of waiting.
	bounded, cancelBounded := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelBounded()
	if _, err := at.CheckPassword(bounded, "", "guess-guess"); !errors.Is(err, ErrSignInsAtOnce) {
		t.Fatalf("check %d of one address: %v, want ErrSignInsAtOnce", MaxChecksPerAddress+1, err)
	}
	other, _ := s.Acquire("another", "192.0.2.8")
	otherDone := make(chan error, 1)
	go func() { _, err := other.CheckPassword(waitCtx, "", "guess-guess"); otherDone <- err }()
	for !waitingFrom(s, "192.0.2.8", 1) {
		time.Sleep(time.Millisecond)
	}
	stopWaiting()
	waiting.Wait()
	if err := <-otherDone; !errors.Is(err, ErrSignInGone) {
		t.Fatalf("another address's check: %v, want it to have waited (then gone)", err)
	}
	if waitingFrom(s, "192.0.2.7", 1) {
		t.Fatal("the address's checks are still counted after they ended")
	}
	// Every refusal gave its attempt back: the address's fifty are intact.
	for i := range 50 {
		if _, wait := s.Acquire(fmt.Sprintf("fresh%d", i), "192.0.2.7"); wait > 0 {
			t.Fatalf("attempt %d of the address waits %v: refused checks were counted", i+1, wait)
		}
	}
}

func waitingFrom(s *SignInThrottle, ip string, n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checking[AddressKey(ip)] >= n
}
