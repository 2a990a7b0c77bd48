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

// Consent accumulates scopes per user and client, is found again, and
// revoking it also drops the client's refresh tokens for that user; revoking
// nothing is ErrNotFound.
func TestConsent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		if _, err := s.GetConsent(ctx, "u1", "c1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("no consent yet: %v", err)
		}
		if err := s.SaveConsent(ctx, "u1", "c1", []string{"a"}); err != nil {
			t.Fatal(err)
		}
		if err := s.SaveConsent(ctx, "u1", "c1", []string{"b", "a"}); err != nil {
			t.Fatal(err)
		}
		// Concurrent first approvals of another pair all land.
		var wg sync.WaitGroup
		for _, sc := range []string{"x", "y", "z"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.SaveConsent(ctx, "u2", "c1", []string{sc}); err != nil {
					t.Errorf("concurrent SaveConsent: %v", err)
				}
			}()
		}
		wg.Wait()
		if c, err := s.GetConsent(ctx, "u2", "c1"); err != nil || len(c.Scopes) != 3 {
			t.Fatalf("concurrent consents = %+v, %v; want x, y and z", c, err)
		}
		c, err := s.GetConsent(ctx, "u1", "c1")
		if err != nil || len(c.Scopes) != 2 || c.Scopes[0] != "a" || c.Scopes[1] != "b" {
			t.Fatalf("consent = %+v, %v; want [a b]", c, err)
		}
		if _, err := s.GetConsent(ctx, "u1", "c2"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("consent leaked to another client: %v", err)
		}
		rt := &store.RefreshToken{Digest: store.Digest("r1"), FamilyID: "f", ClientID: "c1", UserID: "u1",
			Scopes: store.Strings{"a"}, ExpiresAt: time.Now().Add(time.Hour)}
		if err := s.SaveRefreshToken(ctx, rt, ""); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeConsent(ctx, "u1", "c1", admin); err != nil {
			t.Fatal(err)
		}
		if _, err := s.GetConsent(ctx, "u1", "c1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("consent survived revocation: %v", err)
		}
		if _, err := s.UseRefreshToken(ctx, rt.Digest, time.Now(), nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("refresh token survived consent revocation: %v", err)
		}
		if err := s.RevokeConsent(ctx, "u1", "c1", admin); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second revocation: %v, want ErrNotFound", err)
		}
		audit, _, _ := s.ListAudit(ctx, "", store.Page{})
		if len(audit) == 0 || audit[0].Action != "consent.revoke" || audit[0].Target != "u1" {
			t.Fatalf("revocation not audited: %+v", audit)
		}
	})
}

// redemption starts family fam, the used code kept for an hour.
func redemption(fam string) store.Redemption {
	return store.Redemption{FamilyID: fam, KeepUntil: time.Now().Add(time.Hour)}
}

// A code is redeemed once: of concurrent redemptions exactly one wins and
// the others are ErrCodeReused; an expired or unknown code is ErrNotFound;
// only digests are stored.
func TestAuthCodeSingleUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		code := &store.AuthCode{Digest: store.Digest("code-1"), ClientID: "c1", UserID: "u1", TenantID: "t",
			RedirectURI: "https://app.test/cb", Scopes: store.Strings{"a"}, CodeChallenge: "ch",
			ExpiresAt: time.Now().Add(time.Minute)}
		if err := s.SaveAuthCode(ctx, code); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, losses := 0, 0
		for i := 0; i < 5; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, _, err := s.RedeemAuthCode(ctx, store.Digest("code-1"), time.Now(), redemption("fam"))
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil && got.RedirectURI == "https://app.test/cb" && got.CodeChallenge == "ch" && got.FamilyID == "fam":
					wins++
				case errors.Is(err, store.ErrCodeReused):
					losses++
				default:
					t.Errorf("redeem: %+v %v", got, err)
				}
			}()
		}
		wg.Wait()
		if wins != 1 || losses != 4 {
			t.Fatalf("wins=%d losses=%d, want exactly one redemption", wins, losses)
		}
		old := &store.AuthCode{Digest: store.Digest("code-2"), ClientID: "c1", UserID: "u1", TenantID: "t",
			RedirectURI: "x", ExpiresAt: time.Now().Add(-time.Second)}
		if err := s.SaveAuthCode(ctx, old); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.RedeemAuthCode(ctx, old.Digest, time.Now(), redemption("f2")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired code: %v, want ErrNotFound", err)
		}
		if _, _, err := s.RedeemAuthCode(ctx, store.Digest("never"), time.Now(), redemption("f3")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown code: %v", err)
		}
		if store.Digest("code-1") == "code-1" || len(store.Digest("x")) != 64 {
			t.Fatal("Digest is not a hex SHA-256")
		}
	})
}

