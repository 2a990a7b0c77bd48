package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/scopegate/scopegate/module/store"
)

// A new SQLite database, and the -wal file SQLite makes beside it, are
// readable by their owner alone (they were 0644: password hashes, the audit
// log and sealed secrets, in whatever directory the operator named); a file
// that exists keeps its mode.
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
