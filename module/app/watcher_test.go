package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/token"
)

// propagation is how long a change made on one node may take to reach
// another that polls every 50ms: generous, since parallel PostgreSQL
// subtests under -race share two cores (waits end as soon as it arrives).
const propagation = 10 * time.Second

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

// verifiedOn verifies raw on node n and checks it is now cached there. It
// has n apply the feed first: the entry of the token's client's creation
// reaching n after the token was cached (a poll, a notification) would
// drop it again.
func verifiedOn(t *testing.T, n *app.App, raw string) {
	t.Helper()
	if err := n.Runtime().Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyTwice(n, raw); err != nil {
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

// disableSlowly disables client id on node a in a transaction it leaves
// open, after its feed entry took an id, and commits a newer feed entry
// meanwhile: the newest visible id is above the one still to commit. The
// caller commits the transaction it returns.
func disableSlowly(t *testing.T, a *app.App, id string) *gorm.DB {
	t.Helper()
	ctx := context.Background()
	slow := a.Store().DB.WithContext(ctx).Begin()
	t.Cleanup(func() { slow.Rollback() }) // a no-op once committed
	if err := slow.Model(&store.Client{}).Where("id = ?", id).Update("disabled", true).Error; err != nil {
		t.Fatal(err)
	}
	late := store.Change{Kind: store.ChangeClient, ClientID: id, CreatedAt: time.Now().UTC()}
	if err := slow.Create(&late).Error; err != nil {
		t.Fatal(err)
	}
	if err := a.Store().Notify(ctx, store.Change{Kind: store.ChangeGeneral}); err != nil { // commits a higher id
		t.Fatal(err)
	}
	if newest, _ := a.Store().Feed().Last(ctx); newest <= late.ID {
		t.Fatalf("set-up: newest visible id %d is not above the uncommitted %d", newest, late.ID)
	}
	return slow
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

	slow := disableSlowly(t, a, c.ID)
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

// A node that starts while a change is still committing learns of it: its
// entry took an id below the newest visible one, and a node starting at
// the newest id passed it over for good (the client's token and new tokens
// kept working there; red team). Node B starts between the slow
// transaction's insert and its commit, and caches the client meanwhile.
func TestNodeStartingDuringACommit(t *testing.T) {
	ctx := context.Background()
	a := apptest.Open(t, store.Postgres, noPolling)
	c, _ := newClient(t, a, "disabled-while-b-starts")
	raw, _ := mint(t, a, c.ID, "", time.Hour)

	slow := disableSlowly(t, a, c.ID)
	b := openOn(t, store.Postgres, a.Database.DSN, noPolling) // polled by hand below
	verifiedOn(t, b, raw)
	if err := slow.Commit().Error; err != nil {
		t.Fatal(err)
	}
	if err := b.Runtime().Poll(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Verify(ctx, raw); !errors.Is(err, app.ErrClientDisabled) {
		t.Fatalf("a change committing while the node started is lost: err = %v, want ErrClientDisabled", err)
	}
}

// A node that starts on a feed quiet for longer than its entries are kept
// (cleanup left only its newest old entry, as the anchor) tracks no gap and
// owes no resync: began at 0, it took every id below the first entry it
// read for a gap, filled the gap list and dropped its caches twice (review).
func TestQuietFeedStartTracksNoGaps(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		long := time.Now().Add(-time.Hour).UTC()
		var old []store.Change
		for range 300 {
			old = append(old, store.Change{Kind: store.ChangeGeneral, CreatedAt: long})
		}
		if err := a.Store().DB.CreateInBatches(old, 100).Error; err != nil {
			t.Fatal(err)
		}
		if err := a.Store().Cleanup(ctx, time.Now().UTC(), 10*time.Minute, "2000-01-01"); err != nil {
			t.Fatal(err)
		}
		if err := a.Store().Notify(ctx, store.Change{Kind: store.ChangeGeneral}); err != nil { // one change since
			t.Fatal(err)
		}
		b := openOn(t, driver, a.Database.DSN, noPolling)
		if err := b.Runtime().Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if gaps, now, later := b.Runtime().FeedState(); gaps != 0 || now || later {
			t.Fatalf("after the first poll: %d gaps, resync due %v, later %v; want none", gaps, now, later)
		}
	})
}

// A revocation repeated on a node holds there at once, also when the
// revocation row was there already (which writes no feed entry): a node
// that missed the first revocation is put right by the second.
func TestRepeatedRevocationHoldsOnItsNode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		c, _ := newClient(t, a, "revoked-twice")
		raw, claims := mint(t, a, c.ID, "", time.Hour)
		verifiedOn(t, a, raw)
		// The first revocation, as a node that never heard of it sees it:
		// the row, no feed entry.
		row := store.Revocation{JTI: claims.ID, ClientID: c.ID, ExpiresAt: claims.ExpiresAt.Time.Add(time.Hour).UTC()}
		if err := a.Store().DB.Create(&row).Error; err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, raw); err != nil {
			t.Fatalf("set-up: the node should not know of the first revocation yet: %v", err)
		}
		if err := a.Revoke(ctx, claims); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, raw); !errors.Is(err, app.ErrRevoked) {
			t.Fatalf("after revoking again on the node: %v, want ErrRevoked", err)
		}
	})
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
			a.Runtime().MarkRevoked(store.Revocation{JTI: jti, ClientID: c.ID, ExpiresAt: exp})
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

