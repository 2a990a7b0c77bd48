package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

var admin = store.Actor{Principal: "tester", TenantID: store.DefaultTenantID, RemoteAddr: "127.0.0.1"}

func seed(t *testing.T, s *store.Store) *store.Client {
	t.Helper()
	ctx := context.Background()
	if err := s.EnsureTenant(ctx, store.DefaultTenantID, "Default"); err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureTenant(ctx, store.DefaultTenantID, "Default"); err != nil {
		t.Fatalf("EnsureTenant is not idempotent: %v", err)
	}
	c := &store.Client{
		ID: "c1", TenantID: store.DefaultTenantID, Name: "one", AuthMethod: store.AuthAPIKey,
		AllowedScopes: store.Strings{"demo.read", "demo.write"}, DefaultScopes: store.Strings{"demo.read"},
		OwnerID: "tester", SecretDigest: "d1", SecretCiphertext: []byte{1, 2, 3},
	}
	if err := s.CreateClient(ctx, c, admin); err != nil {
		t.Fatal(err)
	}
	return c
}

// Clients round-trip through the database with their lists intact; names are
// unique per tenant; missing rows are ErrNotFound; every change is audited
// and appears on the change feed.
func TestClientLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s)

		got, err := s.GetClient(ctx, "c1")
		if err != nil || got.AllowedScopes[1] != "demo.write" || got.DefaultScopes[0] != "demo.read" || got.Disabled {
			t.Fatalf("GetClient = %+v, %v", got, err)
		}
		dup := *got
		dup.ID = "c2"
		if err := s.CreateClient(ctx, &dup, admin); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate name: err = %v, want ErrConflict", err)
		}
		if _, err := s.GetClient(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing client: %v", err)
		}

		before, _ := s.Feed().Last(ctx)
		if err := s.SetClientDisabled(ctx, "c1", true, admin); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.GetClient(ctx, "c1"); !got.Disabled {
			t.Fatal("client not disabled")
		}
		changes, err := s.Feed().Since(ctx, before, 10)
		if err != nil || len(changes) != 1 || changes[0].ClientID != "c1" || changes[0].Kind != store.ChangeClient {
			t.Fatalf("feed after disable = %+v, %v", changes, err)
		}

		grace := time.Now().Add(time.Hour)
		if err := s.RotateSecret(ctx, "c1", "d2", []byte{9}, &grace, admin); err != nil {
			t.Fatal(err)
		}
		got, _ = s.GetClient(ctx, "c1")
		if got.SecretDigest != "d2" || got.PreviousSecretDigest != "d1" || got.PreviousSecretUntil == nil {
			t.Fatalf("rotate kept %+v", got)
		}

		got.Name = "renamed"
		got.TokenLifetimeMinutes = 60
		if err := s.UpdateClient(ctx, got, admin, "client.update"); err != nil {
			t.Fatal(err)
		}
		if again, _ := s.GetClient(ctx, "c1"); again.Name != "renamed" || again.TokenLifetimeMinutes != 60 || again.SecretDigest != "d2" {
			t.Fatalf("update kept %+v", again)
		}

		if err := s.DeleteClient(ctx, "c1", admin); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteClient(ctx, "c1", admin); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		entries, total, err := s.ListAudit(ctx, "", store.Page{})
		if err != nil || total != 5 || entries[0].Action != "client.delete" || entries[0].RemoteAddr != "127.0.0.1" {
			t.Fatalf("audit = %d %+v %v", total, entries, err)
		}
	})
}

// A failed multi-row change leaves nothing half-written: creating a client
// whose tenant does not exist writes neither the client nor its audit row.
func TestFailedCreateWritesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		c := &store.Client{ID: "x", TenantID: "ghost", Name: "x", AuthMethod: store.AuthAPIKey, OwnerID: "o", SecretDigest: "d"}
		if err := s.CreateClient(ctx, c, admin); !errors.Is(err, store.ErrReferenced) {
			t.Fatalf("err = %v, want ErrReferenced", err)
		}
		if _, total, _ := s.ListAudit(ctx, "", store.Page{}); total != 0 {
			t.Fatalf("audit rows after failed create: %d", total)
		}
		if _, total, _ := s.ListClients(ctx, store.ClientFilter{}); total != 0 {
			t.Fatalf("clients after failed create: %d", total)
		}
	})
}

// Listing pages through clients and filters by tenant.
func TestListClientsPaginates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s)
		_ = s.EnsureTenant(ctx, "t2", "Two")
		for i, id := range []string{"a", "b", "c"} {
			c := &store.Client{ID: id, TenantID: "t2", Name: id, AuthMethod: store.AuthUser, OwnerID: "o", SecretDigest: id}
			c.CreatedAt = time.Now().Add(time.Duration(i) * time.Second)
			if err := s.CreateClient(ctx, c, admin); err != nil {
				t.Fatal(err)
			}
		}
		page, total, err := s.ListClients(ctx, store.ClientFilter{TenantID: "t2", Page: store.Page{Offset: 1, Limit: 1}})
		if err != nil || total != 3 || len(page) != 1 || page[0].ID != "b" {
			t.Fatalf("page = %+v total %d %v", page, total, err)
		}
		_, total, _ = s.ListClients(ctx, store.ClientFilter{})
		if total != 4 {
			t.Fatalf("total over tenants = %d", total)
		}
	})
}

