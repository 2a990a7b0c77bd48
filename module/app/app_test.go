package app_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// With nothing configured, every documented default is filled in and the
// built-in admin scopes are in the catalogue.
func TestSetDefaults(t *testing.T) {
	a := new(app.App)
	if err := a.SetDefaults(); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"issuer", a.Issuer, "http://localhost"},
		{"audience", a.Audience, "http://localhost"},
		{"token_lifetime", a.TokenLifetime, caddy.Duration(time.Hour)},
		{"leeway", a.Leeway, caddy.Duration(30 * time.Second)},
		{"day_timezone", a.DayTimezone, "America/New_York"},
		{"cache_size", a.CacheSize, 100_000},
		{"poll_interval", a.PollInterval, caddy.Duration(500 * time.Millisecond)},
		{"secret_grace", a.SecretGrace, caddy.Duration(24 * time.Hour)},
		{"key_overlap", a.KeyOverlap, caddy.Duration(48 * time.Hour)},
		{"key_prepublish", a.KeyPrepublish, caddy.Duration(10 * time.Minute)},
		{"min_gomaxprocs", a.MinGOMAXPROCS, app.DefaultMinGOMAXPROCS},
		{"min_gc_heap", a.MinGCHeap, int64(app.DefaultMinGCHeap)},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("default %s = %v, want %v", c.name, c.got, c.want)
		}
	}
	for _, builtIn := range []string{scope.Admin, scope.TenantAdmin} {
		if _, ok := a.Catalogue().Get(builtIn); !ok {
			t.Errorf("catalogue lacks built-in scope %s", builtIn)
		}
	}
	if err := a.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
	if day, _ := a.Day(time.Date(2024, 7, 1, 3, 0, 0, 0, time.UTC)); day != "2024-06-30" {
		t.Errorf("default zone is not New York: 03:00Z on July 1st is day %s", day)
	}
}

// Values that are set are kept as they are (except the issuer's trailing
// slash), and the audience follows the issuer only when unset.
func TestSetDefaultsKeepsSettings(t *testing.T) {
	a := &app.App{
		Issuer: "https://auth.example.com/", TokenLifetime: caddy.Duration(5 * time.Minute),
		Leeway: caddy.Duration(time.Second), DayTimezone: "UTC", CacheSize: 7,
		PollInterval: caddy.Duration(time.Second), SecretGrace: caddy.Duration(time.Hour),
		KeyOverlap: caddy.Duration(2 * time.Hour), Scopes: apptest.DemoScopes,
	}
	if err := a.SetDefaults(); err != nil {
		t.Fatal(err)
	}
	if a.Issuer != "https://auth.example.com" || a.Audience != "https://auth.example.com" {
		t.Errorf("issuer, audience = %q, %q", a.Issuer, a.Audience)
	}
	if a.TokenLifetime != caddy.Duration(5*time.Minute) || a.Leeway != caddy.Duration(time.Second) ||
		a.DayTimezone != "UTC" || a.CacheSize != 7 || a.PollInterval != caddy.Duration(time.Second) ||
		a.SecretGrace != caddy.Duration(time.Hour) || a.KeyOverlap != caddy.Duration(2*time.Hour) {
		t.Errorf("settings were overwritten: %+v", a)
	}
	if s, ok := a.Catalogue().Get("demo.write"); !ok || !a.Catalogue().Satisfies([]string{s.Name}, "demo.read") {
		t.Errorf("configured scopes are missing from the catalogue or lost their implications")
	}

	b := &app.App{Issuer: "https://auth.example.com", Audience: "urn:my-api"}
	if err := b.SetDefaults(); err != nil || b.Audience != "urn:my-api" {
		t.Errorf("explicit audience: %q, %v", b.Audience, err)
	}
}

