package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"
)

// NotifyChannel is the PostgreSQL channel every feed write notifies. The
// notification carries only the schema written to (channels are
// database-wide, and deployments or tests may share a database in schemas
// of their own): the changes table stays the one source of truth, so a
// listener only wakes its node's poll, which reads the feed from its
// cursor (nothing is lost to a missed notification, nothing is applied
// twice).
const NotifyChannel = "scopegate_changes"

// pgNotify makes tx notify NotifyChannel on PostgreSQL. PostgreSQL delivers
// it when the transaction commits, and never if it rolls back; the several
// identical notifications of one transaction are delivered once.
func pgNotify(tx *gorm.DB) error {
	if tx.Dialector.Name() != Postgres {
		return nil
	}
	return tx.Exec("SELECT pg_notify(?, coalesce(current_schema(), ''))", NotifyChannel).Error
}

// Reconnection delays of a Listener: the first retry waits listenFirstDelay,
// then each waits twice as long, up to listenMaxDelay.
const (
	listenFirstDelay = 100 * time.Millisecond
	listenMaxDelay   = 5 * time.Second
)

// A listening connection that has been quiet for listenCheckEvery is asked
// to answer within listenPingTimeout, or is replaced. A connection whose
// peer went silent without closing it (a link dropping packets, a stalled
// proxy, a host gone) would otherwise wait for notifications for good: TCP
// keepalive takes many minutes to notice, and meanwhile changes reach the
// node only at its next poll, with nothing logged.
//
// Connecting and starting to listen are bounded by listenTimeout too: a
// server that accepts the connection and never answers would otherwise
// hold the reconnection for good, after the ping or at the first start.
const (
	listenCheckEvery = 30 * time.Second
	listenTimeout    = 10 * time.Second
)

// Listener LISTENs on NotifyChannel on a dedicated PostgreSQL connection
// (one per node, outside the pool) and calls Wake for each notification,
// so a change committed on any node is applied everywhere at once instead
// of at the next poll. A lost connection is reopened with backoff, and
// Wake is called once it is back, to catch up on what was missed meanwhile.
type Listener struct {
	DSN  string // the store's PostgreSQL DSN
	Wake func() // must not block
	// Lost, if set, is called when the connection fails or cannot be
	// opened, once per run of failures; Back when it works again.
	Lost func(err error)
	Back func()
	// CheckEvery is how long the connection may stay quiet before it must
	// answer a ping (default listenCheckEvery); Timeout bounds the ping,
	// and connecting up to LISTEN (default listenTimeout).
	CheckEvery, Timeout time.Duration

	pid atomic.Uint32 // the listening backend's pid, 0 when not connected
}

// PID returns the process id of the listening PostgreSQL backend, 0 while
// it is not connected (tests end it with pg_terminate_backend).
func (l *Listener) PID() uint32 { return l.pid.Load() }

// Run listens until ctx ends.
func (l *Listener) Run(ctx context.Context) {
	delay := listenFirstDelay
	failing := false
	for ctx.Err() == nil {
		err := l.listen(ctx, func() {
			delay = listenFirstDelay
			if failing {
				failing = false
				if l.Back != nil {
					l.Back()
				}
			}
		})
		if ctx.Err() != nil {
			return
		}
		if !failing {
			failing = true
			if l.Lost != nil {
				l.Lost(err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, listenMaxDelay)
	}
}

// listen runs one connection: it calls up, then Wake, once listening, and
// Wake for each notification about its schema; it returns the error that
// ended it.
func (l *Listener) listen(ctx context.Context, up func()) error {
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = listenTimeout
	}
	every := l.CheckEvery
	if every <= 0 {
		every = listenCheckEvery
	}
	setup, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := pgx.Connect(setup, l.DSN)
	if err != nil {
		return err
	}
	defer func() {
		l.pid.Store(0)
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	var schema string
	if err := conn.QueryRow(setup, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		return err
	}
	if _, err := conn.Exec(setup, "LISTEN "+pgx.Identifier{NotifyChannel}.Sanitize()); err != nil {
		return err
	}
	cancel()
	up()
	l.pid.Store(conn.PgConn().PID()) // after up: a test that sees the pid sees Back called
	l.Wake()                         // whatever committed while not listening
	for {
		waitCtx, cancel := context.WithTimeout(ctx, every)
		n, err := conn.WaitForNotification(waitCtx)
		quiet := waitCtx.Err() == context.DeadlineExceeded
		cancel()
		switch {
		case err != nil && quiet && ctx.Err() == nil:
			// A read deadline leaves the connection usable (pgconn closes
			// it only on other errors): check that it still answers.
			if err := l.ping(ctx, conn, timeout); err != nil {
				return fmt.Errorf("the listening connection stopped answering: %w", err)
			}
		case err != nil:
			return err
		case n.Payload == schema:
			l.Wake()
		}
	}
}

// ping asks conn for an answer within timeout.
func (l *Listener) ping(ctx context.Context, conn *pgx.Conn, timeout time.Duration) error {
	pingCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return conn.Ping(pingCtx)
}
