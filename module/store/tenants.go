package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// DefaultTenantID is the tenant that exists from the first start, so a
// single-tenant gateway never has to think about tenants.
const DefaultTenantID = "default"

// EnsureTenant creates the tenant if it does not exist yet.
func (s *Store) EnsureTenant(ctx context.Context, id, name string) error {
	t := Tenant{ID: id, Name: name}
	return translate(s.DB.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&t).Error)
}

// CreateTenant inserts a tenant.
func (s *Store) CreateTenant(ctx context.Context, t *Tenant, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(t).Error; err != nil {
			return err
		}
		return audit(tx, a, "tenant.create", t.ID, t.Name)
	})
}

// GetTenant loads a tenant.
func (s *Store) GetTenant(ctx context.Context, id string) (*Tenant, error) {
	if !findable(id, idSize) {
		return nil, ErrNotFound
	}
	var t Tenant
	if err := s.DB.WithContext(ctx).Take(&t, "id = ?", id).Error; err != nil {
		return nil, translate(err)
	}
	return &t, nil
}

// ListTenants returns one page of tenants and the total.
func (s *Store) ListTenants(ctx context.Context, p Page) ([]Tenant, int64, error) {
	q := s.DB.WithContext(ctx).Model(&Tenant{})
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var out []Tenant
	return out, total, translate(p.apply(q.Order("created_at, id")).Find(&out).Error)
}

// CreateUser inserts a user.
func (s *Store) CreateUser(ctx context.Context, u *User, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(u).Error; err != nil {
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

// UpdateUser saves a user's fields and tells other nodes; a disabled
// user's grants end, as with UpdateUserProfile.
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
		if u.Disabled {
			if _, err := revokeUserGrants(tx, u.ID, "", u.UpdatedAt); err != nil {
				return err
			}
		}
		if err := notify(tx, ChangeUser, "", u.ID); err != nil {
			return err
		}
		return audit(tx, a, action, u.ID, u.Username)
	})
}