// A refresh token is used once; using it again deletes its whole family,
// successor included; expired tokens are ErrNotFound.
func TestRefreshRotation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		mk := func(v, family string, exp time.Duration, replaces ...string) *store.RefreshToken {
			rt := &store.RefreshToken{Digest: store.Digest(v), FamilyID: family, ClientID: "c1", UserID: "u1",
				Scopes: store.Strings{"a", "b"}, ExpiresAt: time.Now().Add(exp)}
			prev := ""
			if len(replaces) > 0 {
				prev = store.Digest(replaces[0])
			}
			if err := s.SaveRefreshToken(ctx, rt, prev); err != nil {
				t.Fatal(err)
			}
			return rt
		}
		mk("r1", "fam", time.Hour)
		mk("other", "fam2", time.Hour)
		got, err := s.UseRefreshToken(ctx, store.Digest("r1"), time.Now(), nil)
		if err != nil || got.FamilyID != "fam" || got.UsedAt == nil || len(got.Scopes) != 2 {
			t.Fatalf("first use = %+v, %v", got, err)
		}
		mk("r2", "fam", time.Hour, "r1") // the successor
		if _, err := s.UseRefreshToken(ctx, store.Digest("r1"), time.Now(), nil); !errors.Is(err, store.ErrReused) {
			t.Fatalf("reuse: %v, want ErrReused", err)
		}
		if _, err := s.UseRefreshToken(ctx, store.Digest("r2"), time.Now(), nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("successor after reuse: %v, want ErrNotFound (family revoked)", err)
		}
		if _, err := s.UseRefreshToken(ctx, store.Digest("other"), time.Now(), nil); err != nil {
			t.Fatalf("another family was touched: %v", err)
		}
		mk("old", "fam3", -time.Second)
		if _, err := s.UseRefreshToken(ctx, store.Digest("old"), time.Now(), nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("expired: %v", err)
		}
		mk("r4", "fam4", time.Hour)
		if err := s.RevokeRefreshFamily(ctx, "fam4"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UseRefreshToken(ctx, store.Digest("r4"), time.Now(), nil); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoked family: %v", err)
		}
	})
}

// A grant revoked between a refresh token's use and the save of its
// successor stays revoked: once a rotated token came back, or the family was
// revoked (RFC 7009), the successor is refused with ErrReused and not
// stored, which would otherwise keep the family alive. A successor needs
// its predecessor in its own family; the usual rotation saves it. Run
// concurrently, the save and the reuse never leave a successor behind.
func TestRefreshSuccessorOfRevokedGrant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		save := func(v, family, replaces string) error {
			return s.SaveRefreshToken(ctx, &store.RefreshToken{Digest: store.Digest(v), FamilyID: family, ClientID: "c1",
				UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)}, replaces)
		}
		use := func(v string) {
			t.Helper()
			if _, err := s.UseRefreshToken(ctx, store.Digest(v), time.Now(), nil); err != nil {
				t.Fatalf("use %s: %v", v, err)
			}
		}
		for _, revoke := range []struct {
			name   string
			family string
			do     func() error
		}{
			{"a rotated token came back", "reused", func() error {
				_, err := s.UseRefreshToken(ctx, store.Digest("reused-1"), time.Now(), nil)
				if !errors.Is(err, store.ErrReused) {
					return fmt.Errorf("reuse: %v, want ErrReused", err)
				}
				return nil
			}},
			{"RFC 7009", "revoked", func() error { return s.RevokeRefreshFamily(ctx, "revoked") }},
		} {
			first := revoke.family + "-1"
			if err := save(first, revoke.family, ""); err != nil {
				t.Fatal(err)
			}
			use(first)
			if err := revoke.do(); err != nil {
				t.Fatalf("%s: %v", revoke.name, err)
			}
			if err := save(revoke.family+"-2", revoke.family, store.Digest(first)); !errors.Is(err, store.ErrReused) {
				t.Fatalf("%s: the successor saved after it: %v, want ErrReused", revoke.name, err)
			}
			if _, err := s.GetRefreshToken(ctx, store.Digest(revoke.family+"-2")); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s: the refused successor was stored: %v", revoke.name, err)
			}
		}

		if err := save("live-1", "live", ""); err != nil {
			t.Fatal(err)
		}
		if err := save("elsewhere-1", "elsewhere", ""); err != nil {
			t.Fatal(err)
		}
		use("live-1")
		if err := save("live-2", "elsewhere", store.Digest("live-1")); !errors.Is(err, store.ErrReused) {
			t.Fatalf("a successor in another family than its predecessor: %v, want ErrReused", err)
		}
		if err := save("live-2", "live", store.Digest("live-1")); err != nil {
			t.Fatalf("the usual rotation: %v", err)
		}
		use("live-2")

		// The same race run for real: whichever order the database picks,
		// no successor outlives the reuse.
		for i := range 20 {
			fam := fmt.Sprintf("race-%d", i)
			if err := save(fam+"-1", fam, ""); err != nil {
				t.Fatal(err)
			}
			use(fam + "-1")
			var wg sync.WaitGroup
			var saveErr, reuseErr error
			wg.Add(2)
			go func() { defer wg.Done(); saveErr = save(fam+"-2", fam, store.Digest(fam+"-1")) }()
			go func() {
				defer wg.Done()
				_, reuseErr = s.UseRefreshToken(ctx, store.Digest(fam+"-1"), time.Now(), nil)
			}()
			wg.Wait()
			if !errors.Is(reuseErr, store.ErrReused) || (saveErr != nil && !errors.Is(saveErr, store.ErrReused)) {
				t.Fatalf("race %d: save %v, reuse %v", i, saveErr, reuseErr)
			}
			if _, err := s.GetRefreshToken(ctx, store.Digest(fam+"-2")); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("race %d: the successor outlived the reuse (save %v): %v", i, saveErr, err)
			}
		}
	})
}

