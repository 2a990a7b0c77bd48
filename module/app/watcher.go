package app

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/store"
)

// How long change-feed entries are kept: far longer than any node's poll
// interval, so a node that hiccups still sees every change.
const feedRetention = 10 * time.Minute

// On PostgreSQL a feed entry takes its id when inserted but becomes visible
// when its transaction commits, so a higher id can be seen first. Missing
// ids are looked for again for gapWait (those of rolled-back transactions
// never appear); at most maxGaps are tracked.
const (
	gapWait = time.Minute
	maxGaps = 10_000
)

// pollTimeout bounds one poll of the change feed.
const pollTimeout = 10 * time.Second

// feedBatch is how many feed entries one query reads.
const feedBatch = 500

// startWatcher polls the change feed so that disabling, deleting, revoking
// and key rotation made on any node reach this node's caches within one
// poll interval; it also runs the periodic clean-up that keeps tables bounded.
// On PostgreSQL a listener on dsn wakes it as soon as a change commits, so
// changes reach every node at once; the poll stays, as the fallback.
func (rt *Runtime) startWatcher(every time.Duration, dsn string, listen bool) {
	rt.every = every
	rt.stop = make(chan struct{})
	rt.done = make(chan struct{})
	wake := make(chan struct{}, 1)
	listenCtx, stopListening := context.WithCancel(context.Background())
	listening := make(chan struct{})
	if listen && rt.Store.Driver == store.Postgres {
		rt.listener = &store.Listener{
			DSN: dsn,
			Wake: func() {
				select {
				case wake <- struct{}{}:
				default: // a poll is due already, and reads everything
				}
			},
			Lost: func(err error) {
				rt.logger.Warn("listening for changes failed; reconnecting, polling meanwhile",
					zap.Error(err), zap.Bool("database_unavailable", store.Unavailable(err)))
			},
			Back: func() { rt.logger.Info("listening for changes again") },
		}
		go func() {
			defer close(listening)
			rt.listener.Run(listenCtx)
		}()
	} else {
		close(listening)
	}
	go func() {
		defer close(rt.done)
		defer func() { stopListening(); <-listening }()
		tick := time.NewTicker(every)
		defer tick.Stop()
		nextCleanup := time.Now().Add(time.Minute)
		for {
			select {
			case <-rt.stop:
				return
			case <-tick.C:
			case <-wake:
			}
			ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
			rt.polled(time.Now(), rt.Poll(ctx))
			if time.Now().After(nextCleanup) {
				nextCleanup = time.Now().Add(5 * time.Minute)
				if err := rt.cleanup(ctx); err != nil {
					rt.logger.Warn("cleaning up expired rows", zap.Error(err))
				}
			}
			cancel()
		}
	}()
}

// Poll applies the feed entries this node has not seen yet. The cursor
// (lastSeen, gaps) moves past a batch only once the batch is applied: if
// reading the revocations or the keys fails, the next poll reads the same
// entries again instead of skipping them for good.
func (rt *Runtime) Poll(ctx context.Context) error {
	rt.pollMu.Lock()
	defer rt.pollMu.Unlock()
	now := time.Now()
	from := rt.lastSeen
	for id, since := range rt.gaps {
		if now.Sub(since) > gapWait {
			// Given up on: a transaction that committed its entry later
			// than that would go unseen, so everything is read afresh.
			delete(rt.gaps, id)
			rt.needResync = true
		} else if id-1 < from {
			from = id - 1
		}
	}
	if !rt.resyncAt.IsZero() && now.After(rt.resyncAt) {
		rt.resyncAt, rt.needResync = time.Time{}, true
	}
	if rt.needResync || rt.feedAge(now) > resyncAfter {
		if err := rt.resync(ctx); err != nil {
			return err
		}
	}
	for {
		changes, err := rt.feed.Since(ctx, from, feedBatch)
		if err != nil {
			return err
		}
		last := rt.lastSeen
		var filled, missed []uint64 // gaps this batch fills, ids it skips over
		todo := changes[:0:0]
		for _, c := range changes {
			if c.ID <= last {
				if _, gap := rt.gaps[c.ID]; !gap {
					continue // applied already
				}
				filled = append(filled, c.ID)
			} else {
				for id := last + 1; id < c.ID; id++ {
					if len(rt.gaps)+len(missed) >= maxGaps {
						// Ids not tracked: one committing later would go
						// unseen, so everything is read afresh, at the next
						// poll and once more when a transaction holding
						// one has surely ended.
						rt.needResync, rt.resyncAt = true, now.Add(gapWait)
						break
					}
					missed = append(missed, id)
				}
				last = c.ID
			}
			todo = append(todo, c)
		}
		if err := rt.apply(ctx, todo); err != nil {
			return err
		}
		for _, id := range filled {
			delete(rt.gaps, id)
		}
		for _, id := range missed {
			rt.gaps[id] = now
		}
		rt.lastSeen = last
		if len(changes) < feedBatch {
			rt.feedRead.Store(time.Now().UnixNano())
			return nil
		}
		from = changes[len(changes)-1].ID
	}
}

// resyncAfter is how long the feed may go unread before a node stops
// trusting it to say what changed: cleanup deletes entries after
// feedRetention whether or not every node has read them, so a node cut off
// from the database longer than that would otherwise never learn of a
// disable, a revocation or a retired key made meanwhile.
const resyncAfter = feedRetention / 2