// The daily allowance never hands out more than the cap, even to concurrent
// requests, and counts per client, subject and day.
func TestConsumeAllowanceIsAtomic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s) // client c1
		var wg sync.WaitGroup
		var mu sync.Mutex
		var sum int64
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g, err := s.ConsumeAllowance(ctx, "c1", "u", "2026-11-23", 400, 1000)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				sum += g
				mu.Unlock()
			}()
		}
		wg.Wait()
		if sum != 1000 {
			t.Fatalf("granted %d seconds in total, want exactly the cap 1000", sum)
		}
		if g, _ := s.ConsumeAllowance(ctx, "c1", "u", "2026-11-24", 400, 1000); g != 400 {
			t.Fatalf("next day granted %d", g)
		}
	})
}

// RefundAllowance gives back what a token never handed out took: the next
// request gets it again; a refund larger than what is used leaves zero,
// never a negative count (which would hand out more than the cap); another
// day's or subject's row is untouched, and a day with no row stays without.
func TestRefundAllowance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s) // client c1
		for _, subject := range []string{"u", "v"} {
			if g, err := s.ConsumeAllowance(ctx, "c1", subject, "2026-12-05", 600, 600); err != nil || g != 600 {
				t.Fatalf("%s: granted %d (%v), want 600", subject, g, err)
			}
		}
		if err := s.RefundAllowance(ctx, "c1", "u", "2026-12-05", 200); err != nil {
			t.Fatal(err)
		}
		if g, _ := s.ConsumeAllowance(ctx, "c1", "u", "2026-12-05", 600, 600); g != 200 {
			t.Fatalf("after a refund of 200 s granted %d, want 200", g)
		}
		if g, _ := s.ConsumeAllowance(ctx, "c1", "v", "2026-12-05", 600, 600); g != 0 {
			t.Fatalf("another subject's day granted %d after u's refund, want 0", g)
		}
		if err := s.RefundAllowance(ctx, "c1", "u", "2026-12-05", 5000); err != nil {
			t.Fatal(err)
		}
		if g, _ := s.ConsumeAllowance(ctx, "c1", "u", "2026-12-05", 900, 600); g != 600 {
			t.Fatalf("after a refund past the usage granted %d, want the cap 600", g)
		}
		if err := s.RefundAllowance(ctx, "c1", "u", "2026-12-06", 100); err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := s.DB.Model(&store.DailyUsage{}).Where("day = ?", "2026-12-06").Count(&n).Error; err != nil || n != 0 {
			t.Fatalf("a refund made %d rows for a day nothing used (%v)", n, err)
		}
	})
}

// Cleanup removes expired revocations, old usage days and old feed entries
// but the newest (a starting node's anchor, Feed().Before), and keeps the
// live ones, so no table grows with every token.
func TestCleanupBoundsTables(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		now := time.Now().UTC()
		_ = s.Revoke(ctx, "old", "c", now.Add(-time.Minute))
		_ = s.Revoke(ctx, "live", "c", now.Add(time.Hour))
		seed(t, s) // client c1
		for _, day := range []string{"2026-01-01", "2026-11-23"} {
			if _, err := s.ConsumeAllowance(ctx, "c1", "u", day, 1, 10); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Cleanup(ctx, now, -time.Second, "2026-11-22"); err != nil {
			t.Fatal(err)
		}
		revs, _ := s.ActiveRevocations(ctx, now.Add(-time.Hour))
		if len(revs) != 1 || revs[0].JTI != "live" {
			t.Fatalf("revocations left: %+v", revs)
		}
		var usage, feed int64
		s.DB.Model(&store.DailyUsage{}).Count(&usage)
		s.DB.Model(&store.Change{}).Count(&feed)
		if usage != 1 || feed != 1 {
			t.Fatalf("usage rows %d, feed rows %d (want the newest entry alone, as the anchor of a starting node)", usage, feed)
		}
		if newest, err := s.Feed().Last(ctx); err != nil || newest == 0 {
			t.Fatalf("the feed's anchor: %d, %v", newest, err)
		}
	})
}

