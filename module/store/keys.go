package store

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// SigningKey is one Ed25519 key of the key ring. It is published (JWKS)
// from CreatedAt, signs from ActivatesAt until RetiredAt (the next key's
// activation), and verifies until VerifyUntil.
type SigningKey struct {
	KID               string `gorm:"column:kid;primaryKey;size:64"`
	Algorithm         string `gorm:"size:16;not null"`
	PublicKey         []byte `gorm:"not null"`
	PrivateCiphertext []byte `gorm:"not null"`
	CreatedAt         time.Time
	// ActivatesAt is when the key starts signing: a rotation pre-publishes
	// the next key (key_prepublish) so that JWKS caches hold it before any
	// token does. Nullable so AutoMigrate can add it to a database made
	// before pre-publication; NULL means active since CreatedAt.
	ActivatesAt *time.Time
	// RetiredAt is when the key stops signing; it may be in the future
	// while its successor is pre-published.
	RetiredAt   *time.Time
	VerifyUntil *time.Time
}

// Activation returns when k starts (or started) signing.
func (k *SigningKey) Activation() time.Time {
	if k.ActivatesAt != nil {
		return *k.ActivatesAt
	}
	return k.CreatedAt
}

// keysLock serialises the transactions that add signing keys on
// PostgreSQL, so nodes starting or rotating together agree on one ring.
const keysLock = 7262352

// ListSigningKeys returns every key that still verifies at now, newest first.
func (s *Store) ListSigningKeys(ctx context.Context, now time.Time) ([]SigningKey, error) {
	var keys []SigningKey
	err := s.DB.WithContext(ctx).
		Where("verify_until IS NULL OR verify_until > ?", now.UTC()).
		Order("created_at DESC, kid DESC").Find(&keys).Error
	return keys, translate(err)
}

// KeyRotation is one rotation of the signing keys.
type KeyRotation struct {
	// Next is the new key; Next.ActivatesAt says when it starts signing
	// (Now for an emergency rotation).
	Next *SigningKey
	// Now is the rotating node's clock, against which a key counts as pending.
	Now time.Time
	// VerifyOldUntil is when the keys Next replaces stop verifying.
	VerifyOldUntil time.Time
	// ReplacePending retires a key that is still pending instead of
	// refusing the rotation (an emergency rotation).
	ReplacePending bool
}

// PendingKeyError refuses a rotation while the previous rotation's key is
// still pre-published: replacing it would make the wait start over, and a
// node that has not yet seen the replacement could start signing with it.
type PendingKeyError struct {
	KID         string
	ActivatesAt time.Time
}

func (e *PendingKeyError) Error() string {
	return fmt.Sprintf("signing key %s is pre-published and starts signing at %s", e.KID, e.ActivatesAt.UTC().Format(time.RFC3339))
}

// Is makes a PendingKeyError an ErrConflict.
func (e *PendingKeyError) Is(target error) bool { return target == ErrConflict }

// RotateSigningKey stores rot.Next. Every key that has not retired (the one
// signing and, with ReplacePending, one still pending) retires when Next
// activates and verifies until VerifyOldUntil; the retirement is written
// now, so every node switches at Next.ActivatesAt on its own clock without
// waiting for a feed entry.
func (s *Store) RotateSigningKey(ctx context.Context, rot KeyRotation, a Actor) error {
	k, now := rot.Next, rot.Now.UTC()
	return s.tx(ctx, func(tx *gorm.DB) error {
		if s.Driver == Postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", keysLock).Error; err != nil {
				return err
			}
		}
		if !rot.ReplacePending {
			var pending []SigningKey
			err := tx.Where("retired_at IS NULL AND activates_at IS NOT NULL AND activates_at > ?", now).
				Limit(1).Find(&pending).Error
			if err != nil {
				return err
			}
			if len(pending) > 0 {
				return &PendingKeyError{KID: pending[0].KID, ActivatesAt: pending[0].Activation()}
			}
		}
		// A key that would start signing after Next (a pending key an
		// emergency replaces, or a concurrent emergency rotation's key
		// stamped by a clock a little ahead) retires as it activates: it
		// never signs, and no row says it retires before it starts.
		at := k.Activation().UTC()
		// A key that never signs (retired as it activates, by an earlier
		// emergency) is left as it is: it must not sign or verify again.
		err := tx.Model(&SigningKey{}).Where("retired_at IS NULL OR retired_at > ?", now).
			Where("NOT (retired_at IS NOT NULL AND activates_at IS NOT NULL AND retired_at <= activates_at)").
			Updates(map[string]any{
				"retired_at":   gorm.Expr("CASE WHEN activates_at IS NOT NULL AND activates_at > ? THEN activates_at ELSE ? END", at, at),
				"verify_until": rot.VerifyOldUntil.UTC(),
			}).Error
		if err != nil {
			return err
		}
		if !rot.VerifyOldUntil.After(now) {
			// retire_old: every older key stops verifying at once, those
			// retired before and still in their overlap too (a leaked
			// database or master key holds them as much as the one that
			// was signing).
			err := tx.Model(&SigningKey{}).Where("(retired_at <= ? OR retired_at <= activates_at) AND (verify_until IS NULL OR verify_until > ?)", now, now).
				Update("verify_until", rot.VerifyOldUntil.UTC()).Error
			if err != nil {
				return err
			}
		}
		if err := tx.Create(k).Error; err != nil {
			return err
		}
		if err := notify(tx, Change{Kind: ChangeKeys}); err != nil {
			return err
		}
		return audit(tx, a, "keys.rotate", k.KID, rotationDetail(rot))
	})
}

// rotationDetail says in the audit log how a rotation went.
func rotationDetail(rot KeyRotation) string {
	at := rot.Next.Activation()
	detail := "pre-published; signs from " + at.UTC().Format(time.RFC3339)
	if !at.After(rot.Now) {
		detail = "emergency; signs at once"
	}
	if !rot.VerifyOldUntil.After(rot.Now) {
		detail += "; the replaced keys stopped verifying at once"
	}
	return detail
}

// AddFirstSigningKey stores k only when no signing key exists yet, so nodes
// starting together end up sharing one key. It reports whether k was stored.
func (s *Store) AddFirstSigningKey(ctx context.Context, k *SigningKey) (bool, error) {
	stored := false
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if s.Driver == Postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", keysLock).Error; err != nil {
				return err
			}
		}
		var n int64
		if err := tx.Model(&SigningKey{}).Where("retired_at IS NULL").Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		stored = true
		return tx.Create(k).Error
	})
	return stored, err
}
