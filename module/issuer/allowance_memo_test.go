package issuer

import (
	"context"
	"net/http"
	"testing"

	"github.com/scopegate/scopegate/module/oauth"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// An allowance found used up stays so until its day ends, so the client
// asking again and again is refused without touching the database (it used
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
