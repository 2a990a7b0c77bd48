package store_test

import (
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
)

// A PostgreSQL DSN that does not parse is refused with the reason and
// without its text, in every spelling of a password (ops red team: pgx
// masks only "password=x", so "password = x" and escaped quotes reached
// the log, the reload answer and the command line).
func TestDSNErrorShowsNoPassword(t *testing.T) {
	for _, dsn := range []string{
		"host=127.0.0.1 user=postgres password = SECRET-1 sslmode=bogus",
		`host=127.0.0.1 password=abc\ SECRET-2 sslmode=bogus`,
		`host=127.0.0.1 password='abc\' SECRET-3' sslmode=bogus`,
		"host=127.0.0.1 password=SECRET-4 port=notaport",
		// Review: pgx's reason quotes a piece of the DSN; an '@' in a URL's
		// password, not written %40, made part of it the host.
		"host=127.0.0.1 password=correct SECRET-5",
		"postgres://u@127.0.0.1/db?password=abc&SECRET-6",
		"postgres://u:pa@SECRET-7@127.0.0.1:1/db",
	} {
		_, err := store.Open(store.Postgres, dsn)
		if err == nil {
			t.Fatalf("%q opened", dsn)
		}
		if strings.Contains(err.Error(), "SECRET") || !strings.Contains(err.Error(), "it is not shown") {
			t.Errorf("%q: error %q, want the reason without the DSN", dsn, err)
		}
	}
	_, err := store.Open(store.Postgres, "host=127.0.0.1 sslmode=bogus")
	if err == nil || !strings.Contains(err.Error(), "sslmode") {
		t.Errorf("error %v, want it to give the reason (sslmode)", err)
	}
}
