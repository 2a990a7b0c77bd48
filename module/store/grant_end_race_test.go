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
	tok := grantOf(t, s)
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

	wantGrantEnded(t, s, saved)
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

// A refresh token presented twice at once while the first request's
// rotation is under way ends the grant and deadlocks nothing: the second
// use waits for the first, finds the token used and revokes the family in
// a transaction of its own (its first one kept the token's row lock, which
// the rotation, holding the user's rotation lock, waits for); the rotation
// then saves its successor or finds the grant gone, and every access token
// of a saved refresh token is revoked. On PostgreSQL the interleaving is
// forced with locks (it deadlocked: SQLSTATE 40P01); SQLite runs the two
// one after the other.
func TestReuseDuringRotationEndsTheGrant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		tok := grantOf(t, s)
		var reuse, rotation error
		if driver != store.Postgres {
			if _, err := s.UseRefreshToken(ctx, store.Digest("A"), time.Now(), nil); err != nil {
				t.Fatal(err)
			}
			rotation = s.SaveRefreshToken(ctx, tok("B"), store.Digest("A"))
			_, reuse = s.UseRefreshToken(ctx, store.Digest("A"), time.Now(), nil)
		} else {
			// The first use of A, not committed yet.
			first := s.DB.Begin()
			defer first.Rollback()
			if err := first.Exec("UPDATE refresh_tokens SET used_at = now() WHERE digest = ? AND used_at IS NULL", store.Digest("A")).Error; err != nil {
				t.Fatal(err)
			}
			pid := backendPID(t, first)
			second := make(chan error, 1)
			go func() { _, err := s.UseRefreshToken(ctx, store.Digest("A"), time.Now(), nil); second <- err }()
			awaitWaiters(t, s, pid, 1)
			rotated := make(chan error, 1)
			go func() { rotated <- s.SaveRefreshToken(ctx, tok("B"), store.Digest("A")) }()
			awaitWaiters(t, s, pid, 2)
			if err := first.Commit().Error; err != nil {
				t.Fatal(err)
			}
			reuse, rotation = <-second, <-rotated
		}
		if !errors.Is(reuse, store.ErrReused) {
			t.Fatalf("the token presented again: %v, want ErrReused", reuse)
		}
		saved := []string{"jA"}
		switch {
		case rotation == nil:
			saved = append(saved, "jB")
		case !errors.Is(rotation, store.ErrReused):
			t.Fatalf("the rotation: %v, want it saved or ErrReused", rotation)
		}
		wantGrantEnded(t, s, saved)
	})
}

// A revocation waits for a rotation under way, then ends its successor too:
// the rotation holds the user's rotation lock shared from before it locks
// the token it replaces (here held up by a transaction holding that token),
// and the revocation takes the lock exclusive before it reads the grant.
func TestRevocationWaitsForRotationUnderWay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		tok := grantOf(t, s)
		var rotation error
		if driver != store.Postgres {
			rotation = s.SaveRefreshToken(ctx, tok("B"), store.Digest("A"))
			if err := s.RevokeRefreshFamily(ctx, "fam"); err != nil {
				t.Fatal(err)
			}
		} else {
			hold := s.DB.Begin()
			defer hold.Rollback()
			var a []store.RefreshToken
			if err := hold.Clauses(clause.Locking{Strength: "UPDATE"}).Where("digest = ?", store.Digest("A")).Find(&a).Error; err != nil {
				t.Fatal(err)
			}
			pid := backendPID(t, hold)
			rotated := make(chan error, 1)
			go func() { rotated <- s.SaveRefreshToken(ctx, tok("B"), store.Digest("A")) }()
			rotator := waitBlocked(t, s, pid, nil)
			revoked := make(chan error, 1)
			go func() { revoked <- s.RevokeRefreshFamily(ctx, "fam") }()
			waitBlocked(t, s, rotator, nil)
			if err := hold.Commit().Error; err != nil {
				t.Fatal(err)
			}
			rotation = <-rotated
			if err := <-revoked; err != nil {
				t.Fatal(err)
			}
		}
		if rotation != nil {
			t.Fatalf("the rotation under way: %v, want it saved before the revocation", rotation)
		}
		wantGrantEnded(t, s, []string{"jA", "jB"})
	})
}

// grantOf starts the refresh grant of family "fam" (client c1, user u1) in
// s with token A, and returns what makes its tokens: token v carries access
// token "j"+v.
func grantOf(t *testing.T, s *store.Store) func(v string) *store.RefreshToken {
	t.Helper()
	exp := time.Now().Add(time.Hour).UTC()
	tok := func(v string) *store.RefreshToken {
		return &store.RefreshToken{Digest: store.Digest(v), FamilyID: "fam", ClientID: "c1", UserID: "u1",
			Scopes: store.Strings{"a"}, ExpiresAt: exp, AccessJTI: "j" + v, AccessExpiresAt: &exp}
	}
	if err := s.SaveRefreshToken(context.Background(), tok("A"), ""); err != nil {
		t.Fatal(err)
	}
	return tok
}

// wantGrantEnded checks that every access token of jtis is revoked and no
// refresh token of family "fam" is left.
func wantGrantEnded(t *testing.T, s *store.Store, jtis []string) {
	t.Helper()
	for _, jti := range jtis {
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
