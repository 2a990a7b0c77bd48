package store_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/scopegate/scopegate/module/store"
)

// heldLock is a PostgreSQL transaction holding a lock while a test starts
// the writes that must wait for it, so that they all reach the point where
// they race; on SQLite, whose write transactions are serial, it holds
// nothing.
type heldLock struct {
	t   *testing.T
	s   *store.Store
	tx  *gorm.DB
	pid int
}

// holdLock runs statement in a transaction left open on PostgreSQL.
func holdLock(t *testing.T, s *store.Store, driver, statement string) *heldLock {
	t.Helper()
	h := &heldLock{t: t, s: s}
	if driver != store.Postgres {
		return h
	}
	h.tx = s.DB.WithContext(context.Background()).Begin()
	t.Cleanup(func() { h.tx.Rollback() }) // a failed wait must not leave the writes blocked
	if err := h.tx.Exec(statement).Error; err != nil {
		t.Fatal(err)
	}
	h.pid = backendPID(t, h.tx)
	return h
}

// awaitWaiters waits until n backends wait behind the held lock.
func (h *heldLock) awaitWaiters(n int) {
	h.t.Helper()
	if h.tx != nil {
		awaitWaiters(h.t, h.s, h.pid, n)
	}
}

// release commits the holding transaction.
func (h *heldLock) release() {
	h.t.Helper()
	if h.tx != nil {
		if err := h.tx.Commit().Error; err != nil {
			h.t.Error(err)
		}
	}
}

// backendPID is the PostgreSQL backend of transaction tx.
func backendPID(t *testing.T, tx *gorm.DB) int {
	t.Helper()
	var pid int
	if err := tx.Raw(`SELECT pg_backend_pid()`).Scan(&pid).Error; err != nil {
		t.Fatal(err)
	}
	return pid
}

// awaitWaiters waits until n PostgreSQL backends wait, directly or behind
// another waiter, for a lock backend holder holds (other tests' schemas
// share the server, so waiters are counted in holder's queue only).
func awaitWaiters(t *testing.T, s *store.Store, holder, n int) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		var rows []struct {
			PID      int    `gorm:"column:pid"`
			Blockers string `gorm:"column:blockers"`
		}
		err := s.DB.Raw(`SELECT pid, array_to_string(pg_blocking_pids(pid), ',') AS blockers
			FROM pg_stat_activity WHERE cardinality(pg_blocking_pids(pid)) > 0`).Scan(&rows).Error
		if err != nil {
			t.Fatal(err)
		}
		behind := map[int]bool{holder: true}
		for grew := true; grew; {
			grew = false
			for _, r := range rows {
				if behind[r.PID] {
					continue
				}
				for _, b := range strings.Split(r.Blockers, ",") {
					if pid, _ := strconv.Atoi(b); behind[pid] {
						behind[r.PID], grew = true, true
						break
					}
				}
			}
		}
		if len(behind)-1 >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d backends wait behind backend %d after a minute, want %d", len(behind)-1, holder, n)
		}
	}
}
