package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Revocation keeps a revoked token's id until the token can no longer
// verify (ExpiresAt: its exp plus the verifier's leeway, see Revoke).
type Revocation struct {
	JTI       string    `gorm:"column:jti;primaryKey;size:64"`
	ClientID  string    `gorm:"size:64;not null;index;index:idx_revocations_client_subject,priority:1"`
	ExpiresAt time.Time `gorm:"not null;index"`
	// Subject is whom the token spoke for (its user, or its client for a
	// 2-legged token) and IssuedAt its iat in Unix seconds, for revocations
	// made through RevokeToken; "" and 0 otherwise (and in rows written by
	// an older build). They group the revocations a watermark may replace.
	Subject  string `gorm:"size:64;not null;default:'';index:idx_revocations_client_subject,priority:2"`
	IssuedAt int64  `gorm:"not null;default:0"`
}

// Revoke records that a token is revoked until until, the last moment it
// could still verify (its exp plus the verifier's leeway): the row, its
// ExpiresAt, is dropped then and not before.
func (s *Store) Revoke(ctx context.Context, jti, clientID string, until time.Time) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return revoke(tx, Revocation{JTI: jti, ClientID: clientID, ExpiresAt: until.UTC()})
	})
}

// ActiveRevocations lists revocations of tokens that can still verify.
func (s *Store) ActiveRevocations(ctx context.Context, now time.Time) ([]Revocation, error) {
	var out []Revocation
	return out, translate(s.DB.WithContext(ctx).Where("expires_at > ?", now).Find(&out).Error)
}

// RevocationsOf returns the revocations of the given token ids that can
// still verify at now: a node applies the revocations the feed names
// without reading them all again.
func (s *Store) RevocationsOf(ctx context.Context, jtis []string, now time.Time) ([]Revocation, error) {
	var out []Revocation
	err := s.DB.WithContext(ctx).Where("jti IN ? AND expires_at > ?", jtis, now).Find(&out).Error
	return out, translate(err)
}

// IsRevoked reports whether a token id is revoked.
func (s *Store) IsRevoked(ctx context.Context, jti string) (bool, error) {
	if !findable(jti, idSize) {
		return false, nil // never stored, so never revoked
	}
	var n int64
	err := s.DB.WithContext(ctx).Model(&Revocation{}).Where("jti = ?", jti).Count(&n).Error
	return n > 0, translate(err)
}
