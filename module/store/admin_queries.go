package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// clientSettings are the columns an admin edits. The secret, the owner and
// the disabled flag are left out: they change only through their own
// methods, so an edit that read the row earlier can never undo a rotation or
// a disable committed in between.
var clientSettings = []string{
	"name", "tenant_id", "auth_method", "allowed_scopes", "default_scopes", "redirect_uris",
	"token_lifetime_minutes", "max_minutes_per_day", "allow_user_tokens",
	"connect_as_user_id", "allow_impersonation", "disable_implicit", "public", "updated_at",
}

// UpdateClientSettings saves the admin-editable settings of c, but only
// while the client is still in inTenant (the tenant the caller was allowed
// to manage when it read the row); otherwise it is ErrNotFound. A duplicate
// name is ErrConflict.
func (s *Store) UpdateClientSettings(ctx context.Context, c *Client, inTenant string, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		c.UpdatedAt = time.Now().UTC()
		res := tx.Model(&Client{}).Where("id = ? AND tenant_id = ?", c.ID, inTenant).
			Select(clientSettings).Updates(c)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if err := notify(tx, ChangeClient, c.ID, ""); err != nil {
			return err
		}
		return audit(tx, a, "client.update", c.ID, c.Name)
	})
}

// userProfile are the columns an admin edits; the password hash and the
// username are never overwritten by an admin edit.
var userProfile = []string{"display_name", "email", "admin", "super_admin", "disabled", "updated_at"}

// UpdateUserProfile saves the admin-editable fields of u, but only while the
// user is in inTenant (otherwise ErrNotFound), and tells other nodes. action
// names the change in the audit log (user.update, user.disable...). A
// disabled user's grants end (revokeUserGrants), so enabling the user again
// does not bring back refresh tokens a thief may hold.
func (s *Store) UpdateUserProfile(ctx context.Context, u *User, inTenant string, a Actor, action string) error {
	return s.tx(ctx, func(tx *gorm.DB) error { return saveProfile(tx, u, inTenant, a, action) })
}

// ChangeUser is an admin's change to a user, in one transaction: it reads
// the user locked, only while in inTenant (otherwise ErrNotFound), lets
// change decide on the row as it is now and edit its profile (its error,
// such as "you may not", is returned as is and nothing is written), then
// saves the profile with the action change names and, when password is not
// nil, the new password hash (SetUserPassword), each with its audit row and
// change-feed entry. Deciding on the locked row means a user promoted a
// moment ago by someone else cannot be changed by a caller who may change
// only the user as it was.
func (s *Store) ChangeUser(ctx context.Context, id, inTenant string, a Actor, password *string, change func(u *User) (string, error)) (*User, error) {
	var u User
	err := s.tx(ctx, func(tx *gorm.DB) error {
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ? AND tenant_id = ?", id, inTenant).Take(&u).Error
		if err != nil {
			return err
		}
		action, err := change(&u)
		if err != nil {
			return err
		}
		if err := saveProfile(tx, &u, inTenant, a, action); err != nil {
			return err
		}
		if password == nil {
			return nil
		}
		u.PasswordHash = *password
		return savePassword(tx, u.ID, inTenant, *password, a)
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

func saveProfile(tx *gorm.DB, u *User, inTenant string, a Actor, action string) error {
	u.UpdatedAt = time.Now().UTC()
	res := tx.Model(&User{}).Where("id = ? AND tenant_id = ?", u.ID, inTenant).
		Select(userProfile).Updates(u)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	if u.Disabled {
		if _, err := revokeUserGrants(tx, u.ID, "", u.UpdatedAt); err != nil {
			return err
		}
	}
	if err := notify(tx, ChangeUser, "", u.ID); err != nil { // user changes carry the user id in jti
		return err
	}
	return audit(tx, a, action, u.ID, u.Username)
}
