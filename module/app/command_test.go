package app_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// bootstrapConfig is an unopened app on dsn, as the bootstrap command builds
// it from a config file.
func bootstrapConfig(driver, dsn string) *app.App {
	return &app.App{Database: &app.Database{Driver: driver, DSN: dsn}, MasterKey: apptest.MasterKey, Issuer: apptest.Issuer}
}

// openOn opens a second node on the database another app uses, the way
// apptest.Open builds an app but reusing dsn instead of a fresh database.
func openOn(t *testing.T, driver, dsn string, configure ...func(*app.App)) *app.App {
	t.Helper()
	a := &app.App{
		Database:     &app.Database{Driver: driver, DSN: dsn},
		Issuer:       apptest.Issuer,
		MasterKey:    apptest.MasterKey,
		Scopes:       apptest.DemoScopes,
		PollInterval: caddy.Duration(50 * time.Millisecond),
	}
	for _, f := range configure {
		f(a)
	}
	if err := a.OpenStandalone(); err != nil {
		t.Fatalf("open second node: %v", err)
	}
	t.Cleanup(func() { a.CloseStandalone() })
	return a
}

func countClients(t *testing.T, a *app.App) int64 {
	t.Helper()
	_, n, err := a.Store().ListClients(context.Background(), store.ClientFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Bootstrap creates one admin client whose 43-character secret
// authenticates with scope scopegate.admin; running it again fails with
// ErrAlreadyBootstrapped and creates nothing; --rotate issues a new secret
// and the old one stops working at once.
func TestBootstrap(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn := storetest.DSN(t, driver)
		boot := bootstrapConfig(driver, dsn)

		id, secret1, err := boot.Bootstrap(ctx, false)
		if err != nil {
			t.Fatalf("first bootstrap: %v", err)
		}
		if !strings.HasPrefix(id, "sg_") || len(secret1) != 43 {
			t.Fatalf("bootstrap returned id %q and a %d-character secret, want sg_… and 43", id, len(secret1))
		}
		if boot.Runtime() != nil {
			t.Fatal("Bootstrap left its database open")
		}

		node := openOn(t, driver, dsn, func(a *app.App) { a.PollInterval = caddy.Duration(time.Hour) })
		c, err := node.AuthenticateClient(ctx, id, secret1)
		if err != nil {
			t.Fatalf("bootstrap secret does not authenticate: %v", err)
		}
		if c.ID != id || c.Name != app.BootstrapClientName || c.TenantID != store.DefaultTenantID ||
			!c.HasScope(scope.Admin) || !c.DefaultScopes.Contains(scope.Admin) || c.Disabled {
			t.Fatalf("admin client = %+v", c)
		}
		if revealed, err := node.RevealSecret(c); err != nil || revealed != secret1 {
			t.Fatalf("the sealed secret does not open to the one printed (%v)", err)
		}
		audit, _, err := node.Store().ListAudit(ctx, "", store.Page{})
		if err != nil || len(audit) == 0 || audit[0].Action != "client.create" || audit[0].Actor != "bootstrap" {
			t.Fatalf("bootstrap not audited: %+v, %v", audit, err)
		}

		_, again, err := boot.Bootstrap(ctx, false)
		if !errors.Is(err, app.ErrAlreadyBootstrapped) || again != "" {
			t.Fatalf("second bootstrap: secret %q, err %v; want ErrAlreadyBootstrapped", again, err)
		}
		if !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "--rotate") {
			t.Errorf("second bootstrap error %q should name the client and --rotate", err)
		}
		if n := countClients(t, node); n != 1 {
			t.Fatalf("%d clients after a refused second bootstrap, want 1", n)
		}

		rotID, secret2, err := boot.Bootstrap(ctx, true)
		if err != nil || rotID != id || len(secret2) != 43 || secret2 == secret1 {
			t.Fatalf("rotate: id %q (want %q), new secret differs: %v, err %v", rotID, id, secret2 != secret1, err)
		}
		if n := countClients(t, node); n != 1 {
			t.Fatalf("%d clients after rotation, want 1", n)
		}
		// The node learns of the rotation through the change feed.
		if err := node.Runtime().Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := node.AuthenticateClient(ctx, id, secret1); !errors.Is(err, app.ErrBadCredentials) {
			t.Fatalf("old secret after rotation: err = %v, want ErrBadCredentials", err)
		}
		if _, err := node.AuthenticateClient(ctx, id, secret2); err != nil {
			t.Fatalf("new secret after rotation: %v", err)
		}
	})
}

