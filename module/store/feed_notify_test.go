package store_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// notifyWait is how long a notification may take on a busy machine.
const notifyWait = 10 * time.Second

// listening runs a Listener on dsn until the test ends and waits until it
// listens. Its wakes arrive on the returned channel (size 1, like the
// watcher's); lost and back count its Lost and Back calls.
type listening struct {
	l          *store.Listener
	wakes      chan struct{}
	woken      atomic.Int64 // Wake calls
	mu         sync.Mutex
	lost, back int
}

func listen(t *testing.T, dsn string, configure ...func(*store.Listener)) *listening {
	t.Helper()
	ln := &listening{wakes: make(chan struct{}, 1)}
	ln.l = &store.Listener{
		DSN: dsn,
		Wake: func() {
			ln.woken.Add(1)
			select {
			case ln.wakes <- struct{}{}:
			default:
			}
		},
		Lost: func(error) { ln.mu.Lock(); ln.lost++; ln.mu.Unlock() },
		Back: func() { ln.mu.Lock(); ln.back++; ln.mu.Unlock() },
	}
	for _, f := range configure {
		f(ln.l)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ln.l.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(notifyWait):
			t.Error("the listener did not stop when its context ended")
		}
	})
	ln.waitConnected(t)
	return ln
}

func (ln *listening) waitConnected(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(notifyWait)
	for ln.l.PID() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the listener did not connect")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// drain forgets wakes so far (the one on connecting).
func (ln *listening) drain() {
	select {
	case <-ln.wakes:
	default:
	}
}

func (ln *listening) waitWake(t *testing.T, what string) {
	t.Helper()
	select {
	case <-ln.wakes:
	case <-time.After(notifyWait):
		t.Fatalf("no wake within %v: %s", notifyWait, what)
	}
}

func (ln *listening) counts() (lost, back int) {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	return ln.lost, ln.back
}

// wakesOnCommit checks that a feed entry committed on a connection of its
// own wakes ln.
func (ln *listening) wakesOnCommit(t *testing.T, dsn, when string) {
	t.Helper()
	s, err := store.Open(store.Postgres, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln.drain()
	if err := s.Notify(context.Background(), store.Change{Kind: store.ChangeGeneral}); err != nil {
		t.Fatal(err)
	}
	ln.waitWake(t, "a feed entry committed "+when)
}

// On PostgreSQL a committed feed write wakes a listener of its schema on
// another connection, once; a write to another schema of the same database
// (another deployment's, or another test's) does not.
func TestListenerWakesOnCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn := storetest.DSN(t, store.Postgres)
	s, err := store.Open(store.Postgres, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other := storetest.Open(t, store.Postgres)
	ln := listen(t, dsn)
	ln.waitWake(t, "connected") // the catch-up wake
	before := ln.woken.Load()

	if err := other.Notify(ctx, store.Change{Kind: store.ChangeGeneral}); err != nil {
		t.Fatal(err)
	}
	if err := s.Notify(ctx, store.Change{Kind: store.ChangeGeneral}); err != nil {
		t.Fatal(err)
	}
	ln.waitWake(t, "a feed entry committed")
	// PostgreSQL delivers notifications in commit order: had the other
	// schema's woken the listener, it would have by now, or shortly.
	time.Sleep(300 * time.Millisecond)
	if n := ln.woken.Load() - before; n != 1 {
		t.Fatalf("woken %d times by one write to its schema and one to another, want 1", n)
	}
}

// A listener whose connection is lost (the database goes away) reports it
// once, keeps retrying with backoff, and once the database is back listens
// again, reports it, and wakes its node to catch up on what it missed.
func TestListenerReconnects(t *testing.T) {
	t.Parallel()
	o := storetest.NewOutage(t, store.Postgres)
	ln := listen(t, o.DSN)
	ln.drain()

	o.Cut(t, nil)
	deadline := time.Now().Add(notifyWait)
	for lost, _ := ln.counts(); lost == 0 || ln.l.PID() != 0; lost, _ = ln.counts() {
		if time.Now().After(deadline) {
			t.Fatal("the lost connection was not reported")
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond) // several failed reconnections
	if lost, back := ln.counts(); lost != 1 || back != 0 {
		t.Fatalf("during the outage: Lost called %d times, Back %d; want 1, 0", lost, back)
	}
	ln.drain()

	o.Restore(t)
	ln.waitConnected(t)
	ln.waitWake(t, "reconnected")
	if lost, back := ln.counts(); lost != 1 || back != 1 {
		t.Fatalf("after the outage: Lost called %d times, Back %d; want 1, 1", lost, back)
	}

	ln.wakesOnCommit(t, o.DSN, "after reconnecting")
}

// A listening connection that goes silent without closing (a link dropping
// packets, a stalled proxy) is noticed at its next quiet check: the ping
// gets no answer, the loss is reported, and the listener connects anew and
// wakes on commits again. Before, it waited on the silent connection for
// good, and changes reached the node only at its next poll.
func TestListenerReplacesASilentConnection(t *testing.T) {
	t.Parallel()
	o := storetest.NewOutage(t, store.Postgres)
	ln := listen(t, o.DSN, func(l *store.Listener) { l.CheckEvery, l.Timeout = 200*time.Millisecond, 2*time.Second })
	silent := ln.l.PID()

	o.Freeze(t) // the listening connection goes silent; new ones work
	deadline := time.Now().Add(time.Minute)
	for pid := ln.l.PID(); pid == 0 || pid == silent; pid = ln.l.PID() {
		if time.Now().After(deadline) {
			t.Fatal("the listener still waits on its silent connection")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if lost, back := ln.counts(); lost < 1 || back < 1 {
		t.Errorf("Lost called %d times, Back %d: the silent connection was replaced unreported", lost, back)
	}
	ln.wakesOnCommit(t, o.DSN, "after the new connection")
}

// Connecting is bounded too: a listener whose server accepts the
// connection and never answers (a stalled proxy, at the first start or when
// reconnecting after a silent connection) reports the loss and retries,
// instead of waiting in the handshake for good.
func TestListenerGivesUpOnASilentServer(t *testing.T) {
	t.Parallel()
	var lost atomic.Int32
	l := &store.Listener{
		DSN:     fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=test sslmode=disable", silentServer(t)),
		Timeout: 300 * time.Millisecond,
		Wake:    func() {},
		Lost:    func(error) { lost.Add(1) },
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(time.Minute)
	for lost.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the listener still waits on a server that never answers")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
