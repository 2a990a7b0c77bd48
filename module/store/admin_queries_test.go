package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

var editor = store.Actor{Principal: "editor", TenantID: "acme", RemoteAddr: "198.51.100.7"}

// twoTenants makes tenants "acme" and "other" with one client and one user in acme.
func twoTenants(t *testing.T, s *store.Store) (*store.Client, *store.User) {
	t.Helper()
	ctx := context.Background()
	for _, id := range []string{"acme", "other"} {
		if err := s.CreateTenant(ctx, &store.Tenant{ID: id, Name: id}, editor); err != nil {
			t.Fatal(err)
		}
	}
	u := &store.User{ID: "u1", TenantID: "acme", Username: "ada", PasswordHash: "hash"}
	if err := s.CreateUser(ctx, u, editor); err != nil {
		t.Fatal(err)
	}
	c := &store.Client{
		ID: "c1", TenantID: "acme", Name: "one", AuthMethod: store.AuthAPIKey,
		AllowedScopes: store.Strings{"demo.read"}, DefaultScopes: store.Strings{"demo.read"},
		OwnerID: "editor", SecretDigest: "d1", SecretCiphertext: []byte{1},
	}
	if err := s.CreateClient(ctx, c, editor); err != nil {
		t.Fatal(err)
	}
	return c, u
}

// UpdateClientSettings saves the editable settings but never the secret,
// owner or disabled flag (so it cannot undo a rotation or a disable made
// after the row was read), refuses rows outside the expected tenant, reports
// duplicate names as ErrConflict, and is audited and on the change feed.
func TestUpdateClientSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		c, u := twoTenants(t, s)
		stale := *c // read before the disable and the rotation below

		if err := s.SetClientDisabled(ctx, c.ID, true, editor); err != nil {
			t.Fatal(err)
		}
		if err := s.RotateSecret(ctx, c.ID, "d2", []byte{2}, nil, editor); err != nil {
			t.Fatal(err)
		}
		before, _ := s.Feed().Last(ctx)

		stale.Name = "renamed"
		stale.AllowedScopes = store.Strings{"demo.read", "demo.write"}
		stale.RedirectURIs = store.Strings{"https://app.example/cb"}
		stale.TokenLifetimeMinutes = 15
		stale.ConnectAsUserID = &u.ID
		stale.AllowUserTokens = true
		stale.OwnerID = "intruder"
		if err := s.UpdateClientSettings(ctx, &stale, "acme", editor); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetClient(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "renamed" || len(got.AllowedScopes) != 2 || got.RedirectURIs[0] != "https://app.example/cb" ||
			got.TokenLifetimeMinutes != 15 || got.ConnectAsUserID == nil || *got.ConnectAsUserID != "u1" || !got.AllowUserTokens {
			t.Fatalf("settings not saved: %+v", got)
		}
		if !got.Disabled || got.SecretDigest != "d2" || got.OwnerID != "editor" {
			t.Fatalf("disabled/secret/owner overwritten: disabled=%v digest=%q owner=%q", got.Disabled, got.SecretDigest, got.OwnerID)
		}
		changes, _ := s.Feed().Since(ctx, before, 10)
		if len(changes) != 1 || changes[0].Kind != store.ChangeClient || changes[0].ClientID != c.ID {
			t.Fatalf("feed = %+v", changes)
		}
		entries, _, _ := s.ListAudit(ctx, "acme", store.Page{Limit: 1})
		if len(entries) != 1 || entries[0].Action != "client.update" || entries[0].Actor != "editor" || entries[0].RemoteAddr != "198.51.100.7" {
			t.Fatalf("audit = %+v", entries)
		}

		got.Name = "elsewhere"
		if err := s.UpdateClientSettings(ctx, got, "other", editor); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update outside its tenant: err = %v, want ErrNotFound", err)
		}
		if again, _ := s.GetClient(ctx, c.ID); again.Name != "renamed" {
			t.Fatalf("a refused update changed the name to %q", again.Name)
		}

		dup := &store.Client{
			ID: "c2", TenantID: "acme", Name: "two", AuthMethod: store.AuthAPIKey,
			AllowedScopes: store.Strings{"demo.read"}, DefaultScopes: store.Strings{},
			OwnerID: "editor", SecretDigest: "d3",
		}
		if err := s.CreateClient(ctx, dup, editor); err != nil {
			t.Fatal(err)
		}
		dup.Name = "renamed"
		if err := s.UpdateClientSettings(ctx, dup, "acme", editor); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate name: err = %v, want ErrConflict", err)
		}
	})
}

// UpdateUserProfile saves display name, email, admin and disabled but never
// the username or password hash, refuses users outside the expected tenant,
// and tells every node (the feed entry's user_id) with an audit row.
func TestUpdateUserProfile(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		_, u := twoTenants(t, s)
		before, _ := s.Feed().Last(ctx)

		edit := *u
		edit.DisplayName = "Ada L."
		edit.Email = "ada@example.com"
		edit.Disabled = true
		edit.Admin = true
		edit.Username = "changed"
		edit.PasswordHash = ""
		if err := s.UpdateUserProfile(ctx, &edit, "acme", editor, "user.disable"); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.DisplayName != "Ada L." || got.Email != "ada@example.com" || !got.Disabled || !got.Admin {
			t.Fatalf("profile not saved: %+v", got)
		}
		if got.Username != "ada" || got.PasswordHash != "hash" {
			t.Fatalf("username/password overwritten: %+v", got)
		}
		changes, _ := s.Feed().Since(ctx, before, 10)
		if len(changes) != 1 || changes[0].Kind != store.ChangeUser || changes[0].UserID != u.ID || changes[0].JTI != "" {
			t.Fatalf("feed = %+v", changes)
		}
		entries, _, _ := s.ListAudit(ctx, "acme", store.Page{Limit: 1})
		if len(entries) != 1 || entries[0].Action != "user.disable" || entries[0].Target != u.ID {
			t.Fatalf("audit = %+v", entries)
		}
		if err := s.UpdateUserProfile(ctx, &edit, "other", editor, "user.update"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update outside its tenant: err = %v, want ErrNotFound", err)
		}
	})
}
