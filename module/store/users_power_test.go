package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// ChangeUser decides on the row as it is inside the transaction: an error
// from the decision writes nothing; otherwise the profile, the password
// (ending the user's grants) and their audit rows land together.
func TestChangeUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s)
		u := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: "ada", Admin: true, SuperAdmin: true}
		if err := s.CreateUser(ctx, u, admin); err != nil {
			t.Fatal(err)
		}
		refresh, _ := grants(t, s, u.ID, "c1", "f", "jti")
		no := errors.New("you may not")
		hash := "$2a$new"
		_, err := s.ChangeUser(ctx, u.ID, store.DefaultTenantID, admin, &hash, func(got *store.User) (string, error) {
			if !got.SuperAdmin {
				t.Error("the decision saw a stale row")
			}
			got.Disabled = true
			return "", no
		})
		if !errors.Is(err, no) {
			t.Fatalf("refused change: %v", err)
		}
		if got, _ := s.GetUser(ctx, u.ID); got.Disabled || got.PasswordHash != "" {
			t.Fatalf("a refused change was written: %+v", got)
		}
		if _, err := s.GetRefreshToken(ctx, refresh); err != nil {
			t.Fatalf("a refused change ended the grants: %v", err)
		}
		if _, err := s.ChangeUser(ctx, u.ID, "acme", admin, nil, func(*store.User) (string, error) { return "user.update", nil }); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another tenant: %v", err)
		}
		got, err := s.ChangeUser(ctx, u.ID, store.DefaultTenantID, admin, &hash, func(got *store.User) (string, error) {
			got.SuperAdmin, got.Email = false, "ada@example.com"
			return "user.update", nil
		})
		if err != nil || got.SuperAdmin || got.PasswordHash != hash {
			t.Fatalf("ChangeUser = %+v, %v", got, err)
		}
		if stored, _ := s.GetUser(ctx, u.ID); stored.SuperAdmin || stored.Email != "ada@example.com" || stored.PasswordHash != hash {
			t.Fatalf("stored %+v", stored)
		}
		if _, err := s.GetRefreshToken(ctx, refresh); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a new password left the refresh token: %v", err)
		}
		audit, _, _ := s.ListAudit(ctx, "", store.Page{Limit: 2})
		if len(audit) != 2 || audit[0].Action != "user.password" || audit[1].Action != "user.update" {
			t.Fatalf("audit %+v", audit)
		}
	})
}

// upgraded makes a database as an older build left it (prepare writes rows
// with this build's store, then takes back what the older build lacked)
// and opens it again as this build does, returning the DSN and the store.
func upgraded(t *testing.T, driver string, prepare func(ctx context.Context, old *store.Store)) (string, *store.Store) {
	t.Helper()
	ctx := context.Background()
	dsn, old := openByDSN(t, driver)
	if err := old.EnsureTenant(ctx, store.DefaultTenantID, "Default"); err != nil {
		t.Fatal(err)
	}
	prepare(ctx, old)
	old.Close()
	s, err := store.Open(driver, dsn)
	if err != nil {
		t.Fatalf("opening the older database: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return dsn, s
}

// Opening a database made before the super admin level existed keeps the
// power its admins had: every admin of the default tenant becomes a super
// admin, once; other tenants' admins and plain users do not, and an admin
// made afterwards is not promoted by a later open.
func TestSuperAdminUpgrade(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		mk := func(s *store.Store, tenant, name string, isAdmin bool) string {
			u := &store.User{ID: store.NewID(), TenantID: tenant, Username: name, Admin: isAdmin}
			if err := s.CreateUser(ctx, u, admin); err != nil {
				t.Fatal(err)
			}
			return u.ID
		}
		var root, plain, boss string
		dsn, s := upgraded(t, driver, func(ctx context.Context, old *store.Store) {
			if err := old.CreateTenant(ctx, &store.Tenant{ID: "acme", Name: "acme"}, admin); err != nil {
				t.Fatal(err)
			}
			root, plain, boss = mk(old, store.DefaultTenantID, "root", true), mk(old, store.DefaultTenantID, "plain", false), mk(old, "acme", "boss", true)
			if err := old.DB.Exec("ALTER TABLE users DROP COLUMN super_admin").Error; err != nil {
				t.Fatal(err)
			}
		})
		later := mk(s, store.DefaultTenantID, "later", true)
		s.Close()
		s, err := store.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for id, want := range map[string]bool{root: true, plain: false, boss: false, later: false} {
			u, err := s.GetUser(ctx, id)
			if err != nil || u.SuperAdmin != want {
				t.Errorf("%s: super admin = %v, %v; want %v", u.Username, u.SuperAdmin, err, want)
			}
		}
	})
}

