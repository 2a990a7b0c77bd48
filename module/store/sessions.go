package store

import (
	"context"
	"time"

	"gorm.io/gorm/clause"
)

// EndedSession is a browser session (admin console or authorize sign-in)
// signed out before it expired. Its sealed cookie stays valid to the
// cryptography until then, so a copy of it would still work: the id is kept
// here and refused until the session would have expired, then deleted by
// Cleanup. The table holds only sessions ended early and not yet expired.
type EndedSession struct {
	ID        string    `gorm:"primaryKey;size:64"`
	ExpiresAt time.Time `gorm:"not null;index"`
}

// EndSession records that the session id is over, until it would have
// expired. Ending it twice is not an error.
func (s *Store) EndSession(ctx context.Context, id string, expiresAt time.Time) error {
	row := EndedSession{ID: id, ExpiresAt: expiresAt.UTC()}
	return translate(s.DB.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&row).Error)
}

// SessionEnded reports whether the session id was signed out.
func (s *Store) SessionEnded(ctx context.Context, id string) (bool, error) {
	var n int64
	err := s.DB.WithContext(ctx).Model(&EndedSession{}).Where("id = ?", id).Count(&n).Error
	return n > 0, translate(err)
}
