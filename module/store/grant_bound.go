package store

import (
	"errors"
	"time"

	"gorm.io/gorm"
)

// GrantsKeptPerUser bounds what one user's browser can make one client hold
// at once: implicit-grant tokens still valid, and codes not yet redeemed
// plus refresh grants still live. Each is a row kept until its token or
// grant expires (an hour, or 30 days for a refresh grant), and ending the
// user's grants (a disable, a password reset, a consent revoked) reads
// them all in one transaction: a signed-in user requesting tokens in a
// loop made 1,000 rows a second, and the disable that followed held the
// database for minutes. No person's use comes near it; past it the
// authorize endpoint refuses (ErrTooManyGrants) until some expire or an
// admin ends the user's grants.
const GrantsKeptPerUser = 1000

// ErrTooManyGrants means the user already holds GrantsKeptPerUser live
// grants of one kind with the client.
var ErrTooManyGrants = errors.New("the user holds too many live grants of this application")

// implicitTokensAtBound reports whether g's user holds GrantsKeptPerUser
// implicit tokens of g's client that can still verify at now.
func implicitTokensAtBound(tx *gorm.DB, g Grant, now time.Time) error {
	var n int64
	err := tx.Model(&ImplicitToken{}).Where("client_id = ? AND user_id = ? AND expires_at > ?", g.ClientID, g.UserID, now.UTC()).
		Count(&n).Error
	if err == nil && n >= GrantsKeptPerUser {
		return ErrTooManyGrants
	}
	return err
}

// codeGrantsAtBound reports whether g's user holds GrantsKeptPerUser codes
// not yet redeemed plus refresh grants (their current tokens) with g's
// client, live at now.
func codeGrantsAtBound(tx *gorm.DB, g Grant, now time.Time) error {
	var codes, refresh int64
	live := "client_id = ? AND user_id = ? AND used_at IS NULL AND expires_at > ?"
	if err := tx.Model(&AuthCode{}).Where(live, g.ClientID, g.UserID, now.UTC()).Count(&codes).Error; err != nil {
		return err
	}
	if err := tx.Model(&RefreshToken{}).Where(live, g.ClientID, g.UserID, now.UTC()).Count(&refresh).Error; err != nil {
		return err
	}
	if codes+refresh >= GrantsKeptPerUser {
		return ErrTooManyGrants
	}
	return nil
}
