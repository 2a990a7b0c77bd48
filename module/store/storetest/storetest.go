// Package storetest gives tests real databases: a fresh SQLite file and a
// fresh PostgreSQL schema each, so tests can run in parallel and never see
// each other's rows. PostgreSQL is never skipped: if it cannot be reached the
// test fails, because CI must prove every storage path on both databases.
package storetest

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver for schema set-up
)

// DefaultPostgresDSN is the machine's local PostgreSQL (trust auth).
const DefaultPostgresDSN = "host=127.0.0.1 port=5432 user=postgres dbname=test sslmode=disable"

// Drivers lists the databases every storage test runs on.
var Drivers = []string{store.SQLite, store.Postgres}

// PostgresBaseDSN returns SCOPEGATE_TEST_POSTGRES_DSN or the local default.
func PostgresBaseDSN() string {
	if dsn := os.Getenv("SCOPEGATE_TEST_POSTGRES_DSN"); dsn != "" {
		return dsn
	}
	return DefaultPostgresDSN
}

// DSN returns a fresh database for driver: a file path for SQLite, or a DSN
// whose search_path is a new schema (dropped when the test ends) for PostgreSQL.
func DSN(t testing.TB, driver string) string {
	t.Helper()
	if driver == store.SQLite {
		return filepath.Join(t.TempDir(), "scopegate.db")
	}
	base := PostgresBaseDSN()
	db, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	schema := "sgtest_" + strings.ToLower(secret.NewToken(9))
	schema = strings.NewReplacer("-", "_").Replace(schema)
	if _, err := db.Exec(fmt.Sprintf(`CREATE SCHEMA "%s"`, schema)); err != nil {
		db.Close()
		t.Fatalf("postgres at %q is needed by this test (set SCOPEGATE_TEST_POSTGRES_DSN): %v", base, err)
	}
	t.Cleanup(func() {
		_, _ = db.Exec(fmt.Sprintf(`DROP SCHEMA "%s" CASCADE`, schema))
		db.Close()
	})
	return base + " search_path=" + schema
}

// Open returns a migrated store on a fresh database, closed when the test ends.
func Open(t testing.TB, driver string) *store.Store {
	t.Helper()
	s, err := store.Open(driver, DSN(t, driver))
	if err != nil {
		t.Fatalf("open %s: %v", driver, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Each runs fn as a subtest once per driver.
func Each(t *testing.T, fn func(t *testing.T, driver string)) {
	for _, d := range Drivers {
		t.Run(d, func(t *testing.T) { fn(t, d) })
	}
}

// Sealer is a keyed digest under a fixed test key, for what takes a
// store.RefreshSealer.
var Sealer = func() *secret.Sealer {
	s, err := secret.NewSealer(make([]byte, secret.KeySize))
	if err != nil {
		panic(err)
	}
	return s
}()
