package store_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"gorm.io/gorm"
)

// Two rotations of one secret at once end as if run one after the other:
// the secret the first replaced is gone, the last one's previous secret is
// the first one's new secret, and no rotation's secret is lost. On
// PostgreSQL the test holds the client's row until both rotations wait on
// it, the interleaving in which both used to read the original secret and
// keep it alive (for the grace the first one had refused it, even).
func TestConcurrentRotationsKeepOnlyTheLastTwoSecrets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s) // client c1, secret "d1"

		release, holderPID := func() {}, 0
		if driver == store.Postgres {
			holder := s.DB.WithContext(ctx).Begin()
			t.Cleanup(func() { holder.Rollback() }) // a failed wait must not leave the others blocked
			if err := holder.Exec(`SELECT id FROM clients WHERE id = 'c1' FOR UPDATE`).Error; err != nil {
				t.Fatal(err)
			}
			holderPID = backendPID(t, holder)
			release = func() {
				if err := holder.Commit().Error; err != nil {
					t.Error(err)
				}
			}
		}
		grace := time.Now().Add(time.Hour)
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for _, d := range []string{"d2", "d3"} {
			wg.Go(func() { errs <- s.RotateSecret(ctx, "c1", d, []byte(d), &grace, admin) })
		}
		if driver == store.Postgres {
			awaitWaiters(t, s, holderPID, 2)
		}
		release()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("rotate: %v", err)
			}
		}
		got, err := s.GetClient(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		pair := got.SecretDigest + "," + got.PreviousSecretDigest
		if pair != "d2,d3" && pair != "d3,d2" {
			t.Fatalf("after two rotations the secret and the previous one are %q, want d2 and d3 in some order (d1 must be gone)", pair)
		}
	})
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

// A daily allowance is counted only for a client that exists: one deleted
// before it asks, or while it asks, gets ErrNotFound (the token endpoint's
// invalid_client) rather than a count, an error of the database (a 500), or
// a usage row the delete left behind. On PostgreSQL the test holds an
// uncommitted delete of the client until the count waits for it.
func TestAllowanceOfADeletedClient(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s) // client c1
		if _, err := s.ConsumeAllowance(ctx, "ghost", "u", "2026-12-04", 60, 600); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("allowance of a client that never existed: %v, want ErrNotFound", err)
		}
		if driver == store.Postgres {
			deleting := s.DB.WithContext(ctx).Begin()
			t.Cleanup(func() { deleting.Rollback() }) // a failed wait must not leave the count blocked
			if err := deleting.Exec(`DELETE FROM clients WHERE id = 'c1'`).Error; err != nil {
				t.Fatal(err)
			}
			got := make(chan error, 1)
			go func() {
				_, err := s.ConsumeAllowance(ctx, "c1", "u", "2026-12-04", 60, 600)
				got <- err
			}()
			awaitWaiters(t, s, backendPID(t, deleting), 1)
			if err := deleting.Commit().Error; err != nil {
				t.Fatal(err)
			}
			if err := <-got; !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("allowance asked during the client's delete: %v, want ErrNotFound", err)
			}
		} else if err := s.DeleteClient(ctx, "c1", admin); err != nil {
			t.Fatal(err)
		}
		var rows int64
		s.DB.Model(&store.DailyUsage{}).Count(&rows)
		if rows != 0 {
			t.Fatalf("%d usage rows left for deleted or unknown clients", rows)
		}
	})
}