// adminClient stores an enabled client of tenant holding scopes, owned by
// owner ("" makes it its own owner, as bootstrap does), and returns its id
// and secret.
func adminClient(t *testing.T, a *app.App, tenant, name, owner string, scopes ...string) (string, string) {
	t.Helper()
	id := app.NewClientID()
	if owner == "" {
		owner = id
	}
	plain, digest, ct, err := a.NewSecret(id)
	if err != nil {
		t.Fatal(err)
	}
	c := &store.Client{
		ID: id, TenantID: tenant, Name: name, AuthMethod: store.AuthAPIKey,
		AllowedScopes: scopes, DefaultScopes: scopes, OwnerID: owner, SecretDigest: digest, SecretCiphertext: ct,
	}
	if err := a.Store().CreateClient(context.Background(), c, tester); err != nil {
		t.Fatal(err)
	}
	return id, plain
}

// authenticates fails the test unless secret is (or, with want false, is
// no longer) the client's secret, as node sees it after polling the feed.
func authenticates(t *testing.T, node *app.App, id, secret string, want bool) {
	t.Helper()
	if err := node.Runtime().Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := node.AuthenticateClient(context.Background(), id, secret)
	if want && err != nil {
		t.Fatalf("%s: the secret is refused: %v", id, err)
	}
	if !want && !errors.Is(err, app.ErrBadCredentials) {
		t.Fatalf("%s: an old secret still authenticates (err %v)", id, err)
	}
}