// Cleanup deletes expired codes and refresh tokens and keeps live ones, so
// the tables stay bounded however many tokens are issued.
func TestCleanupAuthorize(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		now := time.Now()
		for i, exp := range []time.Duration{-time.Minute, time.Minute} {
			v := []string{"dead", "live"}[i]
			if err := s.SaveAuthCode(ctx, &store.AuthCode{Digest: store.Digest("c" + v), ClientID: "c", UserID: "u",
				TenantID: "t", RedirectURI: "x", ExpiresAt: now.Add(exp)}); err != nil {
				t.Fatal(err)
			}
			if err := s.SaveRefreshToken(ctx, &store.RefreshToken{Digest: store.Digest("r" + v), FamilyID: v,
				ClientID: "c", UserID: "u", ExpiresAt: now.Add(exp)}, ""); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Cleanup(ctx, now, time.Minute, "2000-01-01"); err != nil {
			t.Fatal(err)
		}
		var codes, tokens int64
		s.DB.Model(&store.AuthCode{}).Count(&codes)
		s.DB.Model(&store.RefreshToken{}).Count(&tokens)
		if codes != 1 || tokens != 1 {
			t.Fatalf("after cleanup: %d codes, %d refresh tokens; want 1 and 1", codes, tokens)
		}
		if _, _, err := s.RedeemAuthCode(ctx, store.Digest("clive"), now, redemption("f")); err != nil {
			t.Fatalf("live code was deleted: %v", err)
		}
	})
}

// SetUserPassword stores a hash only for a user of the given tenant and
// audits the change.
func TestSetUserPassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		seed(t, s)
		u := &store.User{ID: store.NewID(), TenantID: store.DefaultTenantID, Username: "ada"}
		if err := s.CreateUser(ctx, u, admin); err != nil {
			t.Fatal(err)
		}
		if err := s.SetUserPassword(ctx, u.ID, "other-tenant", "h", admin); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("wrong tenant: %v", err)
		}
		if err := s.SetUserPassword(ctx, u.ID, store.DefaultTenantID, "$2a$hash", admin); err != nil {
			t.Fatal(err)
		}
		got, _ := s.GetUser(ctx, u.ID)
		if got.PasswordHash != "$2a$hash" {
			t.Fatalf("hash = %q", got.PasswordHash)
		}
		audit, _, _ := s.ListAudit(ctx, "", store.Page{})
		if audit[0].Action != "user.password" || audit[0].Detail != "" {
			t.Fatalf("audit %+v", audit[0])
		}
	})
}

// GetRefreshToken finds a token by digest whether or not it was used, and
// is ErrNotFound for an unknown one.
func TestGetRefreshToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		if err := s.SaveRefreshToken(ctx, &store.RefreshToken{Digest: store.Digest("r"), FamilyID: "f", ClientID: "c",
			UserID: "u", ExpiresAt: time.Now().Add(time.Hour)}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UseRefreshToken(ctx, store.Digest("r"), time.Now(), nil); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetRefreshToken(ctx, store.Digest("r"))
		if err != nil || got.FamilyID != "f" || got.UsedAt == nil {
			t.Fatalf("GetRefreshToken = %+v, %v", got, err)
		}
		if _, err := s.GetRefreshToken(ctx, store.Digest("nope")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unknown: %v", err)
		}
	})
}

