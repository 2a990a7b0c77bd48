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

// A master key file other users may read is warned about at start; one
// readable by its owner alone, or none (a configured key), is not.
func TestReadableKeyFileWarned(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte("k"), 0o600); err != nil {
		t.Fatal(err)
	}
	warnKeyFileReadable(zap.New(core), path)
	warnKeyFileReadable(zap.New(core), "")
	if n := logs.Len(); n != 0 {
		t.Fatalf("warned about a 0600 key file or none: %v", logs.AllUntimed())
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	warnKeyFileReadable(zap.New(core), path)
	if n := logs.Len(); n != 1 || logs.All()[0].ContextMap()["file"] != path {
		t.Fatalf("%d warnings for a 0644 key file, want 1 naming it: %v", n, logs.AllUntimed())
	}
}