// A bad time zone and a broken scope catalogue are reported at set-up, by
// name, before anything is opened.
func TestSetDefaultsErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		a    *app.App
		want []string
	}{
		"unknown zone": {&app.App{DayTimezone: "Mars/Olympus_Mons"}, []string{"day_timezone", "Mars/Olympus_Mons"}},
		"implies unknown": {&app.App{Scopes: []scope.Scope{{Name: "a", Implies: []string{"ghost"}}}},
			[]string{"scopes", `scope "a" implies unknown scope "ghost"`}},
		"redefines a built-in": {&app.App{Scopes: []scope.Scope{{Name: scope.Admin}}},
			[]string{"scopes", "defined twice"}},
		"bad legs from JSON": {&app.App{Scopes: []scope.Scope{{Name: "a", Legs: 5}}},
			[]string{"scopes", "legs must be 2, 3 or any"}},
		"bad scope name": {&app.App{Scopes: []scope.Scope{{Name: "has space"}}},
			[]string{"scopes", "RFC 6749"}},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.a.SetDefaults()
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			// OpenStandalone reports the same problem and creates no database.
			dbPath := filepath.Join(t.TempDir(), "never.db")
			tc.a.Database = &app.Database{Driver: store.SQLite, DSN: dbPath}
			tc.a.MasterKey = apptest.MasterKey
			if err := tc.a.OpenStandalone(); err == nil || !strings.Contains(err.Error(), tc.want[0]) {
				t.Errorf("OpenStandalone: %v", err)
			}
			if _, err := os.Stat(dbPath); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a database was created for a config that does not validate")
			}
		})
	}
}

