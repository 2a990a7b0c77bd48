package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// RevocationsKeptPerSubject bounds the revocations kept for the tokens one
// client issued for one subject. Without a bound, a client that mints and
// revokes in a loop (or a user of a public client, with their own tokens)
// would add a row, and an entry in every node's memory, per token for as
// long as its tokens live (a year at most). Past the bound, a watermark
// replaces them: every token of that client and subject issued up to a
// second before the newest one revoked is ended, which is what the
// revocations said about those revoked and ends the subject's other tokens
// of that age with them. Nobody else's tokens are touched, and only the
// client or the subject's own tokens can revoke tokens of the group.
const RevocationsKeptPerSubject = 1000

// RevocationWatermark ends every token ClientID issued for Subject whose
// iat is IssuedUpTo (Unix seconds) or earlier. Kept until no such token
// could still verify.
type RevocationWatermark struct {
	ClientID   string    `gorm:"primaryKey;size:64"`
	Subject    string    `gorm:"primaryKey;size:64"`
	IssuedUpTo int64     `gorm:"not null"`
	ExpiresAt  time.Time `gorm:"not null;index"`
}

// RevokedToken names a token RevokeToken revokes.
type RevokedToken struct {
	JTI, ClientID string
	// Subject is whom the token speaks for: its user, or its client for a
	// 2-legged token.
	Subject string
	// IssuedAt is the token's iat.
	IssuedAt time.Time
	// Until is the last moment the token could verify (exp plus leeway).
	Until time.Time
	// Longest is how long after its iat any token of the client could still
	// verify (the longest lifetime plus the leeway): how long a watermark
	// covering this token is kept.
	Longest time.Duration
}

// RevokeToken revokes a token as Revoke does, grouped by its client and
// subject; past RevocationsKeptPerSubject revocations in the group, a
// watermark replaces them (see RevocationsKeptPerSubject). A token revoked
// twice is counted once.
func (s *Store) RevokeToken(ctx context.Context, t RevokedToken) error {
	iat := t.IssuedAt.Unix()
	return s.tx(ctx, func(tx *gorm.DB) error {
		r := Revocation{JTI: t.JTI, ClientID: t.ClientID, Subject: t.Subject, IssuedAt: iat, ExpiresAt: t.Until.UTC()}
		res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&r)
		if res.Error != nil {
			return res.Error
		}
		if err := notify(tx, Change{Kind: ChangeRevoke, ClientID: r.ClientID, JTI: r.JTI}); err != nil {
			return err
		}
		if res.RowsAffected == 0 || t.Subject == "" || iat <= 0 {
			return nil
		}
		return boundRevocations(tx, t.ClientID, t.Subject, t.Longest, s.keptPerSubject())
	})
}

// SetRevocationsKept changes the bound of RevocationsKeptPerSubject for
// this store (tests exercise it with a small one); 0 restores it.
func (s *Store) SetRevocationsKept(n int) { s.revocationsKept.Store(int64(n)) }

func (s *Store) keptPerSubject() int64 {
	if n := s.revocationsKept.Load(); n > 0 {
		return n
	}
	return RevocationsKeptPerSubject
}

// boundRevocations replaces the revocations of a client's tokens for one
// subject by a watermark when there are more than kept of them. Those of the newest second stay rows, so that tokens issued in
// that second and not revoked keep working.
func boundRevocations(tx *gorm.DB, clientID, subject string, longest time.Duration, kept int64) error {
	group := func() *gorm.DB {
		return tx.Model(&Revocation{}).Where("client_id = ? AND subject = ? AND issued_at > 0", clientID, subject)
	}
	var n int64
	if err := group().Where("expires_at > ?", time.Now().UTC()).Count(&n).Error; err != nil {
		return err
	}
	if n <= kept {
		return nil
	}
	var newest int64
	if err := group().Select("MAX(issued_at)").Scan(&newest).Error; err != nil {
		return err
	}
	upTo := newest - 1
	// The row first, then its lock: concurrent revocations of the group
	// move the watermark one after the other, never back.
	w := RevocationWatermark{ClientID: clientID, Subject: subject, ExpiresAt: time.Unix(upTo, 0).Add(longest).UTC()}
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&w).Error; err != nil {
		return err
	}
	if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).
		Where("client_id = ? AND subject = ?", clientID, subject).Take(&w).Error; err != nil {
		return err
	}
	if upTo <= w.IssuedUpTo {
		// Another revocation moved it this far already; what it covers
		// needs no row (nodes that know the watermark hold none of them).
		return group().Where("issued_at <= ?", w.IssuedUpTo).Delete(&Revocation{}).Error
	}
	expires := time.Unix(upTo, 0).Add(longest).UTC()
	if expires.Before(w.ExpiresAt) {
		expires = w.ExpiresAt
	}
	err := tx.Model(&RevocationWatermark{}).Where("client_id = ? AND subject = ?", clientID, subject).
		Updates(map[string]any{"issued_up_to": upTo, "expires_at": expires}).Error
	if err != nil {
		return err
	}
	if err := group().Where("issued_at <= ?", upTo).Delete(&Revocation{}).Error; err != nil {
		return err
	}
	return notify(tx, Change{Kind: ChangeWatermark, ClientID: clientID, UserID: subject})
}

// ActiveWatermarks lists the watermarks still needed at now.
func (s *Store) ActiveWatermarks(ctx context.Context, now time.Time) ([]RevocationWatermark, error) {
	var out []RevocationWatermark
	return out, translate(s.DB.WithContext(ctx).Where("expires_at > ?", now.UTC()).Find(&out).Error)
}

// Watermark returns the watermark of a client's tokens for subject
// (ErrNotFound when there is none).
func (s *Store) Watermark(ctx context.Context, clientID, subject string) (*RevocationWatermark, error) {
	var w RevocationWatermark
	err := s.DB.WithContext(ctx).Where("client_id = ? AND subject = ?", clientID, subject).Take(&w).Error
	if err != nil {
		return nil, translate(err)
	}
	return &w, nil
}

// RevocationCount counts the revocations kept for a client's tokens for
// subject (made through RevokeToken).
func (s *Store) RevocationCount(ctx context.Context, clientID, subject string) (int64, error) {
	var n int64
	err := s.DB.WithContext(ctx).Model(&Revocation{}).Where("client_id = ? AND subject = ?", clientID, subject).Count(&n).Error
	return n, translate(err)
}
