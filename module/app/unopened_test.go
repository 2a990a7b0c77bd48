package app_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
)

// After a failed start (the database refused), the app says so instead of
// handing out a runtime that does not exist: Available, Verify and client
// authentication answer an error that counts as unavailable (503 with
// Retry-After at every endpoint), and none of them panics, as Verify and
// AuthenticateClient did on the nil runtime.
func TestAFailedStartAnswersUnavailable(t *testing.T) {
	a := apptest.Unopened(t)
	ctx := context.Background()
	if err := a.Available(); !store.Unavailable(err) {
		t.Errorf("Available() = %v, want an unavailable database", err)
	}
	if _, err := a.Verify(ctx, "e30.e30.sig"); !store.Unavailable(err) {
		t.Errorf("Verify: %v, want an unavailable database", err)
	}
	if _, err := a.AuthenticateClient(ctx, "c-1", "secret"); !store.Unavailable(err) {
		t.Errorf("AuthenticateClient: %v, want an unavailable database", err)
	}
}

// After a failed start, requests do not start the app again: each attempt
// would hold every other request of the config behind the start lock (up
// to store.OpenTimeout against a server that does not answer) and log the
// failure once more, while Caddy is about to unwind the config anyway.
// Caddy's own Start still tries again.
func TestRequestsDoNotRetryAFailedStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var dials atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dials.Add(1)
			c.Close() // a server that hangs up: the connection fails at once
		}
	}()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	a := &app.App{
		Database:  &app.Database{Driver: store.Postgres, DSN: fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=test sslmode=disable", ln.Addr().(*net.TCPAddr).Port)},
		MasterKey: apptest.MasterKey,
	}
	if err := a.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Cleanup()
	if err := a.Start(); err == nil {
		t.Fatal("started against a server that hangs up")
	}
	if dials.Load() == 0 {
		t.Fatal("Start never dialled the server")
	}
	// database/sql's connection opener may still be dialling for the failed
	// Start (a busy machine ran it late, once): the count settles first.
	tried := dials.Load()
	for still := 0; still < 3; time.Sleep(100 * time.Millisecond) {
		if n := dials.Load(); n != tried {
			tried, still = n, 0
		} else {
			still++
		}
	}
	for range 5 {
		if err := a.Available(); !store.Unavailable(err) {
			t.Fatalf("Available() = %v", err)
		}
		if _, err := a.Verify(context.Background(), "e30.e30.sig"); !store.Unavailable(err) {
			t.Fatalf("Verify: %v", err)
		}
	}
	if n := dials.Load(); n != tried {
		t.Errorf("requests dialled the database %d more times after the failed start", n-tried)
	}
	if err := a.Start(); err == nil || dials.Load() == tried {
		t.Errorf("Caddy's Start did not try again (err %v)", err)
	}
}

// A request that reaches a config after its Cleanup (Caddy unwound it
// before this app's Start ran: another app failed first) does not open the
// database: nothing would ever release that runtime, its pool, watcher and
// listener.
func TestNoStartAfterCleanup(t *testing.T) {
	dsn := filepath.Join(t.TempDir(), "scopegate.db")
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	a := &app.App{Database: &app.Database{Driver: store.SQLite, DSN: dsn}, MasterKey: apptest.MasterKey}
	if err := a.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if err := a.Available(); !store.Unavailable(err) {
		t.Errorf("Available() after Cleanup = %v, want the database not open", err)
	}
	if _, err := os.Stat(dsn); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a request after Cleanup opened the database (stat: %v)", err)
	}
}
