package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// User is a person (or service account) of one tenant: the user an api_key
// client connects as, the user a 3-legged token is bound to, an impersonation
// target, or an admin.
type User struct {
	ID           string `gorm:"primaryKey;size:64"`
	TenantID     string `gorm:"size:64;not null;uniqueIndex:idx_users_tenant_username,priority:1"`
	Tenant       *Tenant
	Username     string `gorm:"size:200;not null;uniqueIndex:idx_users_tenant_username,priority:2"`
	DisplayName  string `gorm:"size:200"`
	Email        string `gorm:"size:320"`
	Admin        bool
	Disabled     bool
	PasswordHash string `gorm:"size:200"`
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// CreateUser inserts a user.
func (s *Store) CreateUser(ctx context.Context, u *User, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(u).Error; err != nil {
			return err
		}
		// Every node drops the id from its cache of missing ones.
		if err := notify(tx, Change{Kind: ChangeUser, UserID: u.ID}); err != nil {
			return err
		}
		return audit(tx, a, "user.create", u.ID, u.Username)
	})
}

// GetUser loads a user.
func (s *Store) GetUser(ctx context.Context, id string) (*User, error) {
	if !findable(id, idSize) {
		return nil, ErrNotFound
	}
	var u User
	if err := s.DB.WithContext(ctx).Take(&u, "id = ?", id).Error; err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

// FindUser loads a user by id or by username within a tenant.
func (s *Store) FindUser(ctx context.Context, tenantID, idOrName string) (*User, error) {
	if !findable(tenantID, idSize) || !findable(idOrName, nameSize) { // a username may be longer than an id
		return nil, ErrNotFound
	}
	var u User
	err := s.DB.WithContext(ctx).
		Where("tenant_id = ? AND (id = ? OR username = ?)", tenantID, idOrName, idOrName).
		Take(&u).Error
	if err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

// ListUsers returns one page of a tenant's users (all tenants when empty).
func (s *Store) ListUsers(ctx context.Context, tenantID string, p Page) ([]User, int64, error) {
	q := s.DB.WithContext(ctx).Model(&User{})
	if tenantID != "" {
		q = q.Where("tenant_id = ?", tenantID)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var out []User
	return out, total, translate(p.apply(q.Order("created_at, id")).Find(&out).Error)
}

// UpdateUser saves a user's fields and tells other nodes.
func (s *Store) UpdateUser(ctx context.Context, u *User, a Actor, action string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		u.UpdatedAt = time.Now().UTC()
		res := tx.Model(&User{}).Where("id = ?", u.ID).Select("*").Omit("created_at").Updates(u)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if err := notify(tx, Change{Kind: ChangeUser, UserID: u.ID}); err != nil {
			return err
		}
		return audit(tx, a, action, u.ID, u.Username)
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
		if err := notify(tx, Change{Kind: ChangeUser, UserID: u.ID}); err != nil {
			return err
		}
		return audit(tx, a, action, u.ID, u.Username)
	})
}

// SetUserPassword replaces a user's password hash (empty: the user cannot
// sign in with a password), only while the user is in inTenant (otherwise
// ErrNotFound). The change is audited without the hash.
func (s *Store) SetUserPassword(ctx context.Context, userID, inTenant, hash string, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Model(&User{}).Where("id = ? AND tenant_id = ?", userID, inTenant).
			Updates(map[string]any{"password_hash": hash, "updated_at": time.Now().UTC()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if err := notify(tx, Change{Kind: ChangeUser, UserID: userID}); err != nil {
			return err
		}
		return audit(tx, a, "user.password", userID, "")
	})
}
