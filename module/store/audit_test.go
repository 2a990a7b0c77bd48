package store_test

import (
	"context"
	"testing"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// An audit row keeps the channel the actor came through (Actor.Via: the
// token's client, and the RFC 8693 actor when there is one) next to the
// principal, both for a change written with its audit row in one
// transaction (CreateClient) and for a row written on its own (Audit); an
// actor with no channel (a local command) stores "".
func TestAuditVia(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		if err := s.EnsureTenant(ctx, store.DefaultTenantID, "Default"); err != nil {
			t.Fatal(err)
		}
		viaToken := store.Actor{Principal: "user-1", TenantID: store.DefaultTenantID, RemoteAddr: "192.0.2.7", Via: "sg_abc act sg_xyz"}
		c := &store.Client{
			ID: "c1", TenantID: store.DefaultTenantID, Name: "one", AuthMethod: store.AuthAPIKey,
			AllowedScopes: store.Strings{"demo.read"}, DefaultScopes: store.Strings{"demo.read"},
			OwnerID: "user-1", SecretDigest: "d1", SecretCiphertext: []byte{1},
		}
		if err := s.CreateClient(ctx, c, viaToken); err != nil {
			t.Fatal(err)
		}
		if err := s.Audit(ctx, store.Actor{Principal: "bootstrap", TenantID: store.DefaultTenantID}, "test.local", "x", ""); err != nil {
			t.Fatal(err)
		}
		rows, total, err := s.ListAudit(ctx, "", store.Page{})
		if err != nil || total != 2 {
			t.Fatalf("ListAudit: %d rows, %v", total, err)
		}
		local, created := rows[0], rows[1] // newest first
		if created.Action != "client.create" || created.Actor != "user-1" || created.Via != "sg_abc act sg_xyz" || created.RemoteAddr != "192.0.2.7" {
			t.Fatalf("client.create row = %+v, want actor user-1 via sg_abc act sg_xyz", created)
		}
		if local.Action != "test.local" || local.Actor != "bootstrap" || local.Via != "" {
			t.Fatalf("local row = %+v, want actor bootstrap via nothing", local)
		}
	})
}

// A database made before the via column existed is upgraded on open: the
// column is added, the old rows read with an empty via and new rows keep
// theirs.
func TestAuditViaUpgrade(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn, old := openByDSN(t, driver)
		if err := old.Audit(ctx, store.Actor{Principal: "before", Via: "sg_gone"}, "test.old", "", ""); err != nil {
			t.Fatal(err)
		}
		// Back to the earlier schema: the table without the column.
		if err := old.DB.Exec("ALTER TABLE audit_entries DROP COLUMN via").Error; err != nil {
			t.Fatal(err)
		}
		old.Close()

		s, err := store.Open(driver, dsn)
		if err != nil {
			t.Fatalf("opening a database without the via column: %v", err)
		}
		defer s.Close()
		if err := s.Audit(ctx, store.Actor{Principal: "after", Via: "sg_new"}, "test.new", "", ""); err != nil {
			t.Fatal(err)
		}
		rows, _, err := s.ListAudit(ctx, "", store.Page{})
		if err != nil || len(rows) != 2 {
			t.Fatalf("ListAudit: %+v, %v", rows, err)
		}
		if rows[0].Actor != "after" || rows[0].Via != "sg_new" || rows[1].Actor != "before" || rows[1].Via != "" {
			t.Fatalf("rows after the upgrade = %+v", rows)
		}
	})
}

// The OnAudit hook hears of each audit entry once its transaction has
// committed (the row is there for anyone to read), and not of a change
// that failed.
func TestOnAuditAfterCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		if err := s.EnsureTenant(ctx, store.DefaultTenantID, "Default"); err != nil {
			t.Fatal(err)
		}
		var heard []store.AuditEntry
		s.OnAudit(func(ctx context.Context, e store.AuditEntry) {
			// Outside the transaction: only a committed row is visible.
			rows, _, err := s.ListAudit(ctx, "", store.Page{})
			if err != nil || len(rows) == 0 || rows[0].ID != e.ID {
				t.Errorf("the hook ran before its entry %d was committed (%v, %v)", e.ID, rows, err)
			}
			heard = append(heard, e)
		})
		actor := store.Actor{Principal: "admin-1", TenantID: store.DefaultTenantID, RemoteAddr: "192.0.2.9", Via: "sg_tok"}
		c := &store.Client{
			ID: "c1", TenantID: store.DefaultTenantID, Name: "one", AuthMethod: store.AuthAPIKey,
			OwnerID: "admin-1", SecretDigest: "d1", SecretCiphertext: []byte{1},
		}
		if err := s.CreateClient(ctx, c, actor); err != nil {
			t.Fatal(err)
		}
		if err := s.CreateClient(ctx, c, actor); err == nil { // the same id again
			t.Fatal("a duplicate client was created")
		}
		if len(heard) != 1 || heard[0].Action != "client.create" || heard[0].Target != "c1" || heard[0].Actor != "admin-1" ||
			heard[0].Via != "sg_tok" || heard[0].RemoteAddr != "192.0.2.9" || heard[0].TenantID != store.DefaultTenantID {
			t.Fatalf("heard %+v, want the one client.create", heard)
		}
	})
}
