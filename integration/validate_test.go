package integration

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// `caddy validate` and `caddy adapt` check the configuration and change
// nothing: on SQLite no database file and no master key appear in the data
// directory; on an empty PostgreSQL schema no table is created (so no
// signing key is stored sealed with whatever master key the validating
// environment holds). A config that is wrong is still refused.
func TestValidateAndAdaptChangeNothing(t *testing.T) {
	bin := caddyBinary(t)
	for _, tc := range []struct{ file, driver string }{
		{"quickstart.Caddyfile", store.SQLite},
		{"postgres.Caddyfile", store.Postgres},
	} {
		t.Run(tc.driver, func(t *testing.T) {
			cfg, _ := filepath.Abs(filepath.Join("..", "caddyfiles", tc.file))
			data := t.TempDir()
			env := append(os.Environ(), "XDG_DATA_HOME="+data, "XDG_CONFIG_HOME="+t.TempDir(),
				"SCOPEGATE_CADDY_ADMIN=off", "SCOPEGATE_MASTER_KEY=ZHVtbXkta2V5LWR1bW15LWtleS1kdW1teS1rZXktMDA=")
			var dsn string
			if tc.driver == store.Postgres {
				dsn = storetest.DSN(t, store.Postgres)
				env = append(env, "SCOPEGATE_DSN="+dsn)
			}
			for _, args := range [][]string{
				{"validate", "--config", cfg},
				{"adapt", "--config", cfg, "--validate"},
			} {
				cmd := exec.Command(bin, args...)
				cmd.Env = env
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("caddy %s: %v\n%s", strings.Join(args, " "), err, out)
				}
			}
			var made []string
			filepath.WalkDir(data, func(path string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					made = append(made, path)
				}
				return nil
			})
			if len(made) > 0 {
				t.Errorf("validate/adapt wrote files into the data directory: %v", made)
			}
			if tc.driver == store.Postgres {
				db, err := sql.Open("pgx", dsn)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				var tables int
				if err := db.QueryRow(`SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()`).Scan(&tables); err != nil {
					t.Fatal(err)
				}
				if tables != 0 {
					t.Errorf("validate/adapt created %d tables in an empty database", tables)
				}
			}

			// Validation still validates.
			bad := filepath.Join(t.TempDir(), "bad.Caddyfile")
			if err := os.WriteFile(bad, []byte("{\n\tscopegate {\n\t\tissuer ftp://x\n\t}\n}\n:0 {\n\trespond ok\n}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "validate", "--config", bad)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "issuer must be an http(s) URL") {
				t.Errorf("validate accepted a bad issuer: %v\n%s", err, out)
			}
		})
	}
}
