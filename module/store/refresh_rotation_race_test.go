package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// A rotation commits its successor while a user's grants are being ended
// (RevokeConsent waits for the lock the rotation holds on the token it
// replaces), and the rotation's prune follows at once: neither deadlocks
// (the prune locked the successor, which the revocation deletes last,
// while waiting for rows the revocation held), the grant is gone, and the
// successor's access token is revoked with the others (the revocation only
// revoked what its first, locking read saw). PostgreSQL only: SQLite runs
// one writer at a time.
func TestRotationBesideAUsersGrantsEnded(t *testing.T) {
	ctx := context.Background()
	s := storetest.Open(t, store.Postgres)
	createTenants(t, s, store.DefaultTenantID)
	createClients(t, s, store.AuthUser, "c1")
	_, fam := store.NewRefreshFamily()
	exp := time.Now().Add(time.Hour)
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	token := func(digest string, at time.Time) *store.RefreshToken {
		return &store.RefreshToken{Digest: digest, FamilyID: fam, ClientID: "c1", UserID: "u1",
			Scopes: store.Strings{"demo.read"}, ExpiresAt: exp, CreatedAt: at, AccessJTI: "jti-" + digest, AccessExpiresAt: &exp}
	}
	for i := range 3 * store.UsedRefreshTokensKept {
		d := fmt.Sprintf("d%02d", i)
		if err := s.SaveRefreshToken(ctx, token(d, base.Add(time.Duration(i)*time.Second)), ""); err != nil {
			t.Fatal(err)
		}
		if err := s.DB.Model(&store.RefreshToken{}).Where("digest = ?", d).Update("used_at", time.Now().UTC()).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SaveRefreshToken(ctx, token("p", time.Now().UTC()), ""); err != nil { // the token being rotated
		t.Fatal(err)
	}
	if err := s.SaveConsent(ctx, "u1", "c1", []string{"demo.read"}); err != nil {
		t.Fatal(err)
	}

	// The rotation's SaveRefreshToken, held open: the replaced token
	// locked, the successor (sorting before every other digest) inserted.
	rotation := s.DB.Begin()
	defer rotation.Rollback()
	if err := rotation.Exec("SELECT digest FROM refresh_tokens WHERE digest = 'p' FOR UPDATE").Error; err != nil {
		t.Fatal(err)
	}
	if err := rotation.Create(token("0000", time.Now().UTC())).Error; err != nil {
		t.Fatal(err)
	}
	var rotationPID int64
	if err := rotation.Raw("SELECT pg_backend_pid()").Scan(&rotationPID).Error; err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- s.RevokeConsent(ctx, "u1", "c1", admin) }()
	for waited := 0; ; waited++ { // until RevokeConsent waits for the rotation (an event, polled)
		var blocked int64
		if err := s.DB.Raw("SELECT count(*) FROM pg_stat_activity WHERE ? = ANY(pg_blocking_pids(pid))", rotationPID).Scan(&blocked).Error; err != nil {
			t.Fatal(err)
		}
		if blocked > 0 {
			break
		}
		if waited > 3000 {
			t.Fatal("the consent's revocation never waited for the rotation")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := rotation.Commit().Error; err != nil {
		t.Fatal(err)
	}
	if err := s.PruneRefreshFamily(ctx, fam); err != nil {
		t.Errorf("the rotation's prune: %v", err)
	}
	if err := <-ended; err != nil {
		t.Errorf("ending the user's grants: %v", err)
	}
	var left, successorRevoked int64
	s.DB.Model(&store.RefreshToken{}).Where("family_id = ?", fam).Count(&left)
	s.DB.Model(&store.Revocation{}).Where("jti = ?", "jti-0000").Count(&successorRevoked)
	if left != 0 || successorRevoked != 1 {
		t.Fatalf("%d rows of the grant left (want 0); the successor's access token revoked %d times (want once)", left, successorRevoked)
	}
}
