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

// startWatcher polls the change feed so that disabling, deleting, revoking
// and key rotation made on any node reach this node's caches within one
// poll interval; it also runs the periodic clean-up that keeps tables bounded.
func (rt *Runtime) startWatcher(every time.Duration) {
	rt.stop = make(chan struct{})
	rt.done = make(chan struct{})
	go func() {
		defer close(rt.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		nextCleanup := time.Now().Add(time.Minute)
		for {
			select {
			case <-rt.stop:
				return
			case <-tick.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := rt.Poll(ctx); err != nil {
				rt.logger.Warn("polling the change feed", zap.Error(err))
			}
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

// Poll applies the feed entries this node has not seen yet.
func (rt *Runtime) Poll(ctx context.Context) error {
	rt.pollMu.Lock()
	defer rt.pollMu.Unlock()
	now := time.Now()
	from := rt.lastSeen
	for id, since := range rt.gaps {
		if now.Sub(since) > gapWait {
			delete(rt.gaps, id)
		} else if id-1 < from {
			from = id - 1
		}
	}
	for {
		changes, err := rt.Store.ChangesAfter(ctx, from, 500)
		if err != nil {
			return err
		}
		revocations, keys := false, false
		for _, c := range changes {
			from = c.ID
			if c.ID <= rt.lastSeen {
				if _, missed := rt.gaps[c.ID]; !missed {
					continue // applied already
				}
				delete(rt.gaps, c.ID)
			} else {
				for id := rt.lastSeen + 1; id < c.ID && len(rt.gaps) < maxGaps; id++ {
					rt.gaps[id] = now
				}
				rt.lastSeen = c.ID
			}
			switch c.Kind {
			case store.ChangeClient:
				rt.ForgetClient(c.ClientID)
			case store.ChangeUser:
				rt.ForgetUser(c.JTI) // user changes carry the user id in jti
			case store.ChangeRevoke:
				revocations = true
			case store.ChangeKeys:
				keys = true
			}
		}
		if revocations {
			if err := rt.reloadRevocations(ctx); err != nil {
				return err
			}
		}
		if keys {
			if err := rt.Keys.Load(ctx); err != nil {
				return err
			}
		}
		if len(changes) < 500 {
			return nil
		}
	}
}

func (rt *Runtime) cleanup(ctx context.Context) error {
	now := time.Now().UTC()
	// Usage rows are kept two days past their day in any time zone.
	oldest := now.Add(-72 * time.Hour).Format(time.DateOnly)
	if err := rt.Store.Cleanup(ctx, now, feedRetention, oldest); err != nil {
		return err
	}
	rt.revokedMu.Lock()
	for jti, exp := range rt.revoked {
		if exp.Before(now) {
			delete(rt.revoked, jti)
		}
	}
	rt.revokedMu.Unlock()
	return nil
}
