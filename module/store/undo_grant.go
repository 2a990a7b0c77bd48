package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// UndoRotation takes back a rotation whose answer never left: the refresh
// token of digest successor (never handed out) is deleted and the one of
// digest old it replaced is usable again, as if the refresh had not been
// asked for. Nothing changes when the successor is gone or was used (the
// grant was revoked meanwhile, or the answer did get out). Both rows are
// locked first, in the order revokeFamily locks a family's.
func (s *Store) UndoRotation(ctx context.Context, old, successor string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var rows []RefreshToken
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Select("digest").Order("digest").
			Where("digest IN ?", []string{old, successor}).Find(&rows).Error
		if err != nil {
			return err
		}
		res := tx.Where("digest = ? AND used_at IS NULL", successor).Delete(&RefreshToken{})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return tx.Model(&RefreshToken{}).Where("digest = ? AND used_at IS NOT NULL", old).Update("used_at", nil).Error
	})
}

// UndoRedemption takes back a code redemption whose answer never left: the
// first refresh token of the family it started (digest refresh, never
// handed out) is deleted and the code of digest code is unused again,
// expiring when it did (expires). Nothing changes when the family is not
// the code's any more or its token is gone or was used. The code is locked
// before the family's token, as RedeemAuthCode does.
func (s *Store) UndoRedemption(ctx context.Context, code, family, refresh string, expires time.Time) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var codes []AuthCode
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Select("digest").
			Where("digest = ? AND family_id = ? AND revoked_at IS NULL", code, family).Find(&codes).Error
		if err != nil || len(codes) == 0 {
			return err
		}
		res := tx.Where("digest = ? AND family_id = ? AND used_at IS NULL", refresh, family).Delete(&RefreshToken{})
		if res.Error != nil || res.RowsAffected == 0 {
			return res.Error
		}
		return tx.Model(&AuthCode{}).Where("digest = ?", code).
			Updates(map[string]any{"used_at": nil, "family_id": "", "expires_at": expires.UTC()}).Error
	})
}
