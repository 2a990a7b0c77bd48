package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// SigningKey is one Ed25519 key of the key ring. The newest key that is not
// retired signs; every key verifies until VerifyUntil.
type SigningKey struct {
	KID               string `gorm:"column:kid;primaryKey;size:64"`
	Algorithm         string `gorm:"size:16;not null"`
	PublicKey         []byte `gorm:"not null"`
	PrivateCiphertext []byte `gorm:"not null"`
	CreatedAt         time.Time
	RetiredAt         *time.Time
	VerifyUntil       *time.Time
}

// ListSigningKeys returns every key that still verifies, newest first.
func (s *Store) ListSigningKeys(ctx context.Context, now time.Time) ([]SigningKey, error) {
	var keys []SigningKey
	err := s.DB.WithContext(ctx).
		Where("verify_until IS NULL OR verify_until > ?", now).
		Order("created_at DESC, kid DESC").Find(&keys).Error
	return keys, translate(err)
}

// AddSigningKey stores a new key and retires the others: they stop signing
// now and stop verifying at verifyOldUntil.
func (s *Store) AddSigningKey(ctx context.Context, k *SigningKey, verifyOldUntil time.Time, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		now := time.Now().UTC()
		err := tx.Model(&SigningKey{}).Where("retired_at IS NULL").
			Updates(map[string]any{"retired_at": now, "verify_until": verifyOldUntil}).Error
		if err != nil {
			return err
		}
		if err := tx.Create(k).Error; err != nil {
			return err
		}
		if err := notify(tx, Change{Kind: ChangeKeys}); err != nil {
			return err
		}
		return audit(tx, a, "keys.rotate", k.KID, "")
	})
}

// AddFirstSigningKey stores k only when no signing key exists yet, so nodes
// starting together end up sharing one key. It reports whether k was stored.
func (s *Store) AddFirstSigningKey(ctx context.Context, k *SigningKey) (bool, error) {
	stored := false
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if s.Driver == Postgres {
			if err := tx.Exec("SELECT pg_advisory_xact_lock(7262352)").Error; err != nil {
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