// Validate refuses issuers that are not http(s) URLs naming a host, and
// negative durations or sizes.
func TestValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		a    app.App
		want string // "" means valid
	}{
		"https issuer":          {app.App{Issuer: "https://auth.example.com"}, ""},
		"http issuer with port": {app.App{Issuer: "http://127.0.0.1:8080"}, ""},
		"issuer with path":      {app.App{Issuer: "https://example.com/tenant/a"}, ""},
		"bare host":             {app.App{Issuer: "auth.example.com"}, "issuer"},
		"other scheme":          {app.App{Issuer: "ftp://auth.example.com"}, "issuer"},
		"no host":               {app.App{Issuer: "https://"}, "issuer"},
		"no host, with path":    {app.App{Issuer: "https:///path"}, "issuer"},
		"query":                 {app.App{Issuer: "https://auth.example.com?x=1"}, "issuer"},
		"fragment":              {app.App{Issuer: "https://auth.example.com#frag"}, "issuer"},
		"empty query":           {app.App{Issuer: "https://auth.example.com?"}, "issuer"},
		"empty fragment":        {app.App{Issuer: "https://auth.example.com#"}, "issuer"},
		"user and password":     {app.App{Issuer: "https://user:PWinISSUER@auth.example.com"}, "must not hold a user name or password"},
		"user":                  {app.App{Issuer: "https://user@auth.example.com"}, "must not hold a user name or password"},
		"password, unparsable":  {app.App{Issuer: "https://admin:hunter 2@auth.example.com"}, "must not hold a user name or password"},
		"negative lifetime":     {app.App{TokenLifetime: caddy.Duration(-time.Second)}, "negative"},
		"negative leeway":       {app.App{Leeway: caddy.Duration(-time.Second)}, "negative"},
		"negative cache_size":   {app.App{CacheSize: -1}, "negative"},
		"negative poll":         {app.App{PollInterval: caddy.Duration(-time.Second)}, "negative"},
		"negative secret_grace": {app.App{SecretGrace: caddy.Duration(-time.Second)}, "negative"},
		"negative key_overlap":  {app.App{KeyOverlap: caddy.Duration(-time.Second)}, "negative"},
		"negative prepublish":   {app.App{KeyPrepublish: caddy.Duration(-time.Second)}, "key_prepublish must not be negative"},
		"min_gomaxprocs -2":     {app.App{MinGOMAXPROCS: -2}, "min_gomaxprocs must be from 1 to 1024"},
		"min_gomaxprocs huge":   {app.App{MinGOMAXPROCS: 4096}, "min_gomaxprocs must be from 1 to 1024"},
		"min_gc_heap -2":        {app.App{MinGCHeap: -2}, "min_gc_heap must be from 1 byte to 1 TiB"},
		"min_gc_heap huge":      {app.App{MinGCHeap: 1<<40 + 1}, "min_gc_heap must be from 1 byte to 1 TiB"},
	} {
		t.Run(name, func(t *testing.T) {
			a := tc.a
			if err := a.SetDefaults(); err != nil {
				t.Fatal(err)
			}
			err := a.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// A configuration that does not validate is refused by OpenStandalone and by
// Provision before the database is opened or a watcher started (a negative
// poll_interval used to panic in time.NewTicker).
func TestInvalidConfigOpensNothing(t *testing.T) {
	for name, bad := range map[string]func(*app.App){
		"issuer":        func(a *app.App) { a.Issuer = "gateway.test" },
		"poll_interval": func(a *app.App) { a.PollInterval = caddy.Duration(-time.Millisecond) },
	} {
		t.Run(name, func(t *testing.T) {
			dbPath := filepath.Join(t.TempDir(), "never.db")
			newApp := func() *app.App {
				a := &app.App{Database: &app.Database{Driver: store.SQLite, DSN: dbPath}, MasterKey: apptest.MasterKey}
				bad(a)
				return a
			}
			if err := newApp().OpenStandalone(); err == nil {
				t.Fatal("OpenStandalone accepted the config")
			}
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			a := newApp()
			if err := a.Provision(ctx); err == nil {
				a.Cleanup()
				t.Fatal("Provision accepted the config")
			}
			if _, err := os.Stat(dbPath); !errors.Is(err, os.ErrNotExist) {
				t.Fatal("the database was opened anyway")
			}
		})
	}
}

// With no database and no master key configured, the app keeps both under
// Caddy's data directory: SQLite at scopegate/scopegate.db and a generated
// 0600 master key at scopegate/master.key, the same key on every start.
func TestZeroConfigLocations(t *testing.T) {
	data := t.TempDir()
	t.Setenv("XDG_DATA_HOME", data)
	dir := filepath.Join(data, "caddy", "scopegate")

	a := new(app.App)
	if err := a.SetDefaults(); err != nil {
		t.Fatal(err)
	}
	driver, dsn, key, err := a.ResolvedDatabase()
	if err != nil {
		t.Fatal(err)
	}
	if driver != store.SQLite || dsn != filepath.Join(dir, "scopegate.db") || len(key) != secret.KeySize {
		t.Fatalf("zero config: driver %q, dsn %q, key %d bytes", driver, dsn, len(key))
	}
	fi, err := os.Stat(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatalf("master key file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("master key file mode = %v, want 0600", fi.Mode().Perm())
	}
	_, _, again, err := a.ResolvedDatabase()
	if err != nil || string(again) != string(key) {
		t.Fatalf("second start got another master key (%v)", err)
	}

	// An explicit master_key_file is used instead, and "database sqlite"
	// without a path still means the data directory.
	keyFile := filepath.Join(t.TempDir(), "k", "master.key")
	b := &app.App{Database: &app.Database{Driver: store.SQLite}, MasterKeyFile: keyFile}
	_, dsn, key2, err := b.ResolvedDatabase()
	if err != nil || dsn != filepath.Join(dir, "scopegate.db") {
		t.Fatalf("sqlite without path: %q, %v", dsn, err)
	}
	if raw, err := os.ReadFile(keyFile); err != nil {
		t.Fatalf("master_key_file not created: %v", err)
	} else if parsed, _ := secret.ParseKey(string(raw)); string(parsed) != string(key2) {
		t.Fatal("master_key_file holds another key than the one used")
	}

	// The whole zero-config app opens and works.
	z := new(app.App)
	if err := z.OpenStandalone(); err != nil {
		t.Fatalf("zero-config open: %v", err)
	}
	defer z.CloseStandalone()
	if _, err := os.Stat(filepath.Join(dir, "scopegate.db")); err != nil {
		t.Fatalf("zero-config database not in the data directory: %v", err)
	}
}

// Placeholders in the DSN, the master key and the issuer are resolved from
// the environment; an unset variable is an error naming it, never a
// connection to "" or a silent default.
func TestPlaceholders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		t.Setenv("SG_TEST_DSN", storetest.DSN(t, driver))
		t.Setenv("SG_TEST_MASTER_KEY", apptest.MasterKey)
		t.Setenv("SG_TEST_ISSUER", "https://from-env.example")
		a := &app.App{
			Database:  &app.Database{Driver: driver, DSN: "{env.SG_TEST_DSN}"},
			MasterKey: "{env.SG_TEST_MASTER_KEY}",
			Issuer:    "{env.SG_TEST_ISSUER}",
		}
		if err := a.OpenStandalone(); err != nil {
			t.Fatalf("open with placeholders: %v", err)
		}
		defer a.CloseStandalone()
		if a.Issuer != "https://from-env.example" || a.Audience != "https://from-env.example" {
			t.Errorf("issuer %q, audience %q", a.Issuer, a.Audience)
		}
		if err := a.Store().Ping(context.Background()); err != nil {
			t.Errorf("database from {env.SG_TEST_DSN} does not answer: %v", err)
		}
		if a.Store().Driver != driver {
			t.Errorf("driver = %q", a.Store().Driver)
		}
		if _, err := a.Store().GetTenant(context.Background(), store.DefaultTenantID); err != nil {
			t.Errorf("the resolved database was not set up: %v", err)
		}

		os.Unsetenv("SG_TEST_UNSET")
		t.Setenv("SG_TEST_EMPTY", "")
		for name, tc := range map[string]struct {
			a    *app.App
			want []string
		}{
			"unset DSN": {&app.App{Database: &app.Database{Driver: driver, DSN: "{env.SG_TEST_UNSET}"}, MasterKey: apptest.MasterKey},
				[]string{"database dsn", "{env.SG_TEST_UNSET}"}},
			"empty DSN": {&app.App{Database: &app.Database{Driver: driver, DSN: "{env.SG_TEST_EMPTY}"}, MasterKey: apptest.MasterKey},
				[]string{"database dsn", "{env.SG_TEST_EMPTY}"}},
			"DSN with unknown placeholder": {&app.App{Database: &app.Database{Driver: driver, DSN: "{nope.thing}"}, MasterKey: apptest.MasterKey},
				[]string{"database dsn", "{nope.thing}"}},
			"unset issuer": {&app.App{Database: &app.Database{Driver: driver, DSN: "{env.SG_TEST_DSN}"}, MasterKey: apptest.MasterKey, Issuer: "{env.SG_TEST_UNSET}"},
				[]string{"issuer", "{env.SG_TEST_UNSET}"}},
		} {
			err := tc.a.OpenStandalone()
			if err == nil {
				tc.a.CloseStandalone()
				t.Errorf("%s: opened", name)
				continue
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: error %q does not mention %q", name, err, w)
				}
			}
			if tc.a.Runtime() != nil {
				t.Errorf("%s: a runtime was opened", name)
			}
		}
	})
}

