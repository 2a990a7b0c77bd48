package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/token"
)

// propagation is how long a change made on one node may take to reach
// another that polls every 50ms.
const propagation = 2 * time.Second

// twoNodes opens node A on a fresh database and node B on the same database
// and master key, both polling the change feed every 50ms.
func twoNodes(t *testing.T, driver string) (a, b *app.App) {
	t.Helper()
	a = apptest.Open(t, driver)
	b = openOn(t, driver, a.Database.DSN)
	if a.Runtime() == b.Runtime() || a.Store() == b.Store() {
		t.Fatal("the nodes share a runtime; they must be independent")
	}
	return a, b
}

// verifiedOn verifies raw on node n and checks it is now cached there.
func verifiedOn(t *testing.T, n *app.App, raw string) {
	t.Helper()
	if _, err := n.Verify(context.Background(), raw); err != nil {
		t.Fatalf("Verify before the change: %v", err)
	}
	if !n.TokenCached(raw) {
		t.Fatal("token not cached before the change")
	}
}

// untilRefused polls node n's Verify until it returns want; any other error
// on the way fails the test.
func untilRefused(t *testing.T, n *app.App, raw string, want error) {
	t.Helper()
	eventually(t, propagation, "Verify on the other node returns "+want.Error(), func() bool {
		_, err := n.Verify(context.Background(), raw)
		if err != nil && !errors.Is(err, want) {
			t.Fatalf("Verify: %v, want nil then %v", err, want)
		}
		return err != nil
	})
}

// A client disabled through the store on node A is refused by node B, which
// had its token and client cached, within the propagation delay; so is a
// deleted client, and a disabled user's 3-legged token.
func TestPropagationClientAndUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		ctx := context.Background()
		a, b := twoNodes(t, driver)

		disabled, _ := newClient(t, a, "disabled-on-a")
		raw, _ := mint(t, a, disabled.ID, "", time.Hour)
		verifiedOn(t, b, raw)
		if err := a.Store().SetClientDisabled(ctx, disabled.ID, true, tester); err != nil {
			t.Fatal(err)
		}
		untilRefused(t, b, raw, app.ErrClientDisabled)

		deleted, _ := newClient(t, a, "deleted-on-a")
		raw, _ = mint(t, a, deleted.ID, "", time.Hour)
		verifiedOn(t, b, raw)
		if err := a.Store().DeleteClient(ctx, deleted.ID, tester); err != nil {
			t.Fatal(err)
		}
		untilRefused(t, b, raw, app.ErrClientGone)

		c, _ := newClient(t, a, "for-bob")
		u := newUser(t, a, "bob")
		raw, _ = mint(t, a, c.ID, u.ID, time.Hour)
		verifiedOn(t, b, raw)
		u.Disabled = true
		if err := a.Store().UpdateUser(ctx, u, tester, "user.disable"); err != nil {
			t.Fatal(err)
		}
		untilRefused(t, b, raw, app.ErrUserDisabled)
	})
}

// A token revoked through the store on node A is refused by node B within
// the propagation delay, while another token of the same client still
// verifies there.
func TestPropagationRevocation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		ctx := context.Background()
		a, b := twoNodes(t, driver)
		c, _ := newClient(t, a, "revoked-on-a")
		raw, claims := mint(t, a, c.ID, "", time.Hour)
		keep, _ := mint(t, a, c.ID, "", time.Hour)
		verifiedOn(t, b, raw)
		verifiedOn(t, b, keep)

		if err := a.Store().Revoke(ctx, claims.ID, c.ID, claims.ExpiresAt.Time); err != nil {
			t.Fatal(err)
		}
		untilRefused(t, b, raw, app.ErrRevoked)
		if _, err := b.Verify(ctx, keep); err != nil {
			t.Fatalf("the client's other token: %v", err)
		}
	})
}

