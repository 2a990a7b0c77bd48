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
			raw := store.NewRefreshToken(handle)
			if err := s.SaveRefreshToken(ctx, &store.RefreshToken{Digest: store.Digest(raw), FamilyID: fam, ClientID: "c1", UserID: "u1",
				Scopes: store.Strings{"demo.read"}, ExpiresAt: exp}, replaces); err != nil {
				t.Fatal(err)
			}
			return raw
		}
		rotate := func(raw string) string {
			if _, err := s.UseRefreshTokenValue(ctx, raw, time.Now(), nil); err != nil {
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
		if _, err := s.UseRefreshTokenValue(ctx, again, time.Now(), nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a revoked grant after an undo: %v, want it still gone", err)
		}
	})
}
