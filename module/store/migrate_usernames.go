package store

import (
	"golang.org/x/text/unicode/norm"
	"gorm.io/gorm"
)

// composeUsernames stores in NFC the usernames builds from before NFC
// storage kept as typed (é as e + U+0301): lookups normalise what they are
// given, so such a user could no longer be found by name, with either
// spelling. Only names holding a combining diacritical mark (U+0300 to
// U+036F, what decomposed Latin, Greek and Cyrillic letters carry) are
// read, so a start reads none on a database already composed, whatever its
// scripts. A name whose NFC form another user of the tenant already has
// stays as it is: renaming it would merge two accounts, which is the
// admins' call.
func composeUsernames(tx *gorm.DB) error {
	q := tx.Model(&User{})
	if tx.Dialector.Name() == Postgres {
		q = q.Where("username ~ '[\u0300-\u036f]'")
	} else {
		q = q.Where("username GLOB '*[\u0300-\u036f]*'")
	}
	var users []User
	if err := q.Select("id", "tenant_id", "username").Find(&users).Error; err != nil {
		return err
	}
	for _, u := range users {
		composed := norm.NFC.String(u.Username)
		if composed == u.Username {
			continue
		}
		var taken int64
		if err := tx.Model(&User{}).Where("tenant_id = ? AND username = ?", u.TenantID, composed).Count(&taken).Error; err != nil {
			return err
		}
		if taken > 0 {
			continue
		}
		if err := tx.Model(&User{}).Where("id = ?", u.ID).Update("username", composed).Error; err != nil {
			return err
		}
	}
	return nil
}