// Bootstrap looks for any enabled admin client of the default tenant, not
// for the name it gave the first one: after the first is renamed a second run
// still fails (naming it) and creates nothing. --rotate replaces the only
// admin client's secret whatever its name; among several it picks the one
// bootstrap made; when it cannot tell (two made by bootstrap) it refuses,
// listing them and pointing to --client-id, and rotates nothing;
// BootstrapRotate with an id rotates exactly that admin client and refuses
// an id that is not one.
func TestBootstrapFindsRenamedAdmin(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn := storetest.DSN(t, driver)
		boot := bootstrapConfig(driver, dsn)
		first, secret1, err := boot.Bootstrap(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		node := openOn(t, driver, dsn, noPolling)
		c, err := node.Store().GetClient(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		c.Name = "ops-admin"
		if err := node.Store().UpdateClientSettings(ctx, c, store.DefaultTenantID, tester); err != nil {
			t.Fatal(err)
		}

		_, again, err := boot.Bootstrap(ctx, false)
		if !errors.Is(err, app.ErrAlreadyBootstrapped) || again != "" || !strings.Contains(err.Error(), first) {
			t.Fatalf("bootstrap after a rename: secret %q, err %v; want ErrAlreadyBootstrapped naming %s", again, err, first)
		}
		if n := countClients(t, node); n != 1 {
			t.Fatalf("%d clients after bootstrap ran again on a renamed admin, want 1", n)
		}

		rotID, secret2, err := boot.Bootstrap(ctx, true)
		if err != nil || rotID != first {
			t.Fatalf("--rotate of the renamed admin: id %q, err %v; want %s", rotID, err, first)
		}
		authenticates(t, node, first, secret1, false)
		authenticates(t, node, first, secret2, true)

		// A second admin made through the admin API (owned by the first):
		// --rotate still means the one bootstrap made.
		second, secondSecret := adminClient(t, node, store.DefaultTenantID, "second-admin", first, scope.Admin)
		rotID, secret3, err := boot.Bootstrap(ctx, true)
		if err != nil || rotID != first {
			t.Fatalf("--rotate among two admins: id %q, err %v; want the bootstrap one %s", rotID, err, first)
		}
		authenticates(t, node, first, secret3, true)
		authenticates(t, node, second, secondSecret, true)

		// Another self-owned admin (what a bootstrap before this fix made
		// after a rename): --rotate cannot tell and rotates nothing.
		third, thirdSecret := adminClient(t, node, store.DefaultTenantID, app.BootstrapClientName, "", scope.Admin)
		_, none, err := boot.Bootstrap(ctx, true)
		if err == nil || none != "" || !strings.Contains(err.Error(), "--client-id") ||
			!strings.Contains(err.Error(), first) || !strings.Contains(err.Error(), second) || !strings.Contains(err.Error(), third) {
			t.Fatalf("--rotate among three: secret %q, err %v; want a refusal listing them and --client-id", none, err)
		}
		authenticates(t, node, first, secret3, true)
		authenticates(t, node, third, thirdSecret, true)

		rotID, secret4, err := boot.BootstrapRotate(ctx, second)
		if err != nil || rotID != second {
			t.Fatalf("BootstrapRotate(%s): id %q, err %v", second, rotID, err)
		}
		authenticates(t, node, second, secondSecret, false)
		authenticates(t, node, second, secret4, true)
		authenticates(t, node, first, secret3, true)

		plain, _ := adminClient(t, node, store.DefaultTenantID, "reader", first, "demo.read")
		for _, id := range []string{"sg_nope", plain} {
			if _, s, err := boot.BootstrapRotate(ctx, id); err == nil || s != "" || !strings.Contains(err.Error(), id) {
				t.Fatalf("BootstrapRotate(%s): secret %q, err %v; want a refusal naming it", id, s, err)
			}
		}
		if n := countClients(t, node); n != 4 {
			t.Fatalf("%d clients, want the 4 made above", n)
		}
	})
}

// What is not an admin client does not stop bootstrap: a disabled admin
// client, one of another tenant and a default-tenant client without
// scopegate.admin. Bootstrap then creates one, under the next free name when
// a disabled one keeps scopegate-admin, and it authenticates with
// scopegate.admin.
func TestBootstrapIgnoresNonAdmins(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn := storetest.DSN(t, driver)
		node := openOn(t, driver, dsn, noPolling)
		if err := node.Store().CreateTenant(ctx, &store.Tenant{ID: "acme", Name: "acme"}, tester); err != nil {
			t.Fatal(err)
		}
		adminClient(t, node, "acme", "acme-admin", "", scope.Admin)
		adminClient(t, node, store.DefaultTenantID, "tenant-only", "", scope.TenantAdmin)
		off, _ := adminClient(t, node, store.DefaultTenantID, app.BootstrapClientName, "", scope.Admin)
		if err := node.Store().SetClientDisabled(ctx, off, true, tester); err != nil {
			t.Fatal(err)
		}

		id, secretValue, err := bootstrapConfig(driver, dsn).Bootstrap(ctx, false)
		if err != nil {
			t.Fatalf("bootstrap with no enabled admin client: %v", err)
		}
		c, err := node.AuthenticateClient(ctx, id, secretValue)
		if err != nil || c.Name != app.BootstrapClientName+"-2" || !c.HasScope(scope.Admin) || c.TenantID != store.DefaultTenantID {
			t.Fatalf("new admin client %+v, %v; want %s-2 holding %s", c, err, app.BootstrapClientName, scope.Admin)
		}
		if _, _, err := bootstrapConfig(driver, dsn).Bootstrap(ctx, false); !errors.Is(err, app.ErrAlreadyBootstrapped) {
			t.Fatalf("bootstrap after that: %v, want ErrAlreadyBootstrapped", err)
		}
	})
}