// ClientCreator names the user whose power made a client: the recorded
// creator; for older rows the owner when a user, else the first user up the
// chain of owning clients; nobody for bootstrap's self-owned client or a
// chain broken by a deleted client; and the id without a user when that
// user is gone.
func TestClientCreator(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s)
		u := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: "ada", Admin: true}
		if err := s.CreateUser(ctx, u, admin); err != nil {
			t.Fatal(err)
		}
		mk := func(id, owner, creator string) *store.Client {
			c := &store.Client{ID: id, TenantID: store.DefaultTenantID, Name: id, AuthMethod: store.AuthAPIKey,
				AllowedScopes: store.Strings{"a"}, DefaultScopes: store.Strings{}, RedirectURIs: store.Strings{},
				OwnerID: owner, CreatorUserID: creator, SecretDigest: "d-" + id}
			if err := s.CreateClient(ctx, c, admin); err != nil {
				t.Fatal(err)
			}
			return c
		}
		boot := mk("sg_boot", "sg_boot", "")
		recorded := mk("sg_rec", "sg_boot", u.ID)
		legacy := mk("sg_legacy", u.ID, "")
		child := mk("sg_child", legacy.ID, "")
		grandchild := mk("sg_grand", child.ID, "")
		ofBoot := mk("sg_ofboot", boot.ID, "")
		orphan := mk("sg_orphan", "sg_deleted", "")
		gone := mk("sg_gone", "sg_boot", "00000000-0000-0000-0000-000000000000")
		for _, tc := range []struct {
			c      *store.Client
			id     string
			exists bool
		}{
			{boot, "", false}, {recorded, u.ID, true}, {legacy, u.ID, true}, {child, u.ID, true}, {grandchild, u.ID, true},
			{ofBoot, "", false}, {orphan, "", false}, {gone, "00000000-0000-0000-0000-000000000000", false},
		} {
			id, user, err := s.ClientCreator(ctx, tc.c)
			if err != nil || id != tc.id || (user != nil) != tc.exists || (user != nil && user.ID != id) {
				t.Errorf("%s: ClientCreator = %q, %+v, %v; want %q (exists %v)", tc.c.ID, id, user, err, tc.id, tc.exists)
			}
		}
	})
}

