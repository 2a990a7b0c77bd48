package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// An emergency rotation (retire_old) replaces a pending key P: P must never
// sign and must stop verifying at once. A routine rotation afterwards must
// not bring P back (a review: P's retired_at, its activation, is in the future,
// and the next rotation's UPDATE took it up again).
func TestReplacedPendingKeyStaysRetired(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx, s, k, admin, t0 := withPendingKey(t, driver)
		// Emergency with retire_old at t0+1h: E signs at once, P and S dead.
		t1 := t0.Add(time.Hour)
		if err := s.RotateSigningKey(ctx, store.KeyRotation{Next: k("E", t1, t1), Now: t1, VerifyOldUntil: t1, ReplacePending: true}, admin); err != nil {
			t.Fatal(err)
		}
		// Routine rotation at t0+2h: N pending until t0+26h.
		t2 := t0.Add(2 * time.Hour)
		n := t2.Add(24 * time.Hour)
		if err := s.RotateSigningKey(ctx, store.KeyRotation{Next: k("N", t2, n), Now: t2, VerifyOldUntil: n.Add(48 * time.Hour)}, admin); err != nil {
			t.Fatal(err)
		}
		keys, err := s.ListSigningKeys(ctx, t2)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range keys {
			if key.KID != "P" {
				continue
			}
			if key.RetiredAt != nil && key.RetiredAt.After(key.Activation()) {
				t.Errorf("P, replaced by the emergency, signs from %s to %s", key.Activation(), key.RetiredAt)
			}
			if key.VerifyUntil == nil || key.VerifyUntil.After(t1) {
				t.Errorf("P, retired at once by the emergency, verifies until %v", key.VerifyUntil)
			}
		}
	})
}

// An emergency without retire_old replaces pending P; a later emergency with
// retire_old (the key material is now suspected) must stop P verifying too.
func TestRetireOldReachesReplacedPendingKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx, s, k, admin, t0 := withPendingKey(t, driver)
		t1 := t0.Add(time.Hour)
		if err := s.RotateSigningKey(ctx, store.KeyRotation{Next: k("E1", t1, t1), Now: t1, VerifyOldUntil: t1.Add(48 * time.Hour), ReplacePending: true}, admin); err != nil {
			t.Fatal(err)
		}
		t2 := t0.Add(2 * time.Hour)
		if err := s.RotateSigningKey(ctx, store.KeyRotation{Next: k("E2", t2, t2), Now: t2, VerifyOldUntil: t2, ReplacePending: true}, admin); err != nil {
			t.Fatal(err)
		}
		keys, err := s.ListSigningKeys(ctx, t2)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range keys {
			if key.KID != "E2" {
				t.Errorf("%s still verifies after the retire_old emergency: %+v", key.KID, key)
			}
		}
	})
}

// withPendingKey opens a store whose key S signs and whose key P, from a
// routine rotation at t0, is pending until t0+24h; k makes a key.
func withPendingKey(t *testing.T, driver string) (context.Context, *store.Store, func(id string, created, activates time.Time) *store.SigningKey, store.Actor, time.Time) {
	t.Helper()
	ctx := context.Background()
	s := storetest.Open(t, driver)
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	k := func(id string, created, activates time.Time) *store.SigningKey {
		return &store.SigningKey{KID: id, Algorithm: "EdDSA", PublicKey: []byte{1}, PrivateCiphertext: []byte{2}, CreatedAt: created, ActivatesAt: &activates}
	}
	admin := store.Actor{Principal: "test"}
	if ok, err := s.AddFirstSigningKey(ctx, k("S", t0.Add(-time.Hour), t0.Add(-time.Hour))); !ok || err != nil {
		t.Fatalf("first key: %v %v", ok, err)
	}
	p := t0.Add(24 * time.Hour)
	if err := s.RotateSigningKey(ctx, store.KeyRotation{Next: k("P", t0, p), Now: t0, VerifyOldUntil: p.Add(48 * time.Hour)}, admin); err != nil {
		t.Fatal(err)
	}
	return ctx, s, k, admin, t0
}