// A bootstrap that found no admin client and then meets, while picking its
// client's name, the admin client a concurrent bootstrap has just created
// stops with ErrAlreadyBootstrapped naming it instead of taking the next
// name; names held by a disabled admin client or a client without
// scopegate.admin are skipped.
func TestBootstrapNameStopsAtAnotherRun(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		node := openOn(t, driver, storetest.DSN(t, driver), noPolling)
		off, _ := adminClient(t, node, store.DefaultTenantID, app.BootstrapClientName, "", scope.Admin)
		if err := node.Store().SetClientDisabled(ctx, off, true, tester); err != nil {
			t.Fatal(err)
		}
		adminClient(t, node, store.DefaultTenantID, app.BootstrapClientName+"-2", "", "demo.read")
		if name, err := node.BootstrapName(ctx); err != nil || name != app.BootstrapClientName+"-3" {
			t.Fatalf("name past a disabled admin and a reader: %q, %v; want %s-3", name, err, app.BootstrapClientName)
		}
		other, _ := adminClient(t, node, store.DefaultTenantID, app.BootstrapClientName+"-3", "", scope.Admin)
		name, err := node.BootstrapName(ctx)
		if !errors.Is(err, app.ErrAlreadyBootstrapped) || name != "" || !strings.Contains(err.Error(), other) {
			t.Fatalf("name after another run made %s: %q, %v; want ErrAlreadyBootstrapped naming it", other, name, err)
		}
	})
}

// Bootstraps racing on one database create exactly one admin client; every
// other one reports ErrAlreadyBootstrapped.
func TestBootstrapConcurrent(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, driver string) {
		dsn := storetest.DSN(t, driver)
		// Set the schema up first, as a running gateway would have.
		openOn(t, driver, dsn)
		const n = 4
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, _, errs[i] = bootstrapConfig(driver, dsn).Bootstrap(context.Background(), false)
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, app.ErrAlreadyBootstrapped):
				t.Errorf("concurrent bootstrap: %v", err)
			}
		}
		check := openOn(t, driver, dsn)
		if ok != 1 || countClients(t, check) != 1 {
			t.Fatalf("%d bootstraps succeeded and %d clients exist, want 1 and 1", ok, countClients(t, check))
		}
	})
}

// Bootstrap with no admin, on a config that does not open, reports why.
func TestBootstrapOpenError(t *testing.T) {
	a := &app.App{Database: &app.Database{Driver: store.SQLite, DSN: filepath.Join(t.TempDir(), "x.db")}, MasterKey: "short"}
	if _, _, err := a.Bootstrap(context.Background(), false); err == nil || !strings.Contains(err.Error(), "master_key") {
		t.Fatalf("err = %v", err)
	}
}