// Opening a database from before the disabled_by_super and token_generation
// columns keeps what its rows meant: a disabled client or user may have been
// disabled by a super admin, so only a super admin may enable it again; a
// client whose tokens an admin ended by time (tokens_revoked_at) keeps that
// time and generation 0, which the guard reads as that build did
// (app.endedByTime); rows without either are untouched.
func TestUpgradeKeepsDisablesAndEndedTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		users := map[string]string{}
		_, s := upgraded(t, driver, func(ctx context.Context, old *store.Store) {
			seed(t, old) // client c1, enabled, tokens never ended
			for _, id := range []string{"off", "ended"} {
				c := &store.Client{ID: id, TenantID: store.DefaultTenantID, Name: id, AuthMethod: store.AuthAPIKey,
					AllowedScopes: store.Strings{"demo.read"}, OwnerID: "tester", SecretDigest: "d", SecretCiphertext: []byte{1}}
				if err := old.CreateClient(ctx, c, admin); err != nil {
					t.Fatal(err)
				}
			}
			if err := old.SetClientDisabled(ctx, "off", true, admin); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"active", "blocked"} {
				u := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: name, Disabled: name == "blocked"}
				if err := old.CreateUser(ctx, u, admin); err != nil {
					t.Fatal(err)
				}
				users[name] = u.ID
			}
			// What a build before both columns wrote: the time alone.
			for _, sql := range []string{
				"UPDATE clients SET tokens_revoked_at = CURRENT_TIMESTAMP WHERE id = 'ended'",
				"ALTER TABLE clients DROP COLUMN disabled_by_super",
				"ALTER TABLE users DROP COLUMN disabled_by_super",
				"ALTER TABLE clients DROP COLUMN token_generation",
			} {
				if err := old.DB.Exec(sql).Error; err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
		})
		for id, want := range map[string][2]any{"c1": {false, 0}, "off": {true, 0}, "ended": {false, 0}} {
			c, err := s.GetClient(ctx, id)
			if err != nil || c.DisabledBySuper != want[0] || c.TokenGeneration != want[1] || (id == "ended") != (c.TokensRevokedAt != nil) {
				t.Errorf("client %s: disabled_by_super %v, generation %d, %v; want %v", id, c.DisabledBySuper, c.TokenGeneration, err, want)
			}
		}
		for name, want := range map[string]bool{"active": false, "blocked": true} {
			if u, err := s.GetUser(ctx, users[name]); err != nil || u.DisabledBySuper != want {
				t.Errorf("user %s: disabled_by_super %v, %v; want %v", name, u.DisabledBySuper, err, want)
			}
		}
		// The mark holds: a tenant admin cannot restore what may have been a super admin's disable.
		if err := s.SetClientDisabled(ctx, "off", false, admin); !errors.Is(err, store.ErrDisabledBySuper) {
			t.Errorf("a tenant admin restored an upgraded disabled client: %v", err)
		}
	})
}

// A username an older build stored as typed, decomposed (jose + U+0301), is
// stored composed by the next open, so the user is found by name again, by
// either spelling; one whose composed form another user of the tenant has
// is left for the admins (renaming would merge two accounts).
func TestUpgradeComposesUsernames(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		const composed, decomposed = "jos\u00e9", "jose\u0301"
		ids := map[string]string{}
		_, s := upgraded(t, driver, func(ctx context.Context, old *store.Store) {
			for _, name := range []string{"one", "two", "ren\u00e9e"} {
				u := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: name}
				if err := old.CreateUser(ctx, u, admin); err != nil {
					t.Fatal(err)
				}
				ids[name] = u.ID
			}
			// What an older build stored: "one" as jose + U+0301; "two" as
			// rene + U+0301 + e, whose composed form "renée" is taken.
			for id, name := range map[string]string{ids["one"]: decomposed, ids["two"]: "rene\u0301e"} {
				if err := old.DB.Exec("UPDATE users SET username = ? WHERE id = ?", name, id).Error; err != nil {
					t.Fatal(err)
				}
			}
		})
		for _, typed := range []string{composed, decomposed} {
			if u, err := s.FindUser(ctx, store.DefaultTenantID, typed); err != nil || u.ID != ids["one"] || u.Username != composed {
				t.Errorf("FindUser(%q) = %+v, %v; want the upgraded user, stored composed", typed, u, err)
			}
		}
		if u, err := s.GetUser(ctx, ids["two"]); err != nil || u.Username != "rene\u0301e" {
			t.Errorf("the user whose composed name is taken: %+v, %v; want it left as stored", u, err)
		}
	})
}

// openByDSN opens a fresh test database of driver and returns its DSN too,
// for tests that change the schema under a store and open it again (an
// upgrade). The caller closes the store when it is done with it.
func openByDSN(t *testing.T, driver string) (string, *store.Store) {
	t.Helper()
	dsn := storetest.DSN(t, driver)
	s, err := store.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return dsn, s
}