// resync forgets every cached client, user and token and reloads the
// revocations and the keys from the database, as at start. Until it
// succeeds the feed counts as unread (readiness reports it), and the next
// poll tries again.
func (rt *Runtime) resync(ctx context.Context) error {
	rt.needResync = true
	rt.clients.forgetAll()
	rt.users.forgetAll()
	rt.tokens.forgetAll()
	if err := rt.reloadRevocations(ctx); err != nil {
		return err
	}
	if err := rt.Keys.Load(ctx); err != nil {
		return err
	}
	rt.needResync = false
	rt.logger.Warn("the change feed could not tell everything that changed (unread too long, or an entry never arrived); every cache was dropped and revocations and keys reloaded")
	return nil
}

// apply drops what the changes make stale. Forgetting cannot fail and may be
// repeated; the reads can fail, and then the caller keeps its cursor.
func (rt *Runtime) apply(ctx context.Context, changes []store.Change) error {
	var revoked []string
	marks := map[subjectKey]bool{}
	keys := false
	for _, c := range changes {
		switch c.Kind {
		case store.ChangeClient:
			rt.ForgetClient(c.ClientID)
		case store.ChangeUser:
			rt.ForgetUser(c.UserID)
		case store.ChangeRevoke:
			revoked = append(revoked, c.JTI)
		case store.ChangeKeys:
			keys = true
		case store.ChangeWatermark:
			marks[subjectKey{c.ClientID, c.UserID}] = true
		}
	}
	if len(revoked) > 0 {
		now := time.Now()
		revs, err := rt.Store.RevocationsOf(ctx, revoked, now)
		if err != nil {
			return err
		}
		for _, r := range revs {
			rt.MarkRevoked(r)
		}
	}
	if err := rt.applyWatermarks(ctx, marks); err != nil {
		return err
	}
	if keys {
		if err := rt.Keys.Load(ctx); err != nil {
			return err
		}
	}
	return nil
}

// applyOwn is the store's OnChange hook: a change this node just committed
// is applied from its feed entry before the write returns, the way every
// other node applies it. Should that fail, the watcher applies it at its
// next poll.
func (rt *Runtime) applyOwn(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pollTimeout)
	defer cancel()
	if err := rt.Poll(ctx); err != nil {
		rt.logger.Warn("applying this node's own change; the watcher will retry", zap.Error(err))
	}
}

// feedAge is how long before now the change feed was last read successfully
// (by the watcher or by this node's own write).
func (rt *Runtime) feedAge(now time.Time) time.Duration {
	return max(now.Sub(time.Unix(0, rt.feedRead.Load())), 0)
}

func (rt *Runtime) cleanup(ctx context.Context) error {
	now := time.Now().UTC()
	// Usage rows are kept two days past their day in any time zone.
	oldest := now.Add(-72 * time.Hour).Format(time.DateOnly)
	if err := rt.Store.Cleanup(ctx, now, feedRetention, oldest); err != nil {
		return err
	}
	rt.revoked.purge(now)
	return nil
}

// polled logs the outcome of a watcher poll at now: failures with backoff
// (an outage would otherwise log a warning every poll interval), and the
// first success after them once.
func (rt *Runtime) polled(now time.Time, err error) {
	if err == nil {
		if n, lasted := rt.pollLog.succeeded(now); n > 0 {
			rt.logger.Info("the change feed is reachable again",
				zap.Int("failed_polls", n), zap.Duration("after", lasted))
		}
		return
	}
	metrics.pollFailures.Inc()
	if rt.pollLog.failed(now) {
		rt.logger.Warn("polling the change feed failed; caches may be stale until it succeeds",
			zap.Error(err), zap.Bool("database_unavailable", store.Unavailable(err)),
			zap.Int("failed_polls", rt.pollLog.failures), zap.Duration("since", now.Sub(rt.pollLog.first)))
	}
}

// Warnings about a run of failures back off: the first is logged at once,
// the next warnFirstDelay later, then at doubling delays up to warnMaxDelay.
const (
	warnFirstDelay = 2 * time.Second
	warnMaxDelay   = 2 * time.Minute
)

// backoffLog decides which of a run of failures to log.
type backoffLog struct {
	failures int           // since the last success
	first    time.Time     // the first failure of the run
	next     time.Time     // no warning before then
	delay    time.Duration // after the next warning, the one after waits this long
}

// failed records a failure at now and reports whether to log it.
func (b *backoffLog) failed(now time.Time) bool {
	b.failures++
	if b.failures == 1 {
		b.first, b.next, b.delay = now, now.Add(warnFirstDelay), warnFirstDelay
		return true
	}
	if now.Before(b.next) {
		return false
	}
	b.delay = min(2*b.delay, warnMaxDelay)
	b.next = now.Add(b.delay)
	return true
}

// succeeded ends a run of failures: it returns how many there were and how
// long the run lasted (0 failures when there was none).
func (b *backoffLog) succeeded(now time.Time) (failures int, lasted time.Duration) {
	if b.failures == 0 {
		return 0, 0
	}
	failures, lasted = b.failures, now.Sub(b.first)
	*b = backoffLog{}
	return failures, lasted
}