// AppFromConfigFile reads the scopegate global option out of a Caddyfile (and
// the app out of JSON), fills in defaults, and the app it returns can
// bootstrap the database the file names.
func TestAppFromConfigFile(t *testing.T) {
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "data", "sg.db")
	caddyfilePath := filepath.Join(dir, "Caddyfile")
	writeFile(t, caddyfilePath, `{
	scopegate {
		database sqlite `+dbPath+`
		issuer https://auth.example.com/
		master_key `+apptest.MasterKey+`
		day_timezone Europe/Paris
		token_lifetime 10m
		scope demo.read "Read demo data"
	}
}

:0 {
	respond "ok"
}
`)
	a, err := app.AppFromConfigFile(caddyfilePath, "")
	if err != nil {
		t.Fatalf("AppFromConfigFile: %v", err)
	}
	if a.Database == nil || a.Database.Driver != store.SQLite || a.Database.DSN != dbPath {
		t.Fatalf("database = %+v", a.Database)
	}
	if a.Issuer != "https://auth.example.com" || a.Audience != a.Issuer || a.DayTimezone != "Europe/Paris" ||
		a.TokenLifetime != caddy.Duration(10*time.Minute) || a.Leeway != caddy.Duration(30*time.Second) {
		t.Fatalf("settings or defaults wrong: %+v", a)
	}
	if _, ok := a.Catalogue().Get("demo.read"); !ok {
		t.Fatal("configured scope missing")
	}
	if a.Runtime() != nil {
		t.Fatal("AppFromConfigFile opened the database")
	}
	if _, err := os.Stat(dbPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("AppFromConfigFile created the database")
	}

	id, secretValue, err := a.Bootstrap(context.Background(), false)
	if err != nil {
		t.Fatalf("bootstrap from Caddyfile config: %v", err)
	}
	if _, err := os.Stat(dbPath); err != nil {
		t.Fatalf("bootstrap did not use the Caddyfile's database: %v", err)
	}
	node := openOn(t, store.SQLite, dbPath)
	if _, err := node.AuthenticateClient(context.Background(), id, secretValue); err != nil {
		t.Fatalf("bootstrapped secret: %v", err)
	}

	// The same through a JSON config, with an explicit adapter-less load.
	jsonPath := filepath.Join(dir, "caddy.json")
	writeFile(t, jsonPath, `{"apps":{"scopegate":{"issuer":"https://json.example","database":{"driver":"sqlite","dsn":"`+dbPath+`"},"master_key":"`+apptest.MasterKey+`"}}}`)
	j, err := app.AppFromConfigFile(jsonPath, "")
	if err != nil || j.Issuer != "https://json.example" || j.Database.DSN != dbPath {
		t.Fatalf("JSON config: %+v, %v", j, err)
	}
	if _, _, err := j.Bootstrap(context.Background(), false); !errors.Is(err, app.ErrAlreadyBootstrapped) {
		t.Fatalf("JSON config on the same database: %v", err)
	}

	// Errors: a missing file, a broken app, and a config that does not validate.
	if _, err := app.AppFromConfigFile(filepath.Join(dir, "missing.json"), ""); err == nil {
		t.Error("missing file accepted")
	}
	broken := filepath.Join(dir, "broken.json")
	writeFile(t, broken, `{"apps":{"scopegate":{"cache_size":"many"}}}`)
	if _, err := app.AppFromConfigFile(broken, ""); err == nil || !strings.Contains(err.Error(), "scopegate app config") {
		t.Errorf("broken app: %v", err)
	}
	invalid := filepath.Join(dir, "invalid.json")
	writeFile(t, invalid, `{"apps":{"scopegate":{"issuer":"not-a-url"}}}`)
	if _, err := app.AppFromConfigFile(invalid, ""); err == nil || !strings.Contains(err.Error(), "issuer") {
		t.Errorf("invalid issuer: %v", err)
	}
	badFile := filepath.Join(dir, "bad", "Caddyfile")
	writeFile(t, badFile, "{\n\tscopegate {\n\t\tcache_size 0\n\t}\n}\n")
	if _, err := app.AppFromConfigFile(badFile, ""); err == nil || !strings.Contains(err.Error(), "cache_size") {
		t.Errorf("bad Caddyfile: %v", err)
	}

	// A config without the scopegate app gives the zero-config defaults.
	none := filepath.Join(dir, "none.json")
	writeFile(t, none, `{"apps":{}}`)
	z, err := app.AppFromConfigFile(none, "")
	if err != nil || z.Database != nil || z.Issuer != "http://localhost" {
		t.Errorf("no scopegate app: %+v, %v", z, err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Rotating the admin secret of a database that is not there is refused,
// and makes no database: with another data directory it made a new
// database, master key and admin client and exited 0, while the leaked
// secret kept working on the real one.
func TestBootstrapRotateNeedsADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "elsewhere", "scopegate.db")
	a := bootstrapConfig(store.SQLite, path)
	if _, _, err := a.Bootstrap(context.Background(), true); err == nil || !strings.Contains(err.Error(), "no database is at") {
		t.Fatalf("rotate on no database: %v, want a refusal naming the path", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused rotation made %s (%v)", path, err)
	}
}
