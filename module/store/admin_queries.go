package store

import (
	"context"
	"time"

	"gorm.io/gorm"
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
var userProfile = []string{"display_name", "email", "admin", "disabled", "updated_at"}

// UpdateUserProfile saves the admin-editable fields of u, but only while the
// user is in inTenant (otherwise ErrNotFound), and tells other nodes. action
// names the change in the audit log (user.update, user.disable...).
func (s *Store) UpdateUserProfile(ctx context.Context, u *User, inTenant string, a Actor, action string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		u.UpdatedAt = time.Now().UTC()
		res := tx.Model(&User{}).Where("id = ? AND tenant_id = ?", u.ID, inTenant).
			Select(userProfile).Updates(u)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if err := notify(tx, ChangeUser, "", u.ID); err != nil { // user changes carry the user id in jti
			return err
		}
		return audit(tx, a, action, u.ID, u.Username)
	})
}
