package web

import (
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
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() { CheckPassword("", "guess-guess") })
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
