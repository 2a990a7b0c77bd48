package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// UndoRotation takes a rotation back only while its successor is unused:
// the old token is usable again and the successor gone; a successor that
// was used (its answer got out after all) or a grant revoked meanwhile
// stays as it is.
func TestUndoRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		createTenants(t, s, store.DefaultTenantID)
		createClients(t, s, store.AuthUser, "c1")
		handle, fam := store.NewRefreshFamily()
		exp := time.Now().Add(time.Hour)
		save := func(replaces string) string {
			raw := store.NewRefreshToken(handle, storetest.Sealer)
			if err := s.SaveRefreshToken(ctx, &store.RefreshToken{Digest: store.Digest(raw), FamilyID: fam, ClientID: "c1", UserID: "u1",
				Scopes: store.Strings{"demo.read"}, ExpiresAt: exp}, replaces); err != nil {
				t.Fatal(err)
			}
			return raw
		}
		rotate := func(raw string) string {
			if _, err := s.UseRefreshTokenValue(ctx, raw, storetest.Sealer, time.Now(), nil); err != nil {
				t.Fatal(err)
			}
			return save(store.Digest(raw))
		}
		first := save("")
		second := rotate(first)
		if err := s.UndoRotation(ctx, store.Digest(first), store.Digest(second)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetRefreshToken(ctx, store.Digest(second)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the successor after the undo: %v, want it gone", err)
		}
		again := rotate(first) // usable again: no reuse
		third := rotate(again)
		// again was used: undoing its rotation to it now changes nothing.
		if err := s.UndoRotation(ctx, store.Digest(first), store.Digest(again)); err != nil {
			t.Fatal(err)
		}
		if t2, err := s.GetRefreshToken(ctx, store.Digest(first)); err != nil || t2.UsedAt == nil {
			t.Fatalf("a rotation whose successor was used was undone: %+v %v", t2, err)
		}
		if err := s.RevokeRefreshFamily(ctx, fam); err != nil {
			t.Fatal(err)
		}
		if err := s.UndoRotation(ctx, store.Digest(again), store.Digest(third)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UseRefreshTokenValue(ctx, again, storetest.Sealer, time.Now(), nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a revoked grant after an undo: %v, want it still gone", err)
		}
	})
}

// UndoRedemption makes a redeemed code unused again, with its own expiry,
// and deletes the family's first refresh token; the code then redeems once
// more. A password reset landing while an undo holds the code (PostgreSQL:
// the reset waits for it) still ends the code: its two statements (delete
// the unused codes, revoke the used ones) each missed a code the undo
// turned from used to unused in between, and the code redeemed into a new
// grant after the reset.
func TestUndoRedemption(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s)
		u := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: "ada"}
		if err := s.CreateUser(ctx, u, admin); err != nil {
			t.Fatal(err)
		}
		exp := time.Now().Add(time.Hour)
		redeem := func(code, fam, rt string, expires time.Time) {
			t.Helper()
			if err := s.SaveAuthCode(ctx, &store.AuthCode{Digest: code, ClientID: "c1", UserID: u.ID, TenantID: "t",
				Scopes: store.Strings{"a"}, ExpiresAt: expires}); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s.RedeemAuthCode(ctx, code, time.Now(), redemption(fam)); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveRefreshToken(ctx, &store.RefreshToken{Digest: rt, FamilyID: fam, ClientID: "c1", UserID: u.ID,
				Scopes: store.Strings{"a"}, ExpiresAt: exp, AccessJTI: "j-" + rt, AccessExpiresAt: &exp}, ""); err != nil {
				t.Fatal(err)
			}
		}
		expires := time.Now().Add(time.Minute).Truncate(time.Second)
		redeem("code1", "fam1", "rt1", expires)
		if err := s.UndoRedemption(ctx, "code1", "fam1", "rt1", expires); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetRefreshToken(ctx, "rt1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the family's first token after the undo: %v, want it gone", err)
		}
		if c, _, err := s.RedeemAuthCode(ctx, "code1", time.Now(), redemption("fam2")); err != nil || !c.ExpiresAt.Equal(expires) {
			t.Fatalf("the code after the undo: %+v %v, want it redeemed, expiring when it did (%v)", c, err, expires)
		}
		if driver != store.Postgres {
			return // one writer at a time: nothing runs between the reset's statements
		}

		redeem("code2", "fam3", "rt3", expires)
		// The undo stops holding the code while a transaction holds the
		// family's token; the reset then waits for the code.
		blocker := s.DB.Begin()
		defer blocker.Rollback()
		if err := blocker.Exec("SELECT digest FROM refresh_tokens WHERE digest = 'rt3' FOR UPDATE").Error; err != nil {
			t.Fatal(err)
		}
		var blockerPID int64
		if err := blocker.Raw("SELECT pg_backend_pid()").Scan(&blockerPID).Error; err != nil {
			t.Fatal(err)
		}
		waitFor := func(what, query string, args ...any) { // an event, polled
			t.Helper()
			for waited := 0; ; waited++ {
				var n int64
				if err := s.DB.Raw(query, args...).Scan(&n).Error; err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					return
				}
				if waited > 3000 {
					t.Fatalf("%s never happened", what)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		undo := make(chan error, 1)
		go func() { undo <- s.UndoRedemption(ctx, "code2", "fam3", "rt3", expires) }()
		waitFor("the undo waiting", "SELECT count(*) FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))", blockerPID)
		reset := make(chan error, 1)
		go func() { reset <- s.SetUserPassword(ctx, u.ID, store.DefaultTenantID, "$2a$new", admin) }()
		waitFor("the reset waiting for the code", "SELECT count(*) FROM pg_stat_activity WHERE query ILIKE '%auth_codes%' AND cardinality(pg_blocking_pids(pid)) > 0 AND NOT (? = ANY(pg_blocking_pids(pid)))", blockerPID)
		if err := blocker.Commit().Error; err != nil {
			t.Fatal(err)
		}
		if err := <-undo; err != nil {
			t.Fatal(err)
		}
		if err := <-reset; err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.RedeemAuthCode(ctx, "code2", time.Now(), redemption("fam4")); err == nil {
			t.Fatal("a code taken back while the user's password was reset redeemed afterwards")
		}
	})
}
