package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Revoke records that a token is revoked until until, the last moment it
// could still verify (its exp plus the verifier's leeway): the row, its
// ExpiresAt, is dropped then and not before.
func (s *Store) Revoke(ctx context.Context, jti, clientID string, until time.Time) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return revoke(tx, Revocation{JTI: jti, ClientID: clientID, ExpiresAt: until.UTC()})
	})
}

// revoke writes a revocation and its change-feed entry inside tx; revoking
// a token twice is not an error.
func revoke(tx *gorm.DB, r Revocation) error {
	if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&r).Error; err != nil {
		return err
	}
	return notify(tx, ChangeRevoke, r.ClientID, r.JTI)
}

// ActiveRevocations lists revocations of tokens that can still verify.
func (s *Store) ActiveRevocations(ctx context.Context, now time.Time) ([]Revocation, error) {
	var out []Revocation
	return out, translate(s.DB.WithContext(ctx).Where("expires_at > ?", now).Find(&out).Error)
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

// Notify appends an entry to the change feed on its own.
func (s *Store) Notify(ctx context.Context, kind, clientID, jti string) error {
	return s.tx(ctx, func(tx *gorm.DB) error { return notify(tx, kind, clientID, jti) })
}

// ChangesAfter returns feed entries with an id above after, oldest first.
func (s *Store) ChangesAfter(ctx context.Context, after uint64, limit int) ([]Change, error) {
	var out []Change
	err := s.DB.WithContext(ctx).Where("id > ?", after).Order("id").Limit(limit).Find(&out).Error
	return out, translate(err)
}

// LastChangeID returns the newest feed id (0 when the feed is empty).
func (s *Store) LastChangeID(ctx context.Context) (uint64, error) {
	var id *uint64
	err := s.DB.WithContext(ctx).Model(&Change{}).Select("MAX(id)").Scan(&id).Error
	if err != nil || id == nil {
		return 0, translate(err)
	}
	return *id, nil
}

// Cleanup deletes what is no longer needed: revocations of tokens that can
// no longer verify, usage rows of past days, old feed entries, keys that no
// longer verify, expired authorization codes and refresh tokens, and
// sign-outs of sessions that have expired anyway.
// It keeps every table bounded whatever the number of tokens issued.
func (s *Store) Cleanup(ctx context.Context, now time.Time, feedKeep time.Duration, oldestUsageDay string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("expires_at <= ?", now).Delete(&Revocation{}).Error; err != nil {
			return err
		}
		if err := tx.Where("created_at < ?", now.Add(-feedKeep)).Delete(&Change{}).Error; err != nil {
			return err
		}
		if err := tx.Where("day < ?", oldestUsageDay).Delete(&DailyUsage{}).Error; err != nil {
			return err
		}
		if err := cleanupAuthorize(tx, now); err != nil {
			return err
		}
		if err := cleanupSessions(tx, now); err != nil {
			return err
		}
		return tx.Where("verify_until IS NOT NULL AND verify_until <= ?", now).Delete(&SigningKey{}).Error
	})
}

// ListAudit returns one page of the audit log, newest first.
func (s *Store) ListAudit(ctx context.Context, tenantID string, p Page) ([]AuditEntry, int64, error) {
	q := s.DB.WithContext(ctx).Model(&AuditEntry{})
	if tenantID != "" {
		q = q.Where("tenant_id = ?", tenantID)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var out []AuditEntry
	return out, total, translate(p.apply(q.Order("id DESC")).Find(&out).Error)
}

// Audit writes an audit row on its own (for actions with no other write).
func (s *Store) Audit(ctx context.Context, a Actor, action, target, detail string) error {
	return s.tx(ctx, func(tx *gorm.DB) error { return audit(tx, a, action, target, detail) })
}

// ConsumeAllowance takes up to want seconds from a subject's daily allowance
// of capSeconds with one client and returns what was granted (0 when the day
// is used up). The row is locked so every node enforces the same total.
func (s *Store) ConsumeAllowance(ctx context.Context, clientID, subject, day string, want, capSeconds int64) (int64, error) {
	var granted int64
	err := s.tx(ctx, func(tx *gorm.DB) error {
		row := DailyUsage{ClientID: clientID, Subject: subject, Day: day, UpdatedAt: time.Now().UTC()}
		if err := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error; err != nil {
			return err
		}
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).
			Take(&row, "client_id = ? AND subject = ? AND day = ?", clientID, subject, day).Error
		if err != nil {
			return err
		}
		granted = min(want, capSeconds-row.SecondsUsed)
		if granted <= 0 {
			granted = 0
			return nil
		}
		return tx.Model(&DailyUsage{}).
			Where("client_id = ? AND subject = ? AND day = ?", clientID, subject, day).
			Updates(map[string]any{"seconds_used": row.SecondsUsed + granted, "updated_at": time.Now().UTC()}).Error
	})
	return granted, err
}