// One Caddyfile serves SQLite and PostgreSQL with master_key
// {env.SCOPEGATE_MASTER_KEY}: unset on SQLite (one node), the key file is
// used as with no master_key at all; unset on PostgreSQL, where every node
// must share the key, it is an error naming the placeholder. A key that is
// set but malformed is an error on both.
func TestMasterKeyPlaceholderUnset(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		os.Unsetenv("SG_TEST_UNSET")
		keyFile := filepath.Join(t.TempDir(), "master.key")
		a := &app.App{Database: &app.Database{Driver: driver, DSN: storetest.DSN(t, driver)}, MasterKey: "{env.SG_TEST_UNSET}", MasterKeyFile: keyFile}
		err := a.OpenStandalone()
		if driver == store.SQLite {
			if err != nil {
				t.Fatalf("SQLite with an unset master key placeholder: %v", err)
			}
			defer a.CloseStandalone()
			if _, err := os.Stat(keyFile); err != nil {
				t.Fatalf("the key file was not used: %v", err)
			}
		} else {
			if err == nil {
				a.CloseStandalone()
				t.Fatal("PostgreSQL opened with an unset master key placeholder")
			}
			if !strings.Contains(err.Error(), "master_key") || !strings.Contains(err.Error(), "{env.SG_TEST_UNSET}") {
				t.Errorf("error %q names neither master_key nor the placeholder", err)
			}
		}
		t.Setenv("SG_TEST_BAD_KEY", "not a key")
		bad := &app.App{Database: &app.Database{Driver: driver, DSN: storetest.DSN(t, driver)}, MasterKey: "{env.SG_TEST_BAD_KEY}", MasterKeyFile: keyFile}
		if err := bad.OpenStandalone(); err == nil || !strings.Contains(err.Error(), "master_key") {
			bad.CloseStandalone()
			t.Errorf("a malformed master key: %v", err)
		}
	})
}

