package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/store/storetest"
)

// saveFamilyMember stores a refresh token of family for user u1 of client
// c1, expiring at expires, with a live access token.
func saveFamilyMember(t *testing.T, s *store.Store, digest, family string, expires time.Time) {
	t.Helper()
	exp := time.Now().Add(time.Hour)
	rt := &store.RefreshToken{Digest: digest, FamilyID: family, ClientID: "c1", UserID: "u1", CreatedAt: time.Now(),
		Scopes: store.Strings{"demo.read"}, ExpiresAt: expires, AccessJTI: "access-" + digest, AccessExpiresAt: &exp}
	if err := s.DB.Create(rt).Error; err != nil {
		t.Fatal(err)
	}
}

// A family revocation (its refresh tokens first, then its user's
// revocation group) that passes the bound and saves the group's watermark,
// expired and due for deletion, completes while Cleanup waits in the middle
// of its work with an expired member of that family still to delete:
// Cleanup holds nothing the revocation needs (versions that deleted the
// watermarks, or made a placeholder watermark row, in Cleanup's transaction
// deadlocked here). Both succeed.
func TestFamilyRevocationDuringCleanup(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		ctx := context.Background()
		s := storetest.Open(t, driver)
		s.SetRevocationsKept(1)
		createTenants(t, s, store.DefaultTenantID)
		createClients(t, s, store.AuthUser, "c1")
		expired := store.RevocationWatermark{ClientID: "c1", Subject: "u1", IssuedUpTo: time.Now().Add(-2 * time.Hour).Unix(),
			ExpiresAt: time.Now().Add(-time.Minute)}
		if err := s.DB.Create(&expired).Error; err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, store.RevokedToken{JTI: "recent", ClientID: "c1", Subject: "u1",
			IssuedAt: time.Now(), Until: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := s.Revoke(ctx, "old", "c1", time.Now().Add(-time.Minute)); err != nil {
			t.Fatal(err)
		}
		saveFamilyMember(t, s, "a-expired", "fam", time.Now().Add(-time.Minute))
		saveFamilyMember(t, s, "b-live", "fam", time.Now().Add(time.Hour))

		h := holdLock(t, s, driver, `SELECT * FROM revocations WHERE jti = 'old' FOR UPDATE`)
		cleanup := make(chan error, 1)
		go func() { cleanup <- s.Cleanup(ctx, time.Now().UTC(), time.Hour, "2000-01-01") }()
		h.awaitWaiters(1)
		family := make(chan error, 1)
		go func() { family <- s.RevokeRefreshFamily(ctx, "fam") }()
		select {
		case err := <-family:
			if err != nil {
				t.Fatalf("the family revocation: %v", err)
			}
		case <-time.After(time.Minute):
			h.release()
			t.Fatalf("the family revocation waited for the clean-up (then: %v)", <-family)
		}
		h.release()
		if err := <-cleanup; err != nil {
			t.Fatalf("the clean-up: %v", err)
		}
		if w, err := s.Watermark(ctx, "c1", "u1"); err != nil || w.IssuedUpTo <= expired.IssuedUpTo {
			t.Fatalf("the family's watermark after both: %+v (%v), want one past the expired one", w, err)
		}
	})
}

// Ending a client's tokens (its refresh tokens locked first) and revoking
// one user's consent to it (the user's refresh tokens, then the revocation
// groups of its implicit and access tokens) at once: the second waits for
// the first and both succeed (a version that revoked each of the client's
// tokens in its group, after the refresh tokens, deadlocked here).
func TestConsentRevokedWhileClientTokensEnd(t *testing.T) {
	raceConsentRevocation(t, [2]string{"fam1", "fam2"}, "ending the client's tokens", func(s *store.Store) error {
		_, err := s.RevokeClientTokens(context.Background(), "c1", admin)
		return err
	})
}

// Revoking a user's consent (the user's refresh tokens, then the user's
// revocation groups) while a family revocation of that user (the family's
// refresh tokens, then the group) waits for one of them: the consent
// revocation waits behind the family one and both succeed (taking the
// groups before the refresh tokens deadlocked here).
func TestConsentRevokedDuringAFamilyRevocation(t *testing.T) {
	raceConsentRevocation(t, [2]string{"fam", "fam"}, "revoking the family", func(s *store.Store) error {
		return s.RevokeRefreshFamily(context.Background(), "fam")
	})
}

// raceConsentRevocation gives user u1 of client c1 an implicit token and two
// refresh tokens (a-first and b-second, of families), holds b-second, starts
// first (which waits for it), then revokes u1's consent (which waits behind
// first), lets both go and checks both succeed.
func raceConsentRevocation(t *testing.T, families [2]string, what string, first func(*store.Store) error) {
	storetest.Each(t, func(t *testing.T, driver string) {
		s := storetest.Open(t, driver)
		createTenants(t, s, store.DefaultTenantID)
		createClients(t, s, store.AuthUser, "c1")
		if err := s.DB.Create(&store.ImplicitToken{JTI: "implicit", ClientID: "c1", UserID: "u1",
			IssuedAt: time.Now().Unix(), ExpiresAt: time.Now().Add(time.Hour)}).Error; err != nil {
			t.Fatal(err)
		}
		saveFamilyMember(t, s, "a-first", families[0], time.Now().Add(time.Hour))
		saveFamilyMember(t, s, "b-second", families[1], time.Now().Add(time.Hour))

		h := holdLock(t, s, driver, `SELECT * FROM refresh_tokens WHERE digest = 'b-second' FOR UPDATE`)
		firstDone := make(chan error, 1)
		go func() { firstDone <- first(s) }()
		h.awaitWaiters(1)
		consent := make(chan error, 1)
		go func() { consent <- s.RevokeConsent(context.Background(), "u1", "c1", admin) }()
		h.awaitWaiters(2)
		h.release()
		if err := <-firstDone; err != nil {
			t.Errorf("%s: %v", what, err)
		}
		if err := <-consent; err != nil && err != store.ErrNotFound {
			t.Errorf("revoking the consent: %v", err)
		}
	})
}
