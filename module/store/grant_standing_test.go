package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A code or an implicit token is saved only while its grant stands in the
// database, whatever a node's caches said a moment before: a user signed
// in before a password reset, a disabled user, a revoked consent, a scope
// the consent does not cover and a user that is gone each get
// ErrGrantEnded and save nothing; a standing grant saves both.
func TestGrantMustStillStand(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, u := consentingUser(t, driver, "a", "b")
		n := 0
		save := func(g store.Grant) (codeErr, tokenErr error) {
			n++
			code := &store.AuthCode{Digest: store.Digest(fmt.Sprint("code", n)), ClientID: g.ClientID, UserID: g.UserID, TenantID: store.DefaultTenantID,
				Scopes: store.Strings(g.Scopes), ExpiresAt: time.Now().Add(time.Minute)}
			codeErr = s.SaveGrantedAuthCode(ctx, code, g)
			tokenErr = s.RecordImplicitToken(ctx, fmt.Sprint("jti", n), g, time.Now(), time.Now().Add(time.Hour))
			return codeErr, tokenErr
		}
		standing := store.Grant{UserID: u.ID, ClientID: "c1", Scopes: []string{"a"}, UserVersion: version(t, s, u.ID)}
		if ce, te := save(standing); ce != nil || te != nil {
			t.Fatalf("a standing grant: %v, %v", ce, te)
		}
		ended := map[string]store.Grant{
			"a scope the consent lacks": {UserID: u.ID, ClientID: "c1", Scopes: []string{"a", "c"}, UserVersion: version(t, s, u.ID)},
			"no consent for the client": {UserID: u.ID, ClientID: "c2", Scopes: []string{"a"}, UserVersion: version(t, s, u.ID)},
			"a user that is gone":       {UserID: "nobody", ClientID: "c1", Scopes: []string{"a"}, UserVersion: version(t, s, u.ID)},
		}
		if err := s.SetUserPassword(ctx, u.ID, store.DefaultTenantID, "$2a$new", admin); err != nil {
			t.Fatal(err)
		}
		ended["signed in before a password reset"] = standing
		for what, g := range ended {
			if ce, te := save(g); !errors.Is(ce, store.ErrGrantEnded) || !errors.Is(te, store.ErrGrantEnded) {
				t.Errorf("%s: %v, %v; want ErrGrantEnded for both", what, ce, te)
			}
		}
		fresh := standing
		fresh.UserVersion = version(t, s, u.ID)
		if ce, te := save(fresh); ce != nil || te != nil {
			t.Fatalf("signed in again after the reset: %v, %v", ce, te)
		}
		if err := s.RevokeConsent(ctx, u.ID, "c1", admin); err != nil {
			t.Fatal(err)
		}
		if ce, te := save(fresh); !errors.Is(ce, store.ErrGrantEnded) || !errors.Is(te, store.ErrGrantEnded) {
			t.Errorf("after the consent was revoked: %v, %v; want ErrGrantEnded", ce, te)
		}
	})
}

// A consent revoked while implicit tokens are being recorded leaves none
// of them usable: each token is either refused when recorded
// (ErrGrantEnded) or recorded before the revocation read what to end, and
// then revoked. Run with 8 recorders against one revocation, on both stores.
func TestConsentRevokedWhileRecording(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, u := consentingUser(t, driver, "a")
		g := store.Grant{UserID: u.ID, ClientID: "c1", Scopes: []string{"a"}, UserVersion: version(t, s, u.ID)}
		var wg sync.WaitGroup
		recorded := make(chan string, 64)
		start := make(chan struct{})
		for w := range 8 {
			wg.Go(func() {
				<-start
				for i := range 5 {
					jti := fmt.Sprintf("jti-%d-%d", w, i)
					err := s.RecordImplicitToken(ctx, jti, g, time.Now(), time.Now().Add(time.Hour))
					if err == nil {
						recorded <- jti
					} else if !errors.Is(err, store.ErrGrantEnded) {
						t.Errorf("recording %s: %v", jti, err)
					}
				}
			})
		}
		close(start)
		if err := s.RevokeConsent(ctx, u.ID, "c1", admin); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		close(recorded)
		for jti := range recorded {
			if is, err := s.IsRevoked(ctx, jti); err != nil || !is {
				t.Errorf("%s was recorded and survived the consent's revocation: revoked %v, %v", jti, is, err)
			}
		}
	})
}

