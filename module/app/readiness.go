package app

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// Readiness is what a load balancer needs to know before it sends this node
// traffic: whether the database answers, whether a signing key is loaded
// and whether the change feed was read recently (otherwise disabling and
// revoking may not reach this node).
type Readiness struct {
	Ready bool
	// Checks maps "database", "keys" and "change_feed" to "ok" or to what
	// is wrong. It names no host, user or DSN: health URLs are often public.
	Checks map[string]string
}

// pingTimeout bounds the readiness check's database ping.
const pingTimeout = 2 * time.Second

// minFeedAge is the least time without a read of the change feed that
// makes a node not ready, whatever the poll interval: a poll may take a
// moment on a busy database.
const minFeedAge = 5 * time.Second

// Readiness checks the node (see Readiness). It opens the runtime if no
// request has yet.
func (a *App) Readiness(ctx context.Context) Readiness {
	rt := a.runtime()
	if rt == nil {
		return Readiness{Checks: map[string]string{
			"database": "not open", "keys": "not loaded", "change_feed": "not read",
		}}
	}
	res := Readiness{Ready: true, Checks: map[string]string{"database": "ok", "keys": "ok", "change_feed": "ok"}}
	fail := func(check, what string) {
		res.Ready = false
		res.Checks[check] = what
	}
	pingCtx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := rt.Store.Ping(pingCtx); err != nil {
		fail("database", "unavailable")
		a.logger.Debug("readiness: the database ping failed", zap.Error(err))
	}
	if rt.Keys.SigningKID() == "" {
		fail("keys", "no signing key loaded")
	}
	if age := rt.feedAge(time.Now()); rt.feedStale(age) {
		fail("change_feed", fmt.Sprintf("last read %s ago", age.Round(time.Second)))
	}
	return res
}

// feedStale reports whether the change feed, last read age ago, is too old
// for this node to know that what it caches still stands (a client
// disabled, rotated or narrowed on another node): the node is not ready,
// and authenticates clients from the database (AuthenticateClient).
func (rt *Runtime) feedStale(age time.Duration) bool {
	return age > max(10*rt.every, minFeedAge)
}
