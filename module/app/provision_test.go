package app_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/caddyserver/caddy/v2"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Provision (all that `caddy validate` and `caddy adapt --validate` run)
// opens nothing: no SQLite file, no generated master key file, no tables on
// PostgreSQL. Start opens them; a request that arrives before Start (Caddy
// starts its apps in no set order) starts the app itself.
func TestProvisionOpensNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		dir := t.TempDir()
		dsn := storetest.DSN(t, driver)
		if driver == store.SQLite {
			dsn = filepath.Join(dir, "db", "scopegate.db")
		}
		keyFile := filepath.Join(dir, "master.key")
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		defer cancel()
		a := &app.App{Database: &app.Database{Driver: driver, DSN: dsn}, MasterKeyFile: keyFile}
		if err := a.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Cleanup() })
		if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Provision generated a master key file (stat: %v)", err)
		}
		if driver == store.SQLite {
			if _, err := os.Stat(dsn); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Provision created the SQLite file (stat: %v)", err)
			}
		} else if n := tableCount(t, dsn); n != 0 {
			t.Errorf("Provision created %d tables", n)
		}

		// The first use starts it, as Start would.
		if a.Keys().SigningKID() == "" {
			t.Fatal("the app did not start on first use")
		}
		if _, err := os.Stat(keyFile); err != nil {
			t.Errorf("no master key after start: %v", err)
		}
		if err := a.Start(); err != nil { // idempotent
			t.Fatal(err)
		}
	})
}

// tableCount counts the tables in a PostgreSQL DSN's schema.
func tableCount(t *testing.T, dsn string) int {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