// consentingUser opens a store of driver with user ada, who approved
// scopes for client c1.
func consentingUser(t *testing.T, driver string, scopes ...string) (*store.Store, *store.User) {
	t.Helper()
	ctx := context.Background()
	s := storetest.Open(t, driver)
	seed(t, s)
	u := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: "ada"}
	if err := s.CreateUser(ctx, u, admin); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveConsent(ctx, u.ID, "c1", scopes); err != nil {
		t.Fatal(err)
	}
	return s, u
}

// A user's browser cannot make one client hold more than
// GrantsKeptPerUser live grants of a kind (each a row read when the user's
// grants end): with that many implicit tokens still valid another is
// ErrTooManyGrants; another code beside that many pending ones forgets the
// one expiring first (refused, any site could lock the user out of the app
// by navigating their browser to its authorize URL: protocol red team);
// beside that many live refresh grants a new code ends the oldest grant
// (refusing would lock the user out for the 30 days grants live). Expired
// tokens, redeemed codes and spent refresh tokens do not count; another
// client of the same user is not held back; an ended grant's code is kept
// minutes; ending the user's grants (a consent revoked) frees the user.
func TestGrantsKeptPerUserAreBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s, u := consentingUser(t, driver, "a")
		g := store.Grant{UserID: u.ID, ClientID: "c1", Scopes: []string{"a"}, UserVersion: version(t, s, u.ID)}
		now := time.Now().UTC()
		live, gone := now.Add(time.Hour), now.Add(-time.Minute)
		var tokens []store.ImplicitToken
		for i := range store.GrantsKeptPerUser - 1 {
			tokens = append(tokens, store.ImplicitToken{JTI: fmt.Sprint("live", i), ClientID: "c1", UserID: u.ID, IssuedAt: now.Unix(), ExpiresAt: live})
		}
		tokens = append(tokens, store.ImplicitToken{JTI: "expired", ClientID: "c1", UserID: u.ID, IssuedAt: now.Unix(), ExpiresAt: gone},
			store.ImplicitToken{JTI: "other-client", ClientID: "c2", UserID: u.ID, IssuedAt: now.Unix(), ExpiresAt: live})
		if err := s.DB.CreateInBatches(tokens, 200).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.RecordImplicitToken(ctx, "last", g, now, live); err != nil {
			t.Fatalf("the %dth live implicit token: %v", store.GrantsKeptPerUser, err)
		}
		if err := s.RecordImplicitToken(ctx, "one-more", g, now, live); !errors.Is(err, store.ErrTooManyGrants) {
			t.Fatalf("one implicit token past the bound: %v, want ErrTooManyGrants", err)
		}

		code := func(i int, used bool) store.AuthCode {
			c := store.AuthCode{Digest: store.Digest(fmt.Sprint("code", i)), ClientID: "c1", UserID: u.ID, TenantID: store.DefaultTenantID,
				Scopes: store.Strings{"a"}, ExpiresAt: live.Add(time.Duration(i) * time.Millisecond)}
			if used {
				c.UsedAt = &now
			}
			return c
		}
		// Pending codes: past the bound the one expiring first is forgotten.
		var codes []store.AuthCode
		for i := range store.GrantsKeptPerUser - 1 {
			codes = append(codes, code(i, false))
		}
		codes = append(codes, code(-1, true)) // redeemed: not pending
		if err := s.DB.CreateInBatches(codes, 200).Error; err != nil {
			t.Fatal(err)
		}
		next := code(store.GrantsKeptPerUser, false)
		if err := s.SaveGrantedAuthCode(ctx, &next, g); err != nil {
			t.Fatalf("the %dth pending code: %v", store.GrantsKeptPerUser, err)
		}
		more := code(store.GrantsKeptPerUser+1, false)
		if err := s.SaveGrantedAuthCode(ctx, &more, g); err != nil {
			t.Fatalf("one pending code past the bound: %v, want it saved", err)
		}
		for digest, kept := range map[string]bool{code(0, false).Digest: false, code(1, false).Digest: true, code(-1, true).Digest: true, more.Digest: true} {
			var n int64
			if err := s.DB.Model(&store.AuthCode{}).Where("digest = ?", digest).Count(&n).Error; err != nil || (n == 1) != kept {
				t.Fatalf("code %s… kept %v (%v), want %v", digest[:8], n == 1, err, kept)
			}
		}
		var pending int64
		if err := s.DB.Model(&store.AuthCode{}).Where("client_id = ? AND user_id = ? AND used_at IS NULL", "c1", u.ID).Count(&pending).Error; err != nil || pending != store.GrantsKeptPerUser {
			t.Fatalf("%d pending codes (%v), want the bound, %d", pending, err, store.GrantsKeptPerUser)
		}
		if err := s.DB.Where("client_id = ? AND used_at IS NULL", "c1").Delete(&store.AuthCode{}).Error; err != nil {
			t.Fatal(err)
		}

		// Live refresh grants: a new code ends the oldest one instead
		// (each grant with the used code that started it and a spent
		// token beside its current one).
		var used []store.AuthCode
		var refresh []store.RefreshToken
		for i := range store.GrantsKeptPerUser {
			fam, made := fmt.Sprint("f", i), now.Add(time.Duration(i-store.GrantsKeptPerUser)*time.Second)
			c := code(10_000+i, true)
			c.FamilyID = fam
			used = append(used, c)
			refresh = append(refresh, store.RefreshToken{Digest: store.Digest("rt" + fam), FamilyID: fam, ClientID: "c1", UserID: u.ID,
				Scopes: store.Strings{"a"}, ExpiresAt: live, CreatedAt: made})
		}
		refresh = append(refresh, store.RefreshToken{Digest: store.Digest("spent"), FamilyID: "f5", ClientID: "c1", UserID: u.ID,
			Scopes: store.Strings{"a"}, ExpiresAt: live, UsedAt: &now, CreatedAt: now.Add(-time.Hour)})
		if err := s.DB.CreateInBatches(used, 200).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.DB.CreateInBatches(refresh, 200).Error; err != nil {
			t.Fatal(err)
		}
		fresh := code(20_000, false)
		if err := s.SaveGrantedAuthCode(ctx, &fresh, g); err != nil {
			t.Fatalf("a code beside %d live refresh grants: %v", store.GrantsKeptPerUser, err)
		}
		var left int64
		if err := s.DB.Model(&store.RefreshToken{}).Where("family_id = ?", "f0").Count(&left).Error; err != nil || left != 0 {
			t.Fatalf("the oldest grant keeps %d refresh tokens (%v), want it ended", left, err)
		}
		if err := s.DB.Model(&store.RefreshToken{}).Where("client_id = ? AND used_at IS NULL", "c1").Count(&left).Error; err != nil || left != store.GrantsKeptPerUser-1 {
			t.Fatalf("%d live refresh grants left (%v), want %d", left, err, store.GrantsKeptPerUser-1)
		}
		// An ended grant's code is kept minutes, not the 30 days of a used
		// code (redeeming and revoking in a loop left a row per turn), and
		// is marked revoked; so is one ended by RFC 7009.
		if err := s.RevokeRefreshFamily(ctx, "f1"); err != nil {
			t.Fatal(err)
		}
		for _, fam := range []string{"f0", "f1"} {
			var c store.AuthCode
			if err := s.DB.Where("family_id = ?", fam).Take(&c).Error; err != nil {
				t.Fatal(err)
			}
			if c.RevokedAt == nil || c.ExpiresAt.After(time.Now().Add(6*time.Minute)) {
				t.Errorf("the code of ended grant %s: revoked %v, kept until %v, want revoked and kept minutes", fam, c.RevokedAt, c.ExpiresAt)
			}
		}

		if err := s.RevokeConsent(ctx, u.ID, "c1", admin); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveConsent(ctx, u.ID, "c1", []string{"a"}); err != nil {
			t.Fatal(err)
		}
		g.UserVersion = version(t, s, u.ID)
		if err := s.RecordImplicitToken(ctx, "after", g, now, live); err != nil {
			t.Fatalf("an implicit token after the user's grants ended: %v", err)
		}
		after := code(store.GrantsKeptPerUser+2, false)
		if err := s.SaveGrantedAuthCode(ctx, &after, g); err != nil {
			t.Fatalf("a code after the user's grants ended: %v", err)
		}
	})
}

// version is the user's UpdatedAt as stored: what a sign-in reads with the
// password and puts in Grant.UserVersion.
func version(t *testing.T, s *store.Store, userID string) time.Time {
	t.Helper()
	u, err := s.GetUser(context.Background(), userID)
	if err != nil {
		t.Fatal(err)
	}
	return u.UpdatedAt
}
