package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// StatementTimeout bounds every query and write a request makes, and
// TxTimeout every transaction, so that a database that stops answering
// (a lock held elsewhere, a network path that drops packets) costs a
// request a 503 with Retry-After after a bounded wait instead of a hang:
// the caller's context has no deadline of its own. The statement bound
// matches SQLite's busy timeout. Migrations at start are not bounded (a
// node may wait for another node's). Variables only so that tests can
// shorten them.
var (
	StatementTimeout = 10 * time.Second
	TxTimeout        = 30 * time.Second
)

const cancelKey = "scopegate:deadline_cancel"

// boundStatements gives each create, query, update and delete a deadline
// of StatementTimeout unless its context already has an earlier one. Row
// and raw calls are left alone: a *sql.Row is scanned after its callback
// has returned, when a cancelled context would fail the scan.
func boundStatements(db *gorm.DB) {
	before := func(db *gorm.DB) {
		ctx := db.Statement.Context
		if ctx == nil {
			ctx = context.Background()
		}
		if d, ok := ctx.Deadline(); ok && time.Until(d) <= StatementTimeout {
			db.InstanceSet(cancelKey, (*deadline)(nil)) // none left from a chained call
			return
		}
		bounded, cancel := context.WithTimeout(ctx, StatementTimeout)
		db.Statement.Context = bounded
		db.InstanceSet(cancelKey, &deadline{cancel: cancel, was: ctx})
	}
	after := func(db *gorm.DB) {
		v, _ := db.InstanceGet(cancelKey)
		if d, _ := v.(*deadline); d != nil {
			d.cancel()
			// A chained query (q.Count, then q.Find) shares its
			// statement: the next call starts from the caller's context.
			db.Statement.Context = d.was
			db.InstanceSet(cancelKey, (*deadline)(nil))
		}
	}
	const b, a = "scopegate:deadline", "scopegate:deadline_end"
	cb := db.Callback()
	_ = cb.Create().Before("gorm:begin_transaction").Register(b, before)
	_ = cb.Create().After("gorm:commit_or_rollback_transaction").Register(a, after)
	_ = cb.Query().Before("gorm:query").Register(b, before)
	_ = cb.Query().After("gorm:after_query").Register(a, after)
	_ = cb.Update().Before("gorm:begin_transaction").Register(b, before)
	_ = cb.Update().After("gorm:commit_or_rollback_transaction").Register(a, after)
	_ = cb.Delete().Before("gorm:begin_transaction").Register(b, before)
	_ = cb.Delete().After("gorm:commit_or_rollback_transaction").Register(a, after)
}

// deadline is what a bounded statement restores when it ends.
type deadline struct {
	cancel context.CancelFunc
	was    context.Context // the caller's
}