// Only the first of several starting nodes stores a signing key. A
// rotation stores the next key with its activation and retires the signing
// one at that moment, with the overlap counted from there; another rotation
// while the next key is pending is refused and writes nothing, unless it
// replaces it (an emergency), which retires the signing key at once and the
// pending one as it would have activated: it never signs.
func TestSigningKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		now := time.Now().UTC().Truncate(time.Microsecond)
		k := func(id string, activates time.Time) *store.SigningKey {
			return &store.SigningKey{KID: id, Algorithm: "EdDSA", PublicKey: []byte{1}, PrivateCiphertext: []byte{2}, CreatedAt: now, ActivatesAt: &activates}
		}
		if ok, err := s.AddFirstSigningKey(ctx, k("k1", now)); !ok || err != nil {
			t.Fatalf("first key: %v %v", ok, err)
		}
		if ok, _ := s.AddFirstSigningKey(ctx, k("k2", now)); ok {
			t.Fatal("second first key stored")
		}
		at := now.Add(10 * time.Minute)
		if err := s.RotateSigningKey(ctx, store.KeyRotation{Next: k("k3", at), Now: now, VerifyOldUntil: at.Add(time.Hour)}, admin); err != nil {
			t.Fatal(err)
		}
		keys, _ := s.ListSigningKeys(ctx, now)
		if len(keys) != 2 || keys[0].KID != "k3" || keys[0].RetiredAt != nil || !keys[0].Activation().Equal(at) ||
			!keys[1].RetiredAt.Equal(at) || !keys[1].VerifyUntil.Equal(at.Add(time.Hour)) {
			t.Fatalf("keys = %+v", keys)
		}
		err := s.RotateSigningKey(ctx, store.KeyRotation{Next: k("k4", at.Add(time.Minute)), Now: now.Add(time.Minute), VerifyOldUntil: at.Add(2 * time.Hour)}, admin)
		if pending, ok := errors.AsType[*store.PendingKeyError](err); !ok || !errors.Is(err, store.ErrConflict) || pending.KID != "k3" || !pending.ActivatesAt.Equal(at) {
			t.Fatalf("rotation while k3 is pending: %v", err)
		}
		var rows, audits int64
		s.DB.Model(&store.SigningKey{}).Count(&rows)
		s.DB.Model(&store.AuditEntry{}).Where("action = ?", "keys.rotate").Count(&audits)
		if rows != 2 || audits != 1 {
			t.Fatalf("a refused rotation wrote: %d keys, %d audit rows", rows, audits)
		}
		later := now.Add(time.Minute)
		if err := s.RotateSigningKey(ctx, store.KeyRotation{Next: k("k5", later), Now: later, VerifyOldUntil: later.Add(time.Hour), ReplacePending: true}, admin); err != nil {
			t.Fatal(err)
		}
		keys, _ = s.ListSigningKeys(ctx, later)
		for _, key := range keys {
			retires := later
			if key.KID == "k3" {
				retires = at // pending, replaced: retires as it activates
			}
			if key.KID != "k5" && (!key.RetiredAt.Equal(retires) || !key.VerifyUntil.Equal(later.Add(time.Hour))) {
				t.Errorf("after the emergency rotation %s = %+v, want retired at %s", key.KID, key, retires)
			}
		}
		if keys, _ := s.ListSigningKeys(ctx, later.Add(2*time.Hour)); len(keys) != 1 || keys[0].KID != "k5" {
			t.Fatalf("retired keys still verify after their overlap: %+v", keys)
		}
	})
}

// Two emergency rotations at once, the one stamped later by its node's
// clock committing first (races team: four at once on two PostgreSQL
// nodes): the one committed last signs, and no key is recorded to retire
// before it activates; the other never signs (it retires as it activates).
func TestEmergencyRotationsOutOfOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		now := time.Now().UTC().Truncate(time.Microsecond)
		k := func(id string, activates time.Time) *store.SigningKey {
			return &store.SigningKey{KID: id, Algorithm: "EdDSA", PublicKey: []byte{1}, PrivateCiphertext: []byte{2}, CreatedAt: activates, ActivatesAt: &activates}
		}
		if ok, err := s.AddFirstSigningKey(ctx, k("k1", now.Add(-time.Hour))); !ok || err != nil {
			t.Fatalf("first key: %v %v", ok, err)
		}
		admin := store.Actor{Principal: "test"}
		ahead, behind := now.Add(5*time.Millisecond), now
		for _, r := range []struct {
			kid string
			at  time.Time
		}{{"ahead", ahead}, {"behind", behind}} {
			err := s.RotateSigningKey(ctx, store.KeyRotation{Next: k(r.kid, r.at), Now: r.at, VerifyOldUntil: r.at.Add(time.Hour), ReplacePending: true}, admin)
			if err != nil {
				t.Fatal(err)
			}
		}
		keys, err := s.ListSigningKeys(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		byKID := map[string]store.SigningKey{}
		for _, key := range keys {
			byKID[key.KID] = key
			if key.RetiredAt != nil && key.RetiredAt.Before(key.Activation()) {
				t.Errorf("%s retires at %s, before it activates at %s", key.KID, key.RetiredAt, key.Activation())
			}
		}
		if b := byKID["behind"]; b.RetiredAt != nil {
			t.Errorf("the rotation committed last is retired: %+v", b)
		}
		if a := byKID["ahead"]; a.RetiredAt == nil || !a.RetiredAt.Equal(ahead) {
			t.Errorf("the superseded key: %+v, want it retired as it activates (%s)", a, ahead)
		}
	})
}