// unavailableTable makes table fail for everyone but the holder until the
// returned release is called: on PostgreSQL a transaction holds an ACCESS
// EXCLUSIVE lock on it (queries wait, then hit their deadline); on SQLite,
// whose readers never wait for a lock, the table is renamed away.
func unavailableTable(t *testing.T, a *app.App, driver, table string) (release func()) {
	t.Helper()
	db := a.Store().DB
	if driver == store.Postgres {
		tx := db.Begin()
		if err := tx.Exec("LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE").Error; err != nil {
			t.Fatal(err)
		}
		return func() {
			if err := tx.Rollback().Error; err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Exec("ALTER TABLE " + table + " RENAME TO " + table + "_away").Error; err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := db.Exec("ALTER TABLE " + table + "_away RENAME TO " + table).Error; err != nil {
			t.Fatal(err)
		}
	}
}

// A change that cannot be applied when it is polled (the table it needs is
// locked past the poll's deadline: a database hiccup) is applied by the next
// poll: the cursor moves past feed entries only once they are applied.
// (Node B used to skip them and accept a revoked token for good, or keep
// an outdated key ring.)
func TestPollFailureKeepsTheCursor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		b := openOn(t, driver, a.Database.DSN, noPolling) // polled by hand below
		c, _ := newClient(t, a, "revoked-during-a-hiccup")
		raw, claims := mint(t, a, c.ID, "", time.Hour)
		verifiedOn(t, b, raw)

		hiccup := func(table string) {
			t.Helper()
			release := unavailableTable(t, a, driver, table)
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			err := b.Runtime().Poll(short)
			cancel()
			release()
			if err == nil {
				t.Fatalf("set-up: node B's poll succeeded while %s was unavailable", table)
			}
			if err := b.Runtime().Poll(ctx); err != nil {
				t.Fatalf("poll after the hiccup: %v", err)
			}
		}

		if err := a.Store().Revoke(ctx, claims.ID, c.ID, claims.ExpiresAt.Time); err != nil {
			t.Fatal(err)
		}
		hiccup("revocations")
		if _, err := b.Verify(ctx, raw); !errors.Is(err, app.ErrRevoked) {
			t.Fatalf("a revocation polled while its table was unavailable: Verify = %v, want ErrRevoked", err)
		}

		newKID, err := a.Keys().Rotate(ctx, token.Rotation{Overlap: time.Hour, Emergency: true}, tester)
		if err != nil {
			t.Fatal(err)
		}
		hiccup("signing_keys")
		if got := b.Keys().SigningKID(); got != newKID.KID {
			t.Fatalf("a key rotation polled while its table was unavailable: node B signs with %q, want %q", got, newKID.KID)
		}
	})
}

// The node that makes a change applies it from its own change-feed entry
// before the write returns, as every other node does, with no call a handler
// must remember and no watcher running (noPolling): a disabled client's
// cached token, a disabled user's token and a revoked token are refused at
// once, and a client or user created after its id was looked up (and
// cached as missing) is found at once.
func TestWritingNodeAppliesItsOwnChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		a := apptest.Open(t, driver, noPolling)
		c, _ := newClient(t, a, "disabled-here")
		raw, _ := mint(t, a, c.ID, "", time.Hour)
		verifiedOn(t, a, raw)
		if err := a.Store().SetClientDisabled(ctx, c.ID, true, tester); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, raw); !errors.Is(err, app.ErrClientDisabled) {
			t.Fatalf("a client disabled on this node: Verify = %v, want ErrClientDisabled", err)
		}

		c2, _ := newClient(t, a, "for-dora")
		u := newUser(t, a, "dora")
		uraw, _ := mint(t, a, c2.ID, u.ID, time.Hour)
		verifiedOn(t, a, uraw)
		u.Disabled = true
		if err := a.Store().UpdateUserProfile(ctx, u, store.DefaultTenantID, tester, "user.disable"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, uraw); !errors.Is(err, app.ErrUserDisabled) {
			t.Fatalf("a user disabled on this node: Verify = %v, want ErrUserDisabled", err)
		}

		rraw, claims := mint(t, a, c2.ID, "", time.Hour)
		verifiedOn(t, a, rraw)
		if err := a.Revoke(ctx, claims); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Verify(ctx, rraw); !errors.Is(err, app.ErrRevoked) {
			t.Fatalf("a token revoked on this node: Verify = %v, want ErrRevoked", err)
		}

		clientID, userID := app.NewClientID(), store.NewID()
		if got, err := a.Runtime().Client(ctx, clientID); got != nil || err != nil {
			t.Fatalf("set-up: unknown client = %v, %v", got, err)
		}
		if got, err := a.Runtime().User(ctx, userID); got != nil || err != nil {
			t.Fatalf("set-up: unknown user = %v, %v", got, err)
		}
		late := &store.Client{ID: clientID, TenantID: store.DefaultTenantID, Name: "late", AuthMethod: store.AuthAPIKey,
			OwnerID: "tester", SecretDigest: "d"}
		if err := a.Store().CreateClient(ctx, late, tester); err != nil {
			t.Fatal(err)
		}
		if err := a.Store().CreateUser(ctx, &store.User{ID: userID, TenantID: store.DefaultTenantID, Username: "late"}, tester); err != nil {
			t.Fatal(err)
		}
		if got, err := a.Runtime().Client(ctx, clientID); got == nil || err != nil {
			t.Fatalf("a client created after its id was cached as missing: %v, %v", got, err)
		}
		if got, err := a.Runtime().User(ctx, userID); got == nil || err != nil {
			t.Fatalf("a user created after its id was cached as missing: %v, %v", got, err)
		}
	})
}