// Provision shares one runtime (database, keys, caches) between the configs
// of a reload that use the same database and master key, and the last
// Cleanup closes the database; a wrong master key fails clearly.
func TestProvisionSharesRuntime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		dsn := storetest.DSN(t, driver)
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		defer cancel()
		cfg := func() *app.App {
			return &app.App{Database: &app.Database{Driver: driver, DSN: dsn}, MasterKey: apptest.MasterKey,
				Issuer: apptest.Issuer, PollInterval: caddy.Duration(50 * time.Millisecond)}
		}
		oldCfg, newCfg := cfg(), cfg()
		if err := provisionAndStart(ctx, oldCfg); err != nil {
			t.Fatal(err)
		}
		if err := provisionAndStart(ctx, newCfg); err != nil {
			oldCfg.Cleanup()
			t.Fatal(err)
		}
		if oldCfg.Runtime() == nil || oldCfg.Runtime() != newCfg.Runtime() {
			t.Fatal("a reload with the same database did not share the runtime")
		}
		if oldCfg.Keys().SigningKID() == "" || oldCfg.Store() != newCfg.Store() {
			t.Fatal("runtime not usable")
		}

		// Another master key on the same database cannot open the key ring.
		wrong := cfg()
		wrong.MasterKey = strings.Repeat("ab", 32)
		if err := provisionAndStart(ctx, wrong); err == nil || !strings.Contains(err.Error(), "master key") {
			wrong.Cleanup()
			t.Errorf("wrong master key: err = %v", err)
		}

		st := newCfg.Store()
		if err := oldCfg.Cleanup(); err != nil {
			t.Fatal(err)
		}
		if err := st.Ping(context.Background()); err != nil {
			t.Fatalf("the old config's cleanup closed the database the new one uses: %v", err)
		}
		if err := newCfg.Cleanup(); err != nil {
			t.Fatal(err)
		}
		if err := st.Ping(context.Background()); err == nil {
			t.Fatal("the last cleanup left the database open")
		}
	})
}

// A client's own token lifetime wins over the app default.
func TestLifetime(t *testing.T) {
	a := &app.App{TokenLifetime: caddy.Duration(20 * time.Minute)}
	if err := a.SetDefaults(); err != nil {
		t.Fatal(err)
	}
	if got := a.Lifetime(&store.Client{}); got != 20*time.Minute {
		t.Errorf("default lifetime = %v", got)
	}
	if got := a.Lifetime(&store.Client{TokenLifetimeMinutes: 5}); got != 5*time.Minute {
		t.Errorf("client lifetime = %v", got)
	}
}

