package store_test

import (
	"context"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A node keeps answering while another node's migration adds a column to a
// table it reads (a rolling upgrade): its next reads of that table work, on
// every pooled connection. With pgx's default prepared-statement cache,
// PostgreSQL refused them ("cached plan must not change result type").
func TestReadsSurviveAnAddedColumn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn, s := openByDSN(t, driver)
		defer s.Close()
		seed(t, s)
		read := func() error {
			_, err := s.GetClient(ctx, "c1")
			return err
		}
		for range 8 { // statements prepared on the connections the pool has
			if err := read(); err != nil {
				t.Fatal(err)
			}
		}
		other, err := store.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		if err := other.DB.Exec("ALTER TABLE clients ADD COLUMN added_by_a_newer_build integer").Error; err != nil {
			t.Fatal(err)
		}
		other.Close()
		for i := range 8 {
			if err := read(); err != nil {
				t.Fatalf("read %d after the column was added: %v", i, err)
			}
		}
	})
}

// withExecMode adds the mode to either DSN form, leaving what the DSN says as
// written (percent-encoding and the order of keys mean something to pgx),
// and keeps a mode the DSN names.
func TestExecModeDSN(t *testing.T) {
	for in, want := range map[string]string{
		"host=127.0.0.1 dbname=x":                                 "host=127.0.0.1 dbname=x default_query_exec_mode=exec",
		"postgres://u@127.0.0.1/x?sslmode=disable":                "postgres://u@127.0.0.1/x?sslmode=disable&default_query_exec_mode=exec",
		"postgres://u@h/x?options=-c%20search_path%3Dx&ssl=true":  "postgres://u@h/x?options=-c%20search_path%3Dx&ssl=true&default_query_exec_mode=exec",
		"postgres://u@h/x":                                        "postgres://u@h/x?default_query_exec_mode=exec",
		"postgres://u@h/x?default_query_exec_mode=cache_describe": "postgres://u@h/x?default_query_exec_mode=cache_describe",
	} {
		if got := store.WithExecMode(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
