package app_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Bootstrap counts an existing admin client by the admin API's own rule
// (module/power). A scopegate.admin client of the default tenant made by an
// admin user who is no super admin (a tenant admin, or one demoted since)
// is no super admin, so it does not stop bootstrap, which creates a working
// admin client. One made by an active super admin user stops a second run,
// until that user is disabled.
func TestBootstrapUsesPowerRules(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		mkUser := func(node *app.App, name string) *store.User {
			u := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: name, Admin: true}
			if err := node.Store().CreateUser(ctx, u, tester); err != nil {
				t.Fatal(err)
			}
			return u
		}
		boots := func(dsn string) {
			t.Helper()
			id, secret, err := bootstrapConfig(driver, dsn).Bootstrap(ctx, false)
			if err != nil {
				t.Fatalf("bootstrap when no client is a super admin: %v", err)
			}
			node := openOn(t, driver, dsn, noPolling)
			if c, err := node.AuthenticateClient(ctx, id, secret); err != nil || !c.HasScope(scope.Admin) || c.TenantID != store.DefaultTenantID {
				t.Fatalf("new admin client %+v, %v", c, err)
			}
		}

		dsn := storetest.DSN(t, driver)
		node := openOn(t, driver, dsn, noPolling)
		adminClient(t, node, store.DefaultTenantID, "ada-admin", mkUser(node, "ada").ID, scope.Admin)
		boots(dsn)

		dsn = storetest.DSN(t, driver)
		node = openOn(t, driver, dsn, noPolling)
		root := mkUser(node, "root")
		if err := node.Store().DB.Exec("UPDATE users SET super_admin = ? WHERE id = ?", true, root.ID).Error; err != nil {
			t.Fatal(err)
		}
		byRoot, _ := adminClient(t, node, store.DefaultTenantID, "root-admin", root.ID, scope.Admin)
		_, none, err := bootstrapConfig(driver, dsn).Bootstrap(ctx, false)
		if !errors.Is(err, app.ErrAlreadyBootstrapped) || none != "" || !strings.Contains(err.Error(), byRoot) {
			t.Fatalf("bootstrap beside a super admin's client: %q, %v; want ErrAlreadyBootstrapped naming %s", none, err, byRoot)
		}
		if err := node.Store().DB.Exec("UPDATE users SET disabled = ? WHERE id = ?", true, root.ID).Error; err != nil {
			t.Fatal(err)
		}
		boots(dsn)
	})
}