// A node keeps at most database max_connections connections open: by
// default 10 on PostgreSQL (8 nodes then fit a stock server's 100) and 8 on
// SQLite. The bound is real: with every connection taken, the next request
// for one waits until its deadline.
func TestConnectionPoolSize(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		def := apptest.Open(t, driver, noPolling)
		want := map[string]int{store.Postgres: 10, store.SQLite: 8}[driver]
		if got := poolStats(t, def).MaxOpenConnections; got != want {
			t.Fatalf("default pool size %d, want %d", got, want)
		}

		small := apptest.Open(t, driver, noPolling, func(a *app.App) { a.Database.MaxConnections = 3 })
		if got := poolStats(t, small).MaxOpenConnections; got != 3 {
			t.Fatalf("pool size %d, want the configured 3", got)
		}
		sqlDB, _ := small.Store().DB.DB()
		for range 3 {
			c, err := sqlDB.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
		}
		short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		if c, err := sqlDB.Conn(short); err == nil {
			c.Close()
			t.Fatal("a fourth connection was opened past max_connections 3")
		}
	})
}

func poolStats(t *testing.T, a *app.App) sql.DBStats {
	t.Helper()
	sqlDB, err := a.Store().DB.DB()
	if err != nil {
		t.Fatal(err)
	}
	return sqlDB.Stats()
}

// provisionAndStart does what Caddy does with an app when it runs a config:
// Provision (which opens nothing), then Start (which opens the database).
func provisionAndStart(ctx caddy.Context, a *app.App) error {
	if err := a.Provision(ctx); err != nil {
		return err
	}
	return a.Start()
}

// A start whose master key file has gone missing is refused (the database's
// keys were sealed with the lost key), saying so, and makes no key file: it
// made a fresh one that looked like the real key, for a backup job to copy
// over the good one, and every restart refused the same way. The real key
// put back opens the database; a new database beside it, sharing the key
// file's place, still gets a new key (the file is made for a database with
// no keys).
func TestLostMasterKeyFileIsNotReplaced(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		dsn := storetest.DSN(t, driver)
		keyFile := filepath.Join(t.TempDir(), "master.key")
		open := func() (*app.App, error) {
			a := &app.App{Database: &app.Database{Driver: driver, DSN: dsn}, MasterKeyFile: keyFile, Issuer: apptest.Issuer}
			return a, a.OpenStandalone()
		}
		first, err := open()
		if err != nil {
			t.Fatal(err)
		}
		first.CloseStandalone()
		real, err := os.ReadFile(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(keyFile); err != nil {
			t.Fatal(err)
		}
		if a, err := open(); err == nil || !strings.Contains(err.Error(), "is missing") {
			if err == nil {
				a.CloseStandalone()
			}
			t.Fatalf("a database whose master key file is lost: %v, want a refusal saying so", err)
		}
		if _, err := os.Stat(keyFile); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("the refused start left a key file (%v)", err)
		}
		if err := os.WriteFile(keyFile, real, 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := open()
		if err != nil {
			t.Fatalf("the real key put back: %v", err)
		}
		again.CloseStandalone()

		if err := os.Remove(keyFile); err != nil {
			t.Fatal(err)
		}
		fresh := &app.App{Database: &app.Database{Driver: driver, DSN: storetest.DSN(t, driver)}, MasterKeyFile: keyFile, Issuer: apptest.Issuer}
		if err := fresh.OpenStandalone(); err != nil {
			t.Fatalf("a new database with no key file: %v", err)
		}
		fresh.CloseStandalone()
		if _, err := os.Stat(keyFile); err != nil {
			t.Fatalf("no key file made for a new database: %v", err)
		}
	})
}
