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

// Tenant is an organisation whose users, clients and data are kept apart
// from every other tenant's.
type Tenant struct {
	ID        string `gorm:"primaryKey;size:64"`
	Name      string `gorm:"size:200;not null;uniqueIndex"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// DefaultTenantID is the tenant that exists from the first start, so a
// single-tenant gateway never has to think about tenants.
const DefaultTenantID = "default"

// EnsureTenant creates the tenant if it does not exist yet.
func (s *Store) EnsureTenant(ctx context.Context, id, name string) error {
	t := Tenant{ID: id, Name: name}
	return translate(s.DB.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(&t).Error)
}

// ErrTenantUUIDTaken means a tenant made before CheckTenantID (a UUID id
// in upper case, or one equal to a derived UUID) already has the
// TenantUUID a new tenant would get.
var ErrTenantUUIDTaken = errors.New("another tenant already has this tenant's UUID")

// ErrTenantNameIsID means a new tenant's name is another tenant's id, or
// its id another's name: people name a tenant by either (the console's
// sign-in form, TenantIDFor), so one word must not stand for two tenants.
var ErrTenantNameIsID = errors.New("a tenant's name may not be another tenant's id, nor its id another's name")

// ErrTenantIDCase means another tenant's id differs from a new tenant's
// only in letter case: an upstream comparing tenant ids without case (a
// MySQL column's default collation) would take the two for one.
var ErrTenantIDCase = errors.New("another tenant's id differs from this one only in letter case")

// ErrTenantNameAlike means another tenant's name differs from a new
// tenant's only in letter case or Unicode form (Acme and ACME, café with é
// or with e + U+0301): people type a tenant's name at the console's
// sign-in, and two that read alike would send them to either.
var ErrTenantNameAlike = errors.New("another tenant's name differs from this one only in letter case or Unicode form")

// CreateTenant inserts a tenant, unless another one already has its
// TenantUUID (ErrTenantUUIDTaken), has its name as id or its id as name
// (ErrTenantNameIsID), has its id in other letter case (ErrTenantIDCase),
// or a name that reads as its name (ErrTenantNameAlike).
func (s *Store) CreateTenant(ctx context.Context, t *Tenant, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		// The checks below read other rows than the one inserted: two
		// creates at once ({id p, name q} and {id q, name p}) would each
		// pass them on PostgreSQL, whose transactions see neither insert.
		// The lock serializes creates (SQLite's write transactions are
		// serial already) and lets readers be.
		if tx.Dialector.Name() == Postgres {
			if err := tx.Exec("LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE").Error; err != nil {
				return err
			}
		}
		var n int64
		if err := tx.Model(&Tenant{}).Where("lower(id) = ?", TenantUUID(t.ID)).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return ErrTenantUUIDTaken
		}
		// Another row (a row with t's id is a plain conflict, at Create),
		// in any letter case: the sign-in takes what a person types.
		if err := tx.Model(&Tenant{}).Where("(id = ? OR name = ? OR lower(id) = lower(?)) AND id <> ?",
			t.Name, t.ID, asciiFold(t.Name), t.ID).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return ErrTenantNameIsID
		}
		if twin, err := tenantNameTwin(tx, t.ID, t.ID); err != nil {
			return err
		} else if twin {
			return ErrTenantNameIsID // another's name reads as this id
		}
		// Tenant ids are ASCII (the admin API's rule), which lower() folds
		// on every database.
		if err := tx.Model(&Tenant{}).Where("lower(id) = lower(?) AND id <> ?", t.ID, t.ID).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return ErrTenantIDCase
		}
		if twin, err := tenantNameTwin(tx, t.Name, ""); err != nil {
			return err
		} else if twin {
			return ErrTenantNameAlike
		}
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

// TenantIDFor finds the tenant a person typed: the tenant with that id,
// else the one with that name (names are unique; an id wins a clash, so
// what an id names never changes); ErrNotFound when neither exists.
func (s *Store) TenantIDFor(ctx context.Context, typed string) (string, error) {
	t, err := s.GetTenant(ctx, typed)
	if err == nil {
		return t.ID, nil
	}
	if !errors.Is(err, ErrNotFound) || !findable(typed, 200) {
		return "", err
	}
	var byName Tenant
	err = s.DB.WithContext(ctx).Take(&byName, "name = ?", typed).Error
	if nfc := norm.NFC.String(typed); errors.Is(err, gorm.ErrRecordNotFound) && nfc != typed {
		// Names are stored in NFC (the admin API's rule): é typed as
		// e + U+0301 finds é. A name stored otherwise by an older release is
		// found as typed, above.
		err = s.DB.WithContext(ctx).Take(&byName, "name = ?", nfc).Error
	}
	if err != nil {
		return "", translate(err)
	}
	return byName.ID, nil
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

// tenantNameTwin reports whether another tenant's name, in NFC, equals name
// under Unicode simple case folding (strings.EqualFold). SQL's lower()
// folds only ASCII on SQLite and under PostgreSQL's C locale, so the
// comparison is made here, among the names lower() takes for name's and
// those holding a character beyond ASCII (a decomposed é, the Kelvin sign
// that folds to k); a name beyond ASCII itself is compared with every name.
// The tenant whose id is except is left out (a row with the new tenant's
// id is a plain conflict, at insert).
func tenantNameTwin(tx *gorm.DB, name, except string) (bool, error) {
	q := tx.Model(&Tenant{}).Where("name <> ? AND id <> ?", name, except)
	if !strings.ContainsFunc(name, func(r rune) bool { return r >= utf8.RuneSelf }) {
		beyondASCII, pattern := "name GLOB ?", "*[^\x01-\x7f]*"
		if tx.Dialector.Name() == Postgres {
			beyondASCII, pattern = "name ~ ?", "[^\x01-\x7f]"
		}
		q = q.Where("(lower(name) = lower(?) OR "+beyondASCII+")", name, pattern)
	}
	var names []string
	if err := q.Pluck("name", &names).Error; err != nil {
		return false, err
	}
	name = norm.NFC.String(name)
	for _, n := range names {
		if strings.EqualFold(norm.NFC.String(n), name) {
			return true, nil
		}
	}
	return false, nil
}

// asciiFold maps the two letters beyond ASCII that simple case folding
// takes for ASCII ones (the Kelvin sign K, the long s ſ) to them, so that
// SQL's lower() can compare a name with tenant ids, which are ASCII.
func asciiFold(name string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '\u212A':
			return 'k'
		case '\u017F':
			return 's'
		}
		return r
	}, name)
}
