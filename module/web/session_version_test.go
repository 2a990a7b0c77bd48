package web

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A session stands for the user as the sign-in read them: a password reset
// committed while the sign-in was checking the old password (so before the
// session started, which a comparison of times let through) ends it, as does
// any later change; a session of the user as they are now stands, after its
// cookie's round trip too; one sealed before sessions had a version does not.
func TestSessionEndsWithAnyChangeToItsUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		st := storetest.Open(t, driver)
		actor := store.Actor{Principal: "t", TenantID: store.DefaultTenantID}
		if err := st.CreateTenant(ctx, &store.Tenant{ID: store.DefaultTenantID, Name: "Default"}, actor); err != nil && !errors.Is(err, store.ErrConflict) {
			t.Fatal(err)
		}
		u := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: "ada", PasswordHash: "old"}
		if err := st.CreateUser(ctx, u, actor); err != nil {
			t.Fatal(err)
		}
		checked, err := st.FindUser(ctx, store.DefaultTenantID, "ada") // the sign-in's read, with the old hash
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetUserPassword(ctx, u.ID, store.DefaultTenantID, "new", actor); err != nil { // the reset
			t.Fatal(err)
		}
		s := sessions(t, driver)
		rec := httptest.NewRecorder()
		raced, err := s.Start(rec, httptest.NewRequest("GET", "/", nil), u.ID, u.TenantID, checked.UpdatedAt)
		if err != nil {
			t.Fatal(err)
		}
		now, err := st.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !raced.Expires.Add(-s.TTL).After(now.UpdatedAt) {
			t.Fatalf("the session started at %v, before the reset at %v: the test does not show the race", raced.Expires.Add(-s.TTL), now.UpdatedAt)
		}
		if read(t, s, rec.Result().Cookies()[0]).For(now.UpdatedAt) {
			t.Fatal("a session signed in with the old password outlived the reset")
		}

		rec = httptest.NewRecorder()
		if _, err := s.Start(rec, httptest.NewRequest("GET", "/", nil), u.ID, u.TenantID, now.UpdatedAt); err != nil {
			t.Fatal(err)
		}
		fresh := read(t, s, rec.Result().Cookies()[0])
		if !fresh.For(now.UpdatedAt) {
			t.Fatalf("a session of the user as they are now does not stand: version %v, user %v", fresh.UserVersion, now.UpdatedAt)
		}
		u.DisplayName = "Ada"
		if err := st.UpdateUserProfile(ctx, u, store.DefaultTenantID, actor, "user.update"); err != nil {
			t.Fatal(err)
		}
		later, err := st.GetUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.For(later.UpdatedAt) {
			t.Fatal("a session outlived a later change to its user")
		}
		if (&Session{ID: "x", UserID: u.ID}).For(time.Time{}) {
			t.Fatal("a session without a version stands")
		}
	})
}
