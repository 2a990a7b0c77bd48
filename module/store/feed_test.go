package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// Every write that changes what nodes cache appends a feed entry whose
// typed fields name what changed (a client by client_id, a user by user_id,
// a revoked token by jti and its client), creations included, so that a
// node that cached the id as missing drops it; a user entry written before
// user_id existed (the id in jti) reads as a user entry all the same.
func TestFeedEntriesNameWhatChanged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s)
		before, err := s.Feed().Last(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c := &store.Client{ID: "c-new", TenantID: store.DefaultTenantID, Name: "new", AuthMethod: store.AuthAPIKey,
			OwnerID: "tester", SecretDigest: "d"}
		if err := s.CreateClient(ctx, c, admin); err != nil {
			t.Fatal(err)
		}
		u := &store.User{ID: "u-new", TenantID: store.DefaultTenantID, Username: "new"}
		if err := s.CreateUser(ctx, u, admin); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, "jti-1", c.ID, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		legacy := store.Change{Kind: store.ChangeUser, JTI: "u-old", CreatedAt: time.Now().UTC()}
		if err := s.DB.Create(&legacy).Error; err != nil {
			t.Fatal(err)
		}
		got, err := s.Feed().Since(ctx, before, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := []store.Change{
			{Kind: store.ChangeClient, ClientID: c.ID},
			{Kind: store.ChangeUser, UserID: u.ID},
			{Kind: store.ChangeRevoke, ClientID: c.ID, JTI: "jti-1"},
			{Kind: store.ChangeUser, UserID: "u-old"},
		}
		if len(got) != len(want) {
			t.Fatalf("feed = %+v, want %d entries", got, len(want))
		}
		for i, w := range want {
			g := got[i]
			if g.Kind != w.Kind || g.ClientID != w.ClientID || g.UserID != w.UserID || g.JTI != w.JTI {
				t.Errorf("entry %d = %+v, want %+v", i, g, w)
			}
		}
		if last, _ := s.Feed().Last(ctx); last != got[len(got)-1].ID {
			t.Errorf("Last = %d, want the newest id %d", last, got[len(got)-1].ID)
		}
	})
}

// The OnChange hook runs once after a transaction that wrote a feed entry
// commits, before the write returns (the entry is visible to it), and not
// for a write with no feed entry or one that failed.
func TestOnChangeRunsAfterCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s)
		var calls int
		var seen []store.Change
		from, _ := s.Feed().Last(ctx)
		s.OnChange(func(ctx context.Context) {
			calls++
			var err error
			if seen, err = s.Feed().Since(ctx, from, 10); err != nil {
				t.Errorf("reading the feed from the hook: %v", err)
			}
		})

		if err := s.SetClientDisabled(ctx, "c1", true, admin); err != nil {
			t.Fatal(err)
		}
		if calls != 1 || len(seen) != 1 || seen[0].ClientID != "c1" {
			t.Fatalf("after a disable: %d calls, the hook saw %+v; want 1 call seeing the entry", calls, seen)
		}
		if err := s.CreateTenant(ctx, &store.Tenant{ID: "t2", Name: "Two"}, admin); err != nil {
			t.Fatal(err)
		}
		if err := s.SetClientDisabled(ctx, "nobody", true, admin); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("disabling an unknown client: %v", err)
		}
		dup := &store.Client{ID: "c1", TenantID: store.DefaultTenantID, Name: "again", AuthMethod: store.AuthAPIKey, OwnerID: "x"}
		if err := s.CreateClient(ctx, dup, admin); err == nil {
			t.Fatal("a duplicate client was created")
		}
		if calls != 1 {
			t.Fatalf("the hook ran %d times; a write with no feed entry and failed writes must not run it", calls)
		}
	})
}

// A database whose changes table predates user_id is upgraded on open, and
// a user entry written before (the user id in jti, user_id NULL once the
// column is added) reads as naming that user, so a rolling upgrade loses
// no user change.
func TestFeedUserIDUpgrade(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		dsn, old := openByDSN(t, driver)
		if err := old.DB.Exec("ALTER TABLE changes DROP COLUMN user_id").Error; err != nil {
			t.Fatal(err)
		}
		if err := old.DB.Exec("INSERT INTO changes (kind, client_id, jti, created_at) VALUES (?, '', ?, ?)",
			store.ChangeUser, "u-old", time.Now().UTC()).Error; err != nil {
			t.Fatal(err)
		}
		old.Close()

		s, err := store.Open(driver, dsn)
		if err != nil {
			t.Fatalf("opening a database without user_id: %v", err)
		}
		defer s.Close()
		got, err := s.Feed().Since(ctx, 0, 10)
		if err != nil || len(got) != 1 || got[0].UserID != "u-old" || got[0].JTI != "" {
			t.Fatalf("the old user entry reads %+v, %v; want user u-old", got, err)
		}
	})
}
