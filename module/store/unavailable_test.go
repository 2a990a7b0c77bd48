package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	_ "github.com/glebarez/go-sqlite" // database/sql driver "sqlite" for a second, impatient connection

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// store.Unavailable tells "the database cannot be used just now" from every
// other failure, on real failures of both databases: an outage (PostgreSQL
// unreachable, SQLite's handle closed) is unavailable; a missing row, a
// duplicate, bad SQL and a caller that gave up are not.
func TestUnavailableClassifiesRealFailures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		o := storetest.NewOutage(t, driver)
		s, err := store.Open(driver, o.DSN)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		seed(t, s)

		_, notFound := s.GetClient(ctx, "sg_nobody")
		dup := s.CreateTenant(ctx, &store.Tenant{ID: store.DefaultTenantID, Name: "again"}, admin)
		badSQL := s.DB.WithContext(ctx).Exec("SELEC 1").Error
		gone, cancel := context.WithCancel(ctx)
		cancel()
		_, canceled := s.GetClient(gone, "sg_someone")
		for name, err := range map[string]error{"not found": notFound, "duplicate": dup, "bad SQL": badSQL, "canceled": canceled} {
			if err == nil {
				t.Fatalf("set-up: %s did not fail", name)
			}
			if store.Unavailable(err) {
				t.Errorf("%s (%v) counts as the database being unavailable", name, err)
			}
		}
		if store.Unavailable(nil) {
			t.Error("nil counts as unavailable")
		}

		o.Cut(t, s)
		for name, call := range map[string]func() error{
			"read":  func() error { _, err := s.GetClient(ctx, "sg_someone"); return err },
			"write": func() error { return s.CreateTenant(ctx, &store.Tenant{ID: store.NewID(), Name: "during"}, admin) },
			"ping":  func() error { return s.Ping(ctx) },
		} {
			if err := call(); !store.Unavailable(err) {
				t.Errorf("%s during an outage: %v, not classified as unavailable", name, err)
			}
		}
	})
}

// PostgreSQL failures short of an outage that still mean "not now": no
// server on the port, a query waiting for a lock past its deadline, a
// session terminated by the server (pg_terminate_backend).
func TestUnavailablePostgres(t *testing.T) {
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := l.Addr().(*net.TCPAddr).Port
	l.Close()
	_, err = store.Open(store.Postgres, fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=test sslmode=disable connect_timeout=5", closedPort))
	if !store.Unavailable(err) {
		t.Errorf("opening a closed port: %v, not classified as unavailable", err)
	}

	s := storetest.Open(t, store.Postgres)
	seed(t, s)
	holder := s.DB.Begin()
	defer holder.Rollback()
	if err := holder.Exec("LOCK TABLE clients IN ACCESS EXCLUSIVE MODE").Error; err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = s.GetClient(short, "sg_someone")
	cancel()
	if err == nil || !store.Unavailable(err) {
		t.Errorf("a read waiting for a lock past its deadline: %v, not classified as unavailable", err)
	}
	holder.Rollback()

	victim := s.DB.Begin()
	defer victim.Rollback()
	var pid int
	if err := victim.Raw("SELECT pg_backend_pid()").Scan(&pid).Error; err != nil {
		t.Fatal(err)
	}
	if err := s.DB.Exec("SELECT pg_terminate_backend(?)", pid).Error; err != nil {
		t.Fatal(err)
	}
	err = victim.Exec("SELECT 1").Error
	if err == nil || !store.Unavailable(err) {
		t.Errorf("a statement on a terminated session: %v, not classified as unavailable", err)
	}
}

// SQLite answers SQLITE_BUSY when another connection holds the write lock
// past the busy timeout: unavailable, not a server fault.
func TestUnavailableSQLiteBusy(t *testing.T) {
	ctx := context.Background()
	path := storetest.DSN(t, store.SQLite)
	s, err := store.Open(store.SQLite, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	holder := s.DB.WithContext(ctx).Begin() // IMMEDIATE: takes the write lock at once
	defer holder.Rollback()
	if err := holder.Exec("DELETE FROM changes").Error; err != nil {
		t.Fatal(err)
	}
	impatient, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer impatient.Close()
	_, err = impatient.ExecContext(ctx, "DELETE FROM changes")
	if err == nil || !store.Unavailable(err) {
		t.Fatalf("a write refused with SQLITE_BUSY: %v, not classified as unavailable", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("set-up: the busy write timed out instead of failing busy")
	}
}
