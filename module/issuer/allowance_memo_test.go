package issuer

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// An allowance found used up is remembered (for usedUpMemory), so the
// client asking again and again is refused without touching the database (it used
// to take the write lock for each refusal): with the usage table moved away
// after the first refusal, the next ones are still the allowance's 400, not
// a server error. Raising the client's allowance names another allowance,
// which the database is asked about again and which issues.
func TestUsedUpAllowanceRefusedWithoutTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, TokenLifetimeMinutes: 60, MaxMinutesPerDay: 60})
		f.issue(t, f.ep, c.ID, secret)
		refuse := func() {
			t.Helper()
			f.refuse(t, f.ep, withBasic(formRequest(ccForm()), c.ID, secret), http.StatusBadRequest, oauth.InvalidGrant)
		}
		refuse()
		db := f.app.Store().DB
		if err := db.Exec("ALTER TABLE daily_usages RENAME TO daily_usages_away").Error; err != nil {
			t.Fatal(err)
		}
		for range 5 {
			refuse()
		}
		if err := db.Exec("ALTER TABLE daily_usages_away RENAME TO daily_usages").Error; err != nil {
			t.Fatal(err)
		}

		stored, err := f.app.Store().GetClient(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		stored.MaxMinutesPerDay = 120
		if err := f.app.Store().UpdateClient(ctx, stored, store.Actor{Principal: "test"}, "client.update"); err != nil {
			t.Fatal(err)
		}
		if err := f.app.Runtime().Poll(ctx); err != nil {
			t.Fatal(err)
		}
		if res, _ := f.issue(t, f.ep, c.ID, secret); res.Body["expires_in"] != float64(3600) {
			t.Errorf("after the allowance was raised: expires_in %v, want 3600", res.Body["expires_in"])
		}
	})
}

// The memory of a used-up allowance lasts usedUpMemory, not the day: a
// token never handed out gives its charge back (refund) on whichever node
// or endpoint minted it, and every other minter asks the database again
// once its memory is that old. Here a second endpoint (another node) found
// the day used up; once its memory is aged past usedUpMemory (set back, not
// waited for) it issues from the refunded allowance.
func TestUsedUpMemoryEndsAfterARefund(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		f := newFixture(t, driver)
		c, secret := f.client(store.Client{AllowedScopes: store.Strings{"demo.read"}, TokenLifetimeMinutes: 60, MaxMinutesPerDay: 60})
		f.issue(t, f.ep, c.ID, secret)
		other := f.endpoint(&TokenEndpoint{})
		f.refuse(t, other, withBasic(formRequest(ccForm()), c.ID, secret), http.StatusBadRequest, oauth.InvalidGrant)

		day, _ := f.app.Day(time.Now())
		if err := f.app.Store().RefundAllowance(ctx, c.ID, c.ID, day, 3600); err != nil {
			t.Fatal(err)
		}
		// Still remembered as used up: refused without asking.
		f.refuse(t, other, withBasic(formRequest(ccForm()), c.ID, secret), http.StatusBadRequest, oauth.InvalidGrant)
		m := other.minter
		for _, key := range m.usedUpAllowance().Keys() {
			m.usedUpAllowance().Add(key, time.Now().Add(-usedUpMemory))
		}
		if res, _ := f.issue(t, other, c.ID, secret); res.Body["expires_in"] != float64(3600) {
			t.Errorf("after the refund and the memory's end: expires_in %v, want 3600", res.Body["expires_in"])
		}
	})
}
