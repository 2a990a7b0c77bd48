package store

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// User is a person (or service account) of one tenant: the user an api_key
// client connects as, the user a 3-legged token is bound to, an impersonation
// target, or an admin.
type User struct {
	ID          string `gorm:"primaryKey;size:64"`
	TenantID    string `gorm:"size:64;not null;uniqueIndex:idx_users_tenant_username,priority:1"`
	Tenant      *Tenant
	Username    string `gorm:"size:200;not null;uniqueIndex:idx_users_tenant_username,priority:2"`
	DisplayName string `gorm:"size:200"`
	Email       string `gorm:"size:320"`
	// Admin lets the user sign in to the admin console and carry admin
	// scopes in its own tokens: a tenant admin of its tenant.
	Admin bool
	// SuperAdmin makes an admin of the default tenant a super admin (every
	// tenant); it means nothing elsewhere (module/power).
	SuperAdmin bool
	Disabled   bool
	// DisabledBySuper marks a user a super admin disabled: only a super
	// admin enables it again (admin.editUser decides on the locked row).
	DisabledBySuper bool   `gorm:"not null;default:false"`
	PasswordHash    string `gorm:"size:200"`
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// IsSuperAdmin reports whether u's flags make it a super admin: an admin of
// the default tenant with the super admin level (power.OfUser builds on it).
func (u *User) IsSuperAdmin() bool {
	return u != nil && u.Admin && u.SuperAdmin && u.TenantID == DefaultTenantID
}

// CreateUser inserts a user.
func (s *Store) CreateUser(ctx context.Context, u *User, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		// Checked in the transaction, with the tenant's row locked, so that
		// two creates at once cannot both pass (the unique index is on the
		// exact name): on PostgreSQL they wait for each other, and SQLite's
		// write transactions are serial. NO KEY UPDATE conflicts with
		// itself but not with the key-share locks of foreign key checks,
		// so other inserts into the tenant do not wait.
		err := tx.Model(&Tenant{}).Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Select("id").
			Where("id = ?", u.TenantID).Take(&Tenant{}).Error
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return err // a missing tenant fails the insert: ErrReferenced
		}
		twin, err := caseTwin(tx, u.TenantID, u.Username)
		if err != nil {
			return err
		}
		if twin != "" {
			return &UsernameCaseError{Existing: twin}
		}
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

// caseTwin returns the username of a user of the tenant that differs from
// name only in letter case (Unicode simple case folding, as
// strings.EqualFold: Élodie and élodie, Мария and мария), or "". SQL's
// lower() folds only ASCII on SQLite, and on PostgreSQL under the C locale,
// so the comparison is made here, among the names of the same length in
// characters (which simple folding keeps) that lower() takes for name's or
// that hold a letter beyond ASCII (the Kelvin sign folds to k): in a tenant
// of ASCII names, a create reads the twin alone.
func caseTwin(tx *gorm.DB, tenantID, name string) (string, error) {
	beyondASCII := "username GLOB ?"
	pattern := "*[^\x01-\x7f]*"
	if tx.Dialector.Name() == Postgres {
		beyondASCII, pattern = "username ~ ?", "[^\x01-\x7f]"
	}
	var names []string
	err := tx.Model(&User{}).Where("tenant_id = ? AND length(username) = ? AND username <> ? AND (lower(username) = lower(?) OR "+beyondASCII+")",
		tenantID, utf8.RuneCountInString(name), name, name, pattern).
		Pluck("username", &names).Error
	if err != nil {
		return "", err
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return n, nil
		}
	}
	return "", nil
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

// FindUser loads a user by id or by username within a tenant. A user whose
// id it is wins over one whose username it is: otherwise a tenant admin
// could name a user after another user's id and have tokens asked for that
// id (user_id, connect-as, refresh, impersonation) bound to the namesake.
// New usernames cannot be another user's id (the admin API refuses them),
// but older databases may hold some.
func (s *Store) FindUser(ctx context.Context, tenantID, idOrName string) (*User, error) {
	if !findable(tenantID, idSize) || !findable(idOrName, nameSize) { // a username may be longer than an id
		return nil, ErrNotFound
	}
	idOrName = norm.NFC.String(idOrName) // usernames are stored in NFC: é typed as e + U+0301 finds é
	var u User
	err := s.DB.WithContext(ctx).
		Where("tenant_id = ? AND (id = ? OR username = ?)", tenantID, idOrName, idOrName).
		Order(clause.OrderBy{Expression: clause.Expr{SQL: "CASE WHEN id = ? THEN 0 ELSE 1 END", Vars: []any{idOrName}}}).
		Take(&u).Error
	if err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

// UsernameCaseError refuses a user whose name differs from an existing
// user's of the tenant only in letter case (Root2x next to root2x would be
// one user to a reader and two to the gateway).
type UsernameCaseError struct{ Existing string }

func (e *UsernameCaseError) Error() string {
	return "the tenant already has a user named " + e.Existing + ", which differs only in letter case"
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
		return userSaved(tx, u, a, action)
	})
}

// userProfile are the columns an admin edits; the password hash and the
// username are never overwritten by an admin edit.
var userProfile = []string{"display_name", "email", "admin", "super_admin", "disabled", "disabled_by_super", "updated_at"}

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
	return userSaved(tx, u, a, action)
}

// userSaved finishes saving u inside tx: a disabled user's grants end (so
// enabling the user again brings back no refresh token a thief may hold),
// every node is told through the change feed, and the change is audited.
func userSaved(tx *gorm.DB, u *User, a Actor, action string) error {
	if u.Disabled {
		if _, err := revokeUserGrants(tx, u.ID, "", u.UpdatedAt); err != nil {
			return err
		}
	}
	if err := notify(tx, Change{Kind: ChangeUser, UserID: u.ID}); err != nil {
		return err
	}
	return audit(tx, a, action, u.ID, u.Username)
}

// SetUserPassword replaces a user's password hash (empty: the user cannot
// sign in with a password), only while the user is in inTenant (otherwise
// ErrNotFound). A reset is the answer to a stolen account, so it also ends
// the user's grants (revokeUserGrants): a stolen refresh token mints no
// more. The change is audited without the hash.
func (s *Store) SetUserPassword(ctx context.Context, userID, inTenant, hash string, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error { return savePassword(tx, userID, inTenant, hash, a) })
}

func savePassword(tx *gorm.DB, userID, inTenant, hash string, a Actor) error {
	now := time.Now().UTC()
	res := tx.Model(&User{}).Where("id = ? AND tenant_id = ?", userID, inTenant).
		Updates(map[string]any{"password_hash": hash, "updated_at": now})
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return ErrNotFound
	}
	if _, err := revokeUserGrants(tx, userID, "", now); err != nil {
		return err
	}
	if err := notify(tx, Change{Kind: ChangeUser, UserID: userID}); err != nil {
		return err
	}
	return audit(tx, a, "user.password", userID, "")
}
