package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A query or a transaction that the database does not answer (here: a
// table lock held by another session) ends at its deadline with an error
// the endpoints answer as 503 (store.Unavailable), instead of holding the
// request until the lock goes. Requests carry no deadline of their own.
// PostgreSQL only: SQLite's waits end at its busy timeout.
func TestStatementsAndTransactionsHaveADeadline(t *testing.T) {
	s := storetest.Open(t, store.Postgres)
	ctx := context.Background()
	c, _ := twoTenants(t, s)
	defer func(st, tx time.Duration) { store.StatementTimeout, store.TxTimeout = st, tx }(store.StatementTimeout, store.TxTimeout)
	store.StatementTimeout, store.TxTimeout = 300*time.Millisecond, time.Second

	sqlDB, err := s.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	holder, err := sqlDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := holder.ExecContext(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(ctx, "LOCK TABLE clients IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}

	if _, err := s.GetClient(ctx, c.ID); !store.Unavailable(err) {
		t.Fatalf("a query waiting on the lock answered %v, want an unavailable error", err)
	}
	c.Name = "renamed"
	if err := s.UpdateClientSettings(ctx, c, "acme", editor); !store.Unavailable(err) {
		t.Fatalf("a transaction waiting on the lock answered %v, want an unavailable error", err)
	}

	if _, err := holder.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetClient(ctx, c.ID); err != nil || got.Name != "one" {
		t.Fatalf("after the lock: %+v, %v", got, err)
	}
}