// A code redeemed a second time revokes what it produced (RFC 6749
// §4.1.2): the refresh family it started is deleted (the rotated tokens and
// the live one), the access tokens issued with them are revoked until they
// expire (an already expired one is skipped) and returned, and the family
// takes no new refresh token afterwards; another family is untouched. The
// used code is kept until KeepUntil to recognise the reuse, then cleaned up.
func TestAuthCodeReuseRevokes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		now := time.Now()
		if err := s.SaveAuthCode(ctx, &store.AuthCode{Digest: store.Digest("code"), ClientID: "c1", UserID: "u1",
			TenantID: "t", Scopes: store.Strings{"a"}, ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.RedeemAuthCode(ctx, store.Digest("code"), now, redemption("fam")); err != nil {
			t.Fatal(err)
		}
		save := func(v, family, jti string, accessExp time.Duration, replaces string) {
			t.Helper()
			exp := now.Add(accessExp)
			if err := s.SaveRefreshToken(ctx, &store.RefreshToken{Digest: store.Digest(v), FamilyID: family, ClientID: "c1",
				UserID: "u1", ExpiresAt: now.Add(time.Hour), AccessJTI: jti, AccessExpiresAt: &exp}, replaces); err != nil {
				t.Fatalf("save %s: %v", v, err)
			}
		}
		save("r0", "fam", "jti-expired", -time.Second, "")
		save("r1", "fam", "jti-1", time.Hour, "")
		if _, err := s.UseRefreshToken(ctx, store.Digest("r1"), now, nil); err != nil {
			t.Fatal(err)
		}
		save("r2", "fam", "jti-2", time.Hour, store.Digest("r1")) // r1's successor
		save("g1", "other", "jti-other", time.Hour, "")

		_, revoked, err := s.RedeemAuthCode(ctx, store.Digest("code"), now, redemption("fam-again"))
		if !errors.Is(err, store.ErrCodeReused) {
			t.Fatalf("second redemption: %v, want ErrCodeReused", err)
		}
		got := map[string]bool{}
		for _, r := range revoked {
			got[r.JTI] = true
			if r.ClientID != "c1" || !r.ExpiresAt.After(now) {
				t.Errorf("revocation %+v", r)
			}
		}
		if len(got) != 2 || !got["jti-1"] || !got["jti-2"] {
			t.Fatalf("revoked %v, want jti-1 and jti-2", got)
		}
		for jti, want := range map[string]bool{"jti-1": true, "jti-2": true, "jti-expired": false, "jti-other": false} {
			if is, err := s.IsRevoked(ctx, jti); err != nil || is != want {
				t.Errorf("IsRevoked(%s) = %v, %v; want %v", jti, is, err, want)
			}
		}
		for _, v := range []string{"r0", "r1", "r2"} {
			if _, err := s.GetRefreshToken(ctx, store.Digest(v)); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("refresh token %s survived: %v", v, err)
			}
		}
		exp := now.Add(time.Hour)
		late := &store.RefreshToken{Digest: store.Digest("late"), FamilyID: "fam", ClientID: "c1", UserID: "u1",
			ExpiresAt: exp, AccessJTI: "jti-late", AccessExpiresAt: &exp}
		if err := s.SaveRefreshToken(ctx, late, ""); !errors.Is(err, store.ErrReused) {
			t.Fatalf("a new refresh token in the revoked family: %v, want ErrReused", err)
		}
		if err := s.SaveRefreshToken(ctx, late, store.Digest("r2")); !errors.Is(err, store.ErrReused) {
			t.Fatalf("r2's successor in the revoked family: %v, want ErrReused", err)
		}
		if _, err := s.UseRefreshToken(ctx, store.Digest("g1"), now, nil); err != nil {
			t.Fatalf("another family was touched: %v", err)
		}
		if _, _, err := s.RedeemAuthCode(ctx, store.Digest("code"), now, redemption("x")); !errors.Is(err, store.ErrCodeReused) {
			t.Fatalf("third redemption: %v", err)
		}

		if err := s.Cleanup(ctx, now, time.Minute, "2000-01-01"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.RedeemAuthCode(ctx, store.Digest("code"), now, redemption("x")); !errors.Is(err, store.ErrCodeReused) {
			t.Fatalf("the used code was cleaned up before KeepUntil: %v", err)
		}
		if err := s.Cleanup(ctx, now.Add(2*time.Hour), time.Minute, "2000-01-01"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.RedeemAuthCode(ctx, store.Digest("code"), now, redemption("x")); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the used code outlived KeepUntil: %v", err)
		}
	})
}
