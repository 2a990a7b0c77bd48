package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"gorm.io/gorm/clause"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A grant ended while its refresh token is rotated in a loop leaves no
// access token of it working and no refresh token behind. On PostgreSQL the
// interleaving is forced with locks: a rotation A→B holds A's lock while the
// revoker starts, so the revoker's first read cannot see B; the revoker is
// then held at the revocation group's lock, after it has read the grant,
// while the next rotation B→C is saved. Ending the grant used to delete C
// with the rest while never revoking C's access token (a refresh loop
// outlived a password reset, a consent revocation or RFC 7009 so); now the
// rotation B→C waits for the revoker and is refused (ErrReused), and every
// access token of a saved refresh token is revoked. SQLite runs one writer
// at a time, so there the rotations simply come first.
func TestGrantEndedWhileRotating(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		for _, end := range []struct {
			name string
			do   func(s *store.Store) error
		}{
			{"the grant revoked (RFC 7009, a reused token)", func(s *store.Store) error {
				return s.RevokeRefreshFamily(context.Background(), "fam")
			}},
			{"the user's consent revoked (as a password reset ends grants)", func(s *store.Store) error {
				return s.RevokeConsent(context.Background(), "u1", "c1", store.Actor{Principal: "t"})
			}},
		} {
			t.Run(end.name, func(t *testing.T) { endWhileRotating(t, driver, end.do) })
		}
	})
}

// endWhileRotating runs TestGrantEndedWhileRotating with end ending the
// grant of family "fam" (client c1, user u1).
func endWhileRotating(t *testing.T, driver string, end func(*store.Store) error) {
	ctx := context.Background()
	s := storetest.Open(t, driver)
	exp := time.Now().Add(time.Hour).UTC()
	tok := func(v string) *store.RefreshToken {
		return &store.RefreshToken{Digest: store.Digest(v), FamilyID: "fam", ClientID: "c1", UserID: "u1",
			Scopes: store.Strings{"a"}, ExpiresAt: exp, AccessJTI: "j" + v, AccessExpiresAt: &exp}
	}
	if err := s.SaveRefreshToken(ctx, tok("A"), ""); err != nil {
		t.Fatal(err)
	}
	saved := []string{"jA"}
	rotated := func(err error, v string) {
		t.Helper()
		switch {
		case err == nil:
			saved = append(saved, "j"+v)
		case !errors.Is(err, store.ErrReused):
			t.Fatalf("rotation to %s: %v", v, err)
		}
	}

	if driver != store.Postgres {
		rotated(s.SaveRefreshToken(ctx, tok("B"), store.Digest("A")), "B")
		rotated(s.SaveRefreshToken(ctx, tok("C"), store.Digest("B")), "C")
		if err := end(s); err != nil {
			t.Fatal(err)
		}
	} else {
		// The rotation A→B, under way: A locked, B written, not committed.
		rotAB := s.DB.Begin()
		defer rotAB.Rollback()
		var prev []store.RefreshToken
		if err := rotAB.Clauses(clause.Locking{Strength: "UPDATE"}).Where("digest = ?", store.Digest("A")).Find(&prev).Error; err != nil {
			t.Fatal(err)
		}
		if err := rotAB.Create(tok("B")).Error; err != nil {
			t.Fatal(err)
		}
		// The revocation group held, to stop the revoker there.
		group := s.DB.Begin()
		defer group.Rollback()
		if err := store.LockRevocationGroup(group, "c1", "u1"); err != nil {
			t.Fatal(err)
		}
		revoked := make(chan error, 1)
		go func() { revoked <- end(s) }()
		waitBlocked(t, s, backendPID(t, rotAB), nil)
		if err := rotAB.Commit().Error; err != nil {
			t.Fatal(err)
		}
		saved = append(saved, "jB")
		revoker := waitBlocked(t, s, backendPID(t, group), nil)
		// The next rotation B→C, while the revoker waits.
		rotBC := make(chan error, 1)
		go func() { rotBC <- s.SaveRefreshToken(ctx, tok("C"), store.Digest("B")) }()
		waitBlocked(t, s, revoker, rotBC)
		if err := group.Commit().Error; err != nil {
			t.Fatal(err)
		}
		if err := <-revoked; err != nil {
			t.Fatal(err)
		}
		rotated(<-rotBC, "C")
	}

	for _, jti := range saved {
		var n int64
		if err := s.DB.Model(&store.Revocation{}).Where("jti = ?", jti).Count(&n).Error; err != nil || n != 1 {
			t.Errorf("access token %s of the ended grant: %d revocations (%v), want 1", jti, n, err)
		}
	}
	var left int64
	if err := s.DB.Model(&store.RefreshToken{}).Where("family_id = ?", "fam").Count(&left).Error; err != nil || left != 0 {
		t.Errorf("%d refresh tokens of the ended grant left (%v), want none", left, err)
	}
}

// waitBlocked waits until some backend waits for a lock held by the backend
// holder, and returns its pid; or, when done is not nil, until done has a
// value instead (put back for the caller; pid 0). It gives up after a minute.
func waitBlocked(t *testing.T, s *store.Store, holder int, done chan error) int {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if done != nil {
			select {
			case err := <-done:
				done <- err
				return 0
			default:
			}
		}
		var pids []int
		if err := s.DB.Raw("SELECT pid FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))", holder).Scan(&pids).Error; err != nil {
			t.Fatal(err)
		}
		if len(pids) > 0 {
			return pids[0]
		}
	}
	t.Fatalf("nothing waited for backend %d within a minute", holder)
	return 0
}
