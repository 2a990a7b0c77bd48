package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ErrGrantEnded means the user's sign-in or consent ended while a grant
// was being handed out: a password reset, a change to the user, a disable
// or a revoked consent committed after the request checked them.
var ErrGrantEnded = errors.New("the user's sign-in or consent ended meanwhile")

// Grant is what the authorize endpoint hands out a code or an implicit
// token on: a user who approved Scopes for the client, signed in as they
// were at UserVersion (their UpdatedAt as the sign-in read it with the
// password it checked: web.Session.UserVersion).
type Grant struct {
	UserID, ClientID string
	Scopes           []string
	UserVersion      time.Time
}

// grantStands checks g inside tx with the user's and the consent's rows
// locked: the user exists, is enabled and unchanged since the sign-in read
// them (UserVersion), and
// the consent still covers the scopes. A password reset or a disable
// updates the user's row, and a revoked consent deletes the consent's,
// before revokeUserGrants reads what to end, each in its own transaction:
// so it either committed before these reads, which then refuse, or waits
// for this transaction and then finds what it saves (the code or the
// implicit token's record) and ends it. The request's own checks read a
// node's caches, which may lag the database.
func grantStands(tx *gorm.DB, g Grant) error {
	var u User
	err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", g.UserID).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrGrantEnded
	}
	if err != nil {
		return err
	}
	// The version, not the time the session started: a reset committing
	// while the sign-in checked the old password is older than the
	// session, and would pass a comparison of times.
	if u.Disabled || !u.UpdatedAt.Equal(g.UserVersion) {
		return ErrGrantEnded
	}
	var c Consent
	err = tx.Clauses(clause.Locking{Strength: "UPDATE"}).
		Where("user_id = ? AND client_id = ?", g.UserID, g.ClientID).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrGrantEnded
	}
	if err != nil {
		return err
	}
	for _, s := range g.Scopes {
		if !c.Scopes.Contains(s) {
			return ErrGrantEnded
		}
	}
	return nil
}

// SaveGrantedAuthCode stores a new authorization code for grant g, or
// answers ErrGrantEnded when g no longer stands (grantStands).
func (s *Store) SaveGrantedAuthCode(ctx context.Context, c *AuthCode, g Grant) error {
	c.ExpiresAt = c.ExpiresAt.UTC()
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := grantStands(tx, g); err != nil {
			return err
		}
		if err := roomForCodeGrant(tx, g, time.Now()); err != nil {
			return err
		}
		return tx.Create(c).Error
	})
}

// RecordImplicitToken records token jti of grant g, issued at issuedAt
// (its iat) and valid until until (exp plus the leeway), or answers
// ErrGrantEnded when g no longer stands (grantStands). Call it before the
// token is signed: a grant revoked after this returns ends the token.
func (s *Store) RecordImplicitToken(ctx context.Context, jti string, g Grant, issuedAt, until time.Time) error {
	row := ImplicitToken{JTI: jti, ClientID: g.ClientID, UserID: g.UserID, IssuedAt: issuedAt.Unix(), ExpiresAt: until.UTC()}
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := grantStands(tx, g); err != nil {
			return err
		}
		if err := implicitTokensAtBound(tx, g, time.Now()); err != nil {
			return err
		}
		return tx.Create(&row).Error
	})
}
