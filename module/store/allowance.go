package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// DailyUsage counts the token seconds one subject got from one client on one
// day (Nitro's maximum duration per day). Old days are deleted.
type DailyUsage struct {
	ClientID    string `gorm:"primaryKey;size:64"`
	Subject     string `gorm:"primaryKey;size:64"`
	Day         string `gorm:"primaryKey;size:10"`
	SecondsUsed int64  `gorm:"not null"`
	UpdatedAt   time.Time
}

// ConsumeAllowance takes up to want seconds from a subject's daily allowance
// of capSeconds with one client and returns what was granted (0 when the day
// is used up). The row is locked so every node enforces the same total.
// ErrNotFound: the client is gone (deleted while it asked).
func (s *Store) ConsumeAllowance(ctx context.Context, clientID, subject, day string, want, capSeconds int64) (int64, error) {
	var granted int64
	err := s.tx(ctx, func(tx *gorm.DB) error {
		// The client's row first, key-shared: a delete waits for this
		// count and then removes its row with the others, or has removed
		// the client already. Without it a delete could remove the row
		// between the insert and the locked read (an error for the
		// caller), or leave behind a row counted after it. KEY SHARE, the
		// lock a foreign key check takes, blocks only a delete (or a key
		// change): edits of the client's settings, rotations and
		// revocations do not wait for the count, nor it for them.
		if err := tx.Model(&Client{}).Clauses(clause.Locking{Strength: "KEY SHARE"}).
			Select("id").Where("id = ?", clientID).Take(&Client{}).Error; err != nil {
			return err
		}
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

// RefundAllowance gives back seconds of a day's allowance charged for a
// token that was never handed out (its grant's save failed, or its caller
// hung up and the grant was taken back), never below zero: a retry then gets
// what the failed attempt took, instead of the day running short by it.
func (s *Store) RefundAllowance(ctx context.Context, clientID, subject, day string, seconds int64) error {
	return s.DB.WithContext(ctx).Model(&DailyUsage{}).
		Where("client_id = ? AND subject = ? AND day = ?", clientID, subject, day).
		Updates(map[string]any{
			"seconds_used": gorm.Expr("CASE WHEN seconds_used > ? THEN seconds_used - ? ELSE 0 END", seconds, seconds),
			"updated_at":   time.Now().UTC(),
		}).Error
}
