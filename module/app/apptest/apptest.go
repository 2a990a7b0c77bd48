// Package apptest opens a real scopegate app (real database, real keys) for
// handler tests, without starting Caddy.
package apptest

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// MasterKey is the fixed master key tests use (base64 of 32 bytes of 0x07).
const MasterKey = "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="

// Issuer is the issuer tests use.
const Issuer = "https://gateway.test"

// DemoScopes is a small catalogue for tests.
var DemoScopes = []scope.Scope{
	{Name: "demo.read", Description: "Read demo data"},
	{Name: "demo.write", Description: "Change demo data", Implies: []string{"demo.read"}},
	{Name: "user.only", Description: "Needs a user", Legs: scope.ThreeLegged},
	{Name: "global", Description: "Tenant-wide", Legs: scope.TwoLegged},
}

// Open returns a provisioned app on a fresh database of the given driver,
// closed when the test ends. Extra settings can be made in configure.
func Open(t testing.TB, driver string, configure ...func(*app.App)) *app.App {
	t.Helper()
	a := &app.App{
		Database:     &app.Database{Driver: driver, DSN: storetest.DSN(t, driver)},
		Issuer:       Issuer,
		MasterKey:    MasterKey,
		Scopes:       DemoScopes,
		PollInterval: caddy.Duration(50 * time.Millisecond),
	}
	for _, f := range configure {
		f(a)
	}
	if err := a.OpenStandalone(); err != nil {
		t.Fatalf("open app: %v", err)
	}
	t.Cleanup(func() { a.CloseStandalone() })
	return a
}

// Unopened returns a provisioned app whose start failed: its PostgreSQL
// server is a local listener that hangs up on every connection (kept open
// for the test, so no other server can take its port), as after a reload to
// a database that is down. Caddy may still hand such a config's handlers
// requests before it unwinds it; they must answer 503.
func Unopened(t testing.TB) *app.App {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	t.Cleanup(cancel)
	a := &app.App{
		Database:  &app.Database{Driver: "postgres", DSN: fmt.Sprintf("host=127.0.0.1 port=%d user=postgres dbname=test sslmode=disable", ln.Addr().(*net.TCPAddr).Port)},
		Issuer:    Issuer,
		MasterKey: MasterKey,
		Scopes:    DemoScopes,
	}
	if err := a.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Cleanup() })
	if err := a.Start(); err == nil {
		t.Fatal("the app started against a server that hangs up")
	}
	return a
}
