package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Revocation keeps a revoked token's id until the token can no longer
// verify (ExpiresAt: its exp plus the verifier's leeway, see Revoke).
type Revocation struct {
	JTI       string    `gorm:"column:jti;primaryKey;size:64"`
	ClientID  string    `gorm:"size:64;not null;index"`
	ExpiresAt time.Time `gorm:"not null;index"`
}

// Revoke records that a token is revoked until until, the last moment it
// could still verify (its exp plus the verifier's leeway): the row, its
// ExpiresAt, is dropped then and not before.
//
// A client with s.RevocationCap revocations kept (DefaultRevocationCap
// when 0; Cleanup drops those of expired tokens) that revokes one more ends
// all its tokens instead, as RFC 7009 §2.1 lets a server revoke related tokens: its
// token generation moves on, as with RevokeClientTokens, and its
// revocation rows, which that generation makes redundant, are deleted
// (nodes reload theirs). Each revocation is a row on disk and an entry in
// every node's memory until its token expires, a year for the longest
// lifetimes, and a client may mint and revoke as fast as it likes: without
// the cap one client could grow both without bound.
func (s *Store) Revoke(ctx context.Context, jti, clientID string, until time.Time) error {
	limit := int64(s.RevocationCap)
	if limit <= 0 {
		limit = DefaultRevocationCap
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		// A counter on the client's row (which the update locks, so the
		// cap holds under concurrent revocations), rather than a count of
		// its rows: that would cost a flood of revocations more the
		// nearer it came to the cap.
		res := tx.Model(&Client{}).Where("id = ?", clientID).
			UpdateColumn("revocations_kept", gorm.Expr("revocations_kept + 1"))
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 1 {
			var c Client
			if err := tx.Select("id", "tenant_id", "revocations_kept").Where("id = ?", clientID).Take(&c).Error; err != nil {
				return err
			}
			if c.RevocationsKept > limit {
				return endTokensAtRevocationCap(tx, &c, limit)
			}
		}
		return revoke(tx, Revocation{JTI: jti, ClientID: clientID, ExpiresAt: until.UTC()})
	})
}

// DefaultRevocationCap is Store.RevocationCap's default.
const DefaultRevocationCap = 10_000

// endTokensAtRevocationCap ends every token of client c and deletes its
// revocations (see Revoke), audited in its tenant.
func endTokensAtRevocationCap(tx *gorm.DB, c *Client, limit int64) error {
	err := tx.Model(&Client{}).Where("id = ?", c.ID).UpdateColumns(map[string]any{
		"token_generation": gorm.Expr("token_generation + 1"), "revocations_kept": 0}).Error
	if err != nil {
		return err
	}
	if err := tx.Where("client_id = ?", c.ID).Delete(&Revocation{}).Error; err != nil {
		return err
	}
	if err := notify(tx, Change{Kind: ChangeClient, ClientID: c.ID}); err != nil {
		return err
	}
	if err := notify(tx, Change{Kind: ChangeRevocations, ClientID: c.ID}); err != nil {
		return err
	}
	return audit(tx, Actor{Principal: c.ID, TenantID: c.TenantID}, "client.revoke_tokens", c.ID,
		fmt.Sprintf("revocation cap: %d revoked tokens still valid", limit))
}

// revoke writes a revocation and its change-feed entry inside tx; revoking
// a token twice is not an error.
func revoke(tx *gorm.DB, r Revocation) error {
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&r).Error; err != nil {
		return err
	}
	return notify(tx, Change{Kind: ChangeRevoke, ClientID: r.ClientID, JTI: r.JTI})
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