// When node A rotates the signing keys, node B loads the new ring from the
// change feed (its signing key changes without any token asking for it),
// then verifies tokens A signs with the new key, and still verifies tokens
// of the old key during the overlap.
func TestPropagationKeyRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		ctx := context.Background()
		a, b := twoNodes(t, driver)
		if a.Keys().SigningKID() != b.Keys().SigningKID() {
			t.Fatal("two nodes on one database sign with different keys")
		}
		c, _ := newClient(t, a, "rotation")
		old, _ := mint(t, a, c.ID, "", time.Hour)
		verifiedOn(t, b, old)
		oldKID := a.Keys().SigningKID()

		next, err := a.Keys().Rotate(ctx, token.Rotation{Overlap: time.Duration(a.KeyOverlap), Emergency: true}, tester)
		newKID := next.KID
		if err != nil || newKID == oldKID || a.Keys().SigningKID() != newKID {
			t.Fatalf("Rotate = %q, %v (old %q)", newKID, err, oldKID)
		}
		eventually(t, propagation, "node B signs with the rotated key", func() bool {
			return b.Keys().SigningKID() == newKID
		})

		fresh, _ := mint(t, a, c.ID, "", time.Hour)
		if _, err := b.Verify(ctx, fresh); err != nil {
			t.Fatalf("token signed with A's new key, on B: %v", err)
		}
		if _, err := b.Verify(ctx, old); err != nil {
			t.Fatalf("old-key token on B during the overlap: %v", err)
		}
		fromB, _ := mint(t, b, c.ID, "", time.Hour)
		if _, err := a.Verify(ctx, fromB); err != nil {
			t.Fatalf("token B signs after the rotation, on A: %v", err)
		}
	})
}

// On PostgreSQL a feed entry's id is taken when it is inserted but seen only
// when its transaction commits, so a node can see a later id first. The
// entry that commits late must still reach the node: here a client is
// disabled in a transaction that commits after a newer feed entry was
// polled. (SQLite runs one write transaction at a time, so ids always
// commit in order there and this cannot happen.)
func TestPropagationOutOfOrderCommit(t *testing.T) {
	ctx := context.Background()
	a := apptest.Open(t, store.Postgres, noPolling)
	b := openOn(t, store.Postgres, a.Database.DSN, noPolling) // polled by hand below
	c, _ := newClient(t, a, "slow-commit")
	raw, _ := mint(t, a, c.ID, "", time.Hour)
	verifiedOn(t, b, raw)

	slow := a.Store().DB.WithContext(ctx).Begin()
	if err := slow.Model(&store.Client{}).Where("id = ?", c.ID).Update("disabled", true).Error; err != nil {
		t.Fatal(err)
	}
	late := store.Change{Kind: store.ChangeClient, ClientID: c.ID, CreatedAt: time.Now().UTC()}
	if err := slow.Create(&late).Error; err != nil {
		t.Fatal(err)
	}
	if err := a.Store().Notify(ctx, store.ChangeGeneral, "", ""); err != nil { // commits a higher id
		t.Fatal(err)
	}
	if newest, _ := a.Store().LastChangeID(ctx); newest <= late.ID {
		t.Fatalf("set-up: newest visible id %d is not above the uncommitted %d", newest, late.ID)
	}
	if err := b.Runtime().Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(ctx, raw); err != nil {
		t.Fatalf("before the slow commit: %v", err)
	}
	if err := slow.Commit().Error; err != nil {
		t.Fatal(err)
	}
	if err := b.Runtime().Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(ctx, raw); !errors.Is(err, app.ErrClientDisabled) {
		t.Fatalf("a change committed after a newer one was polled is lost: err = %v, want ErrClientDisabled", err)
	}
}

