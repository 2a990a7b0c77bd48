package store_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// silentServer accepts connections on 127.0.0.1 and never answers them: a
// stalled proxy, or a host whose database process hangs. It returns the
// port.
func silentServer(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// Opening a PostgreSQL database whose server accepts the connection but
// never answers gives up when the context ends, with an error that counts
// as unavailable, instead of waiting for ever (gorm's own ping has no
// deadline: Caddy's start or reload, and every request waiting for the app,
// hung with it).
func TestOpenGivesUpOnASilentServer(t *testing.T) {
	dsn := fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=test sslmode=disable", silentServer(t))
	openGivesUp(t, dsn, 300*time.Millisecond, "a server that never answers")
}

// openGivesUp checks that OpenContext on dsn, bounded to within, fails
// with an unavailable database rather than waiting on past it.
func openGivesUp(t *testing.T, dsn string, within time.Duration, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		s, err := store.OpenContext(ctx, store.Postgres, dsn)
		if s != nil {
			s.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("opened the database despite %s", what)
		}
		if !store.Unavailable(err) {
			t.Errorf("error %v does not count as unavailable (a 503)", err)
		}
	case <-time.After(time.Minute): // far past the context's end: it hangs
		t.Fatalf("Open still waits on %s", what)
	}
}

// ErrNotOpen, what the app's handlers see after its start failed, is an
// unavailable database (503 with Retry-After), wrapped or not.
func TestErrNotOpenIsUnavailable(t *testing.T) {
	if !store.Unavailable(store.ErrNotOpen) || !store.Unavailable(fmt.Errorf("verifying: %w", store.ErrNotOpen)) {
		t.Error("ErrNotOpen is not unavailable")
	}
}

// The migration is bounded too: a node that cannot take the migration lock
// (another node holds it, perhaps on a connection gone silent, which the
// server keeps until TCP keepalive gives up) fails its start when the
// context ends, instead of holding Caddy's start or reload for good.
func TestOpenGivesUpWaitingToMigrate(t *testing.T) {
	dsn := storetest.DSN(t, store.Postgres)
	holder, err := store.Open(store.Postgres, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	sqlDB, err := holder.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := sqlDB.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The lock migrate takes, held by another session (other tests'
	// migrations wait the second this one lasts).
	if _, err := conn.ExecContext(context.Background(), "SELECT pg_advisory_lock(7262351)"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock(7262351)")

	openGivesUp(t, dsn, time.Second, "another session holding the migration lock")
}
