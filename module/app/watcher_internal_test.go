package app

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/token"
)

// During an outage every poll fails (twice a second by default). The
// watcher warns at the first failure, then at doubling intervals capped at
// warnMaxDelay, not once per poll; the first success after the outage is
// logged once, and a later outage warns at once again.
func TestPollWarningsBackOff(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	rt := &Runtime{logger: zap.New(core)}
	const every = 500 * time.Millisecond
	start := time.Now()
	at := func(i int) time.Time { return start.Add(time.Duration(i) * every) }
	outage := errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")
	const polls = 7200 // an hour
	for i := range polls {
		rt.polled(at(i), outage)
	}
	warnings := logs.FilterLevelExact(zap.WarnLevel).AllUntimed()
	// 1 at once, then after 2s, 4s ... 64s, then every 120s: 37 in an hour.
	if n := len(warnings); n < 2 || n > 40 {
		t.Fatalf("%d failed polls logged %d warnings, want a few dozen at most", polls, n)
	}
	for i := 1; i < len(warnings); i++ {
		gap := warnings[i].ContextMap()["failed_polls"].(int64) - warnings[i-1].ContextMap()["failed_polls"].(int64)
		if time.Duration(gap)*every > warnMaxDelay+every {
			t.Fatalf("warning %d came %d polls after the previous one, past the cap of %v", i, gap, warnMaxDelay)
		}
	}

	rt.polled(at(polls), nil)
	rt.polled(at(polls+1), nil)
	recovered := logs.FilterMessage("the change feed is reachable again").AllUntimed()
	if len(recovered) != 1 || recovered[0].ContextMap()["failed_polls"].(int64) != polls {
		t.Fatalf("recovery logged %d times (%v), want once with %d failed polls", len(recovered), recovered, polls)
	}

	before := logs.FilterLevelExact(zap.WarnLevel).Len()
	rt.polled(at(polls+2), outage)
	if logs.FilterLevelExact(zap.WarnLevel).Len() != before+1 {
		t.Fatal("the first failure of a new outage is not logged at once")
	}
}

// Ids skipped once maxGaps are tracked are not looked for again, so the
// node reads everything afresh at its next poll (needResync) instead of
// passing over a late commit among them for good.
func TestGapsPastTheCapResync(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t, store.SQLite)
	rt := &Runtime{Store: st, feed: st.Feed(), gaps: map[uint64]time.Time{}, logger: zap.NewNop(),
		clients: newRowCache[store.Client](rowCacheSize, missCacheSize),
		users:   newRowCache[store.User](rowCacheSize, missCacheSize),
		tokens:  newTokenCache(16), revoked: newRevokedSet()}
	for range 3 {
		if err := st.Notify(ctx, store.Change{Kind: store.ChangeGeneral}); err != nil {
			t.Fatal(err)
		}
	}
	first, err := st.Feed().Since(ctx, 0, 3)
	if err != nil || len(first) != 3 {
		t.Fatalf("set-up: %v, %v", first, err)
	}
	if err := st.DB.Delete(&store.Change{}, first[1].ID).Error; err != nil { // a gap, as an entry still committing leaves
		t.Fatal(err)
	}
	now := time.Now()
	for i := range maxGaps {
		rt.gaps[first[2].ID+1_000_000+uint64(i)] = now
	}
	rt.lastSeen = first[0].ID - 1
	rt.feedRead.Store(now.UnixNano()) // read just now: no resync for its age
	if err := rt.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, tracked := rt.gaps[first[1].ID]; tracked || !rt.needResync {
		t.Fatalf("gap tracked %v, needResync %v; want untracked and a resync due", tracked, rt.needResync)
	}
	// A transaction holding the untracked id may commit after that resync
	// (up to TxTimeout): another is due once it has surely ended (review).
	if want := now.Add(gapWait); rt.resyncAt.Before(want.Add(-time.Second)) || rt.resyncAt.After(want.Add(time.Second)) {
		t.Fatalf("second resync due at %v, want about %v", rt.resyncAt, want)
	}
	rt.needResync, rt.resyncAt = false, now.Add(-time.Millisecond) // as if gapWait had passed
	rt.gaps = map[uint64]time.Time{}
	rt.feedRead.Store(time.Now().UnixNano())
	rt.Keys = token.NewKeyRing(st, sealer(t))
	if err := rt.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if !rt.resyncAt.IsZero() || rt.needResync {
		t.Fatalf("the due resync did not run: resyncAt %v, needResync %v", rt.resyncAt, rt.needResync)
	}
}

// sealer is a sealer under a fixed test key.
func sealer(t *testing.T) *secret.Sealer {
	t.Helper()
	s, err := secret.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