// One Poll applies everything a node has not seen, however much there is:
// a change followed by more than one batch (500) of feed entries and another
// change both reach it.
func TestPollManyChanges(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		b := openOn(t, driver, a.Database.DSN, noPolling) // polled by hand below
		c, _ := newClient(t, a, "busy")
		raw, _ := mint(t, a, c.ID, "", time.Hour)
		c2, _ := newClient(t, a, "for-carol")
		u := newUser(t, a, "carol")
		uraw, _ := mint(t, a, c2.ID, u.ID, time.Hour)
		verifiedOn(t, b, raw)
		verifiedOn(t, b, uraw)

		if err := a.Store().SetClientDisabled(ctx, c.ID, true, tester); err != nil {
			t.Fatal(err)
		}
		filler := make([]store.Change, 600)
		for i := range filler {
			filler[i] = store.Change{Kind: store.ChangeGeneral, CreatedAt: time.Now().UTC()}
		}
		if err := a.Store().DB.WithContext(ctx).Create(&filler).Error; err != nil {
			t.Fatal(err)
		}
		u.Disabled = true
		if err := a.Store().UpdateUser(ctx, u, tester, "user.disable"); err != nil {
			t.Fatal(err)
		}
		if err := b.Runtime().Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Verify(ctx, raw); !errors.Is(err, app.ErrClientDisabled) {
			t.Fatalf("change before 600 feed entries: err = %v, want ErrClientDisabled", err)
		}
		if _, err := b.Verify(ctx, uraw); !errors.Is(err, app.ErrUserDisabled) {
			t.Fatalf("change after 600 feed entries: err = %v, want ErrUserDisabled", err)
		}
	})
}

// The periodic clean-up forgets revocations whose tokens can no longer verify
// (locally and in the database) and keeps those still running.
func TestCleanupRevocations(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		c, _ := newClient(t, a, "cleanup")
		past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
		for jti, exp := range map[string]time.Time{"expired-jti": past, "live-jti": future} {
			if err := a.Store().Revoke(ctx, jti, c.ID, exp); err != nil {
				t.Fatal(err)
			}
			a.Runtime().MarkRevoked(jti, exp)
		}
		if err := a.Runtime().CleanupNow(ctx); err != nil {
			t.Fatal(err)
		}
		if a.Runtime().IsRevoked("expired-jti") || !a.Runtime().IsRevoked("live-jti") {
			t.Fatalf("after clean-up: expired kept %v, live kept %v",
				a.Runtime().IsRevoked("expired-jti"), a.Runtime().IsRevoked("live-jti"))
		}
		if gone, _ := a.Store().IsRevoked(ctx, "expired-jti"); gone {
			t.Fatal("the expired revocation is still in the database")
		}
		if kept, _ := a.Store().IsRevoked(ctx, "live-jti"); !kept {
			t.Fatal("the live revocation was deleted from the database")
		}
	})
}

// When a rotated-out key's overlap ends, a token it signed is refused as
// signed by an unknown key on every running node, even one that verified
// and cached it before (the verification cache asks the ring on every hit),
// and neither node publishes the key any more; no feed entry, reload or
// clean-up is needed. The new key's tokens keep verifying.
func TestCachedTokenRefusedAfterKeyOverlap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		t.Parallel()
		ctx := context.Background()
		a, b := twoNodes(t, driver)
		c, _ := newClient(t, a, "overlap-end")
		old, _ := mint(t, a, c.ID, "", time.Hour)
		oldKID := a.Keys().SigningKID()
		verifiedOn(t, a, old)
		verifiedOn(t, b, old)

		const overlap = 3 * time.Second
		next, err := a.Keys().Rotate(ctx, token.Rotation{Overlap: overlap, Emergency: true}, tester)
		newKID := next.KID
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, old); err != nil {
			t.Fatalf("old key's token during the overlap: %v", err)
		}
		eventually(t, propagation, "node B loads the rotated ring", func() bool { return b.Keys().SigningKID() == newKID })
		fresh, _ := mint(t, a, c.ID, "", time.Hour)

		for name, n := range map[string]*app.App{"A": a, "B": b} {
			eventually(t, overlap+propagation, "node "+name+" refuses the old key's token", func() bool {
				_, err := n.Verify(ctx, old)
				if err != nil && !errors.Is(err, token.ErrUnknownKey) {
					t.Fatalf("node %s: Verify = %v, want nil then ErrUnknownKey", name, err)
				}
				return err != nil
			})
			if n.TokenCached(old) {
				t.Errorf("node %s keeps the refused token cached", name)
			}
			for _, k := range n.Keys().JWKS()["keys"] {
				if k.KeyID == oldKID {
					t.Errorf("node %s still publishes the retired key", name)
				}
			}
			if _, err := n.Verify(ctx, fresh); err != nil {
				t.Errorf("node %s: new key's token: %v", name, err)
			}
		}
	})
}
