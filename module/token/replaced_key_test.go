package token

import (
	"context"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store/storetest"
)

// A pending key that an emergency rotation with retire_old replaced never
// signs nor verifies again, a routine rotation after it included (a review
// found it signing between its old activation and the routine key's).
func TestReplacedPendingKeyNeverSigns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st := storetest.Open(t, driver)
		var clock testClock
		r := clock.ring(t, st)
		const prepublish, overlap = 24 * time.Hour, 48 * time.Hour
		pending, err := r.Rotate(ctx, Rotation{Prepublish: prepublish, Overlap: overlap}, rotator)
		if err != nil {
			t.Fatal(err)
		}
		clock.forward(time.Hour)
		urgent, err := r.Rotate(ctx, Rotation{Overlap: overlap, Emergency: true, RetireOld: true}, rotator)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verifies(pending.KID, clock.now()) {
			t.Fatalf("the replaced pending key verifies right after the retire_old emergency")
		}
		clock.forward(time.Hour)
		routine, err := r.Rotate(ctx, Rotation{Prepublish: prepublish, Overlap: overlap}, rotator)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verifies(pending.KID, clock.now()) {
			t.Errorf("after a routine rotation the pending key the emergency retired verifies again")
		}
		clock.forward(23 * time.Hour) // past the replaced key's activation, before the routine key's
		if kid := signedKID(t, r); kid != urgent.KID {
			t.Errorf("signs with %s (replaced pending %s, emergency %s, routine %s), want the emergency key", kid, pending.KID, urgent.KID, routine.KID)
		}
	})
}
