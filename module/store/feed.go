package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Change is one entry of the change feed other gateway nodes poll to drop
// what they cached about a client or a token. Entries are trimmed after a
// few minutes.
type Change struct {
	ID        uint64    `gorm:"primaryKey;autoIncrement"`
	Kind      string    `gorm:"size:32;not null"`
	ClientID  string    `gorm:"size:64"`
	JTI       string    `gorm:"column:jti;size:64"`
	CreatedAt time.Time `gorm:"index"`
}

// Change kinds.
const (
	ChangeClient  = "client"  // a client was updated, disabled, restored, rotated or deleted
	ChangeRevoke  = "revoke"  // a token was revoked
	ChangeKeys    = "keys"    // the signing key ring changed
	ChangeUser    = "user"    // a user was disabled or changed
	ChangeGeneral = "general" // anything else cached (apps, connections)
)

// Notify appends an entry to the change feed on its own.
func (s *Store) Notify(ctx context.Context, kind, clientID, jti string) error {
	return s.tx(ctx, func(tx *gorm.DB) error { return notify(tx, kind, clientID, jti) })
}

// notify appends to the change feed inside tx.
func notify(tx *gorm.DB, kind, clientID, jti string) error {
	return tx.Create(&Change{Kind: kind, ClientID: clientID, JTI: jti, CreatedAt: time.Now().UTC()}).Error
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
