package app

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// A SQLite file other users may read (one an older build made 0644) is
// warned about at start, with its -wal and -shm files; one readable by its
// owner alone is not.
func TestReadableDatabaseWarned(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	path := filepath.Join(t.TempDir(), "scopegate.db")
	for _, p := range []string{path, path + "-wal"} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o644); err != nil { // whatever the umask
			t.Fatal(err)
		}
	}
	warnReadableByOthers(zap.New(core), path)
	if n := logs.Len(); n != 2 {
		t.Fatalf("%d warnings for a 0644 database and its -wal, want 2: %v", n, logs.AllUntimed())
	}
	for _, p := range []string{path, path + "-wal"} {
		if err := os.Chmod(p, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	warnReadableByOthers(zap.New(core), path)
	if n := logs.Len(); n != 2 {
		t.Fatalf("warned about a 0600 database: %v", logs.AllUntimed())
	}
}
