package store

import (
	"errors"
	"time"

	"gorm.io/gorm"
)

// GrantsKeptPerUser bounds what one user's browser can make one client hold
// at once: implicit-grant tokens still valid, codes not yet redeemed, and
// refresh grants still live. Each is a row kept until its token or grant
// expires (an hour, or 30 days for a refresh grant), and ending the user's
// grants (a disable, a password reset, a consent revoked) reads them all in
// one transaction: a signed-in user requesting tokens in a loop made 1,000
// rows a second, and the disable that followed held the database for
// minutes. Past it the authorize endpoint refuses (ErrTooManyGrants) an
// implicit token until some expire, and a new code forgets the oldest
// pending code and ends the user's oldest refresh grant of the client
// (roomForCodeGrant).
const GrantsKeptPerUser = 1000

// ErrTooManyGrants means the user already holds GrantsKeptPerUser live
// grants of one kind with the client.
var ErrTooManyGrants = errors.New("the user holds too many live grants of this application")

// implicitTokensAtBound is ErrTooManyGrants when g's user holds GrantsKeptPerUser
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

// roomForCodeGrant makes room for one more code of g's client and user:
// when GrantsKeptPerUser codes are pending, the one that expires first is
// forgotten (a pending code produced nothing yet; refusing let any site's
// page, navigating the signed-in user's browser to the authorize URL of an
// app they approved, fill the bound and lock them out of that app until
// the codes expired: protocol red team; a code the user is redeeming is a
// thousand codes younger than that one), and when as many refresh grants
// are live, the oldest one revoked. One per code: ending several here would wait for a second
// family's rows while holding the user's revocation lock, which the writers
// of a single family take the other way round (a deadlock on PostgreSQL);
// redeeming pending codes can pass the bound, and each new code then takes
// one grant back. Refusing there would lock a user out for
// the 30 days a grant lives, where abandoned grants pile up (a code flow in
// every tab or on every device, never revoked); the oldest is the one most
// likely abandoned, as providers that bound refresh tokens per user do.
func roomForCodeGrant(tx *gorm.DB, g Grant, now time.Time) error {
	var codes int64
	live := "client_id = ? AND user_id = ? AND used_at IS NULL AND expires_at > ?"
	if err := tx.Model(&AuthCode{}).Where(live, g.ClientID, g.UserID, now.UTC()).Count(&codes).Error; err != nil {
		return err
	}
	if codes >= GrantsKeptPerUser {
		var oldest []string
		err := tx.Model(&AuthCode{}).Where(live, g.ClientID, g.UserID, now.UTC()).
			Order("expires_at, digest").Limit(1).Pluck("digest", &oldest).Error
		if err != nil {
			return err
		}
		if err := tx.Where("digest IN ? AND used_at IS NULL", oldest).Delete(&AuthCode{}).Error; err != nil {
			return err
		}
	}
	var families []string
	err := tx.Model(&RefreshToken{}).Where(live, g.ClientID, g.UserID, now.UTC()).
		Order("created_at DESC").Offset(GrantsKeptPerUser-1).Limit(1).Pluck("family_id", &families).Error
	if err != nil {
		return err
	}
	for _, f := range families {
		if _, err := revokeFamily(tx, f, now); err != nil {
			return err
		}
	}
	return nil
}
