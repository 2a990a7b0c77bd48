package store_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/scopegate/scopegate/module/store"
)

// A new SQLite database, and the -wal file SQLite makes beside it, are
// readable by their owner alone (they were 0644: password hashes, the audit
// log and sealed secrets, in whatever directory the operator named), under
// any name; a file that exists keeps its mode.
func TestNewSQLiteFilesArePrivate(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gateway.db")
	s, err := store.Open(store.SQLite, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateTenant(context.Background(), &store.Tenant{ID: "t1", Name: "t1"}, admin); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", filepath.Base(p), fi.Mode().Perm())
		}
	}
	s.Close()

	// Names SQLite's file: URIs would read otherwise ('%41' as 'A', '#' as
	// the end): the file named is the one made private and opened, and
	// no other appears.
	for _, name := range []string{"pct%41.db", "hash#x.db", "with params.db?cache=shared"} {
		s, err := store.Open(store.SQLite, filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.CreateTenant(context.Background(), &store.Tenant{ID: "t1", Name: "t1"}, admin); err != nil {
			t.Fatal(err)
		}
		s.Close()
		file := store.SQLiteFile(filepath.Join(dir, name))
		fi, err := os.Stat(file)
		if err != nil || fi.Mode().Perm()&0o077 != 0 || fi.Size() == 0 {
			t.Errorf("%s: %v (%v), want the database itself, private", name, fi, err)
		}
	}
	for _, stray := range []string{"pctA.db", "hash"} {
		if _, err := os.Stat(filepath.Join(dir, stray)); err == nil {
			t.Errorf("SQLite opened %s instead of the file named", stray)
		}
	}

	shared := filepath.Join(dir, "shared.db")
	if err := os.WriteFile(shared, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	s, err = store.Open(store.SQLite, shared)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if fi, err := os.Stat(shared); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("an existing file's mode: %v (%v), want it kept (0640)", fi.Mode().Perm(), err)
	}
}

// Every SQLite connection caps the write-ahead log SQLite keeps after a
// checkpoint (journal_size_limit, 64 MiB): without it the -wal file stayed
// at its largest (160 MB after a 15 s burst of mints and revocations).
// Read from several connections of the pool at once, each opened with the
// DSN's pragmas.
func TestSQLiteWriteAheadLogIsCapped(t *testing.T) {
	s, err := store.Open(store.SQLite, filepath.Join(t.TempDir(), "gateway.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	sqlDB, err := s.DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var conns []*sql.Conn
	for range 3 {
		c, err := sqlDB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	for i, c := range conns {
		var limit int64
		if err := c.QueryRowContext(ctx, "PRAGMA journal_size_limit").Scan(&limit); err != nil {
			t.Fatal(err)
		}
		if limit != 64<<20 {
			t.Errorf("connection %d: journal_size_limit %d, want %d", i, limit, 64<<20)
		}
		c.Close()
	}
}
