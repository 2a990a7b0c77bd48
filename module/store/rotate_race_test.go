package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
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

		held := holdLock(t, s, driver, `SELECT id FROM clients WHERE id = 'c1' FOR UPDATE`)
		grace := time.Now().Add(time.Hour)
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for _, d := range []string{"d2", "d3"} {
			wg.Go(func() { errs <- s.RotateSecret(ctx, "c1", d, []byte(d), &grace, admin) })
		}
		held.awaitWaiters(2)
		held.release()
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
			deleting := holdLock(t, s, driver, `DELETE FROM clients WHERE id = 'c1'`)
			got := make(chan error, 1)
			go func() {
				_, err := s.ConsumeAllowance(ctx, "c1", "u", "2026-12-04", 60, 600)
				got <- err
			}()
			deleting.awaitWaiters(1)
			deleting.release()
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
