package store

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// DeveloperApp is an application a developer registered, with the scopes it
// requests and the tenants it may be connected to. A tenant admin who allows
// it gets a tenant-specific client: X tenants, X client id and secret pairs.
type DeveloperApp struct {
	ID                string  `gorm:"primaryKey;size:64"`
	Name              string  `gorm:"size:200;not null"`
	Description       string  `gorm:"type:text"`
	DeveloperTenantID string  `gorm:"size:64;not null;index"`
	OwnerID           string  `gorm:"size:64;not null"`
	RequestedScopes   Strings `gorm:"not null"`
	TenantIDs         Strings `gorm:"not null"`
	RedirectURIs      Strings `gorm:"not null"`
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Connection states.
const (
	ConnectionAllowed  = "allowed"
	ConnectionDeclined = "declined"
)

// Connection records a tenant admin's decision on an app.
type Connection struct {
	AppID         string  `gorm:"primaryKey;size:64"`
	TenantID      string  `gorm:"primaryKey;size:64"`
	Status        string  `gorm:"size:16;not null"`
	ClientID      *string `gorm:"size:64;uniqueIndex"`
	GrantedScopes Strings `gorm:"not null"`
	DecidedBy     string  `gorm:"size:64"`
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// CreateApp registers a developer app.
func (s *Store) CreateApp(ctx context.Context, a *DeveloperApp, actor Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(a).Error; err != nil {
			return err
		}
		return audit(tx, actor, "app.create", a.ID, a.Name)
	})
}

// GetApp loads a developer app.
func (s *Store) GetApp(ctx context.Context, id string) (*DeveloperApp, error) {
	if !findable(id, idSize) {
		return nil, ErrNotFound
	}
	var a DeveloperApp
	if err := s.DB.WithContext(ctx).Take(&a, "id = ?", id).Error; err != nil {
		return nil, translate(err)
	}
	return &a, nil
}

// UpdateApp saves an app's fields.
// It saves only while the row's updated_at is still the one a was read
// with (ErrStale otherwise, see UpdateClientSettingsIfUnchanged), so two
// edits made at once cannot both succeed with one of them lost.
func (s *Store) UpdateApp(ctx context.Context, a *DeveloperApp, actor Actor) error {
	readAt := a.UpdatedAt
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := unchangedSince(tx, &DeveloperApp{}, "id = ?", readAt, a.ID); err != nil {
			return err
		}
		var before DeveloperApp
		if err := tx.Select("requested_scopes").Where("id = ?", a.ID).Take(&before).Error; err != nil {
			return err
		}
		if err := narrowPairs(tx, a.ID, dropped(before.RequestedScopes, a.RequestedScopes), actor); err != nil {
			return err
		}
		a.UpdatedAt = time.Now().UTC()
		res := tx.Model(&DeveloperApp{}).Where("id = ?", a.ID).Select("*").Omit("created_at").Updates(a)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return audit(tx, actor, "app.update", a.ID, a.Name)
	})
}

// ListApps returns a developer tenant's apps (every app when empty).
func (s *Store) ListApps(ctx context.Context, developerTenantID string, p Page) ([]DeveloperApp, int64, error) {
	q := s.DB.WithContext(ctx).Model(&DeveloperApp{})
	if developerTenantID != "" {
		q = q.Where("developer_tenant_id = ?", developerTenantID)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var out []DeveloperApp
	return out, total, translate(p.apply(q.Order("created_at, id")).Find(&out).Error)
}

// OfferedApps lists the apps that may be connected to a tenant. The tenant
// list is JSON text; the quoted id is matched, then checked exactly.
func (s *Store) OfferedApps(ctx context.Context, tenantID string) ([]DeveloperApp, error) {
	var candidates []DeveloperApp
	err := s.DB.WithContext(ctx).Where("tenant_ids LIKE ?", `%"`+likeAny(tenantID)+`"%`).
		Order("created_at, id").Find(&candidates).Error
	if err != nil {
		return nil, translate(err)
	}
	out := candidates[:0]
	for _, a := range candidates {
		if a.TenantIDs.Contains(tenantID) {
			out = append(out, a)
		}
	}
	return out, nil
}

// GetConnection loads a tenant's decision on an app.
func (s *Store) GetConnection(ctx context.Context, appID, tenantID string) (*Connection, error) {
	if !findable(appID, idSize) || !findable(tenantID, idSize) {
		return nil, ErrNotFound
	}
	var c Connection
	if err := s.DB.WithContext(ctx).Take(&c, "app_id = ? AND tenant_id = ?", appID, tenantID).Error; err != nil {
		return nil, translate(err)
	}
	return &c, nil
}

// ListConnections returns a tenant's decisions.
func (s *Store) ListConnections(ctx context.Context, tenantID string) ([]Connection, error) {
	var out []Connection
	return out, translate(s.DB.WithContext(ctx).Where("tenant_id = ?", tenantID).Order("created_at").Find(&out).Error)
}

// AllowApp connects an app to a tenant: it creates the tenant-specific
// client and records the decision in one transaction. Allowing an app that
// is already allowed is ErrConflict; a declined app may be allowed later.
func (s *Store) AllowApp(ctx context.Context, appID, tenantID string, client *Client, actor Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		// The app's row shared, as UpdateApp takes it first too: the scopes
		// the caller read may have narrowed since, and a pair made now must
		// not keep one the narrowing took from the others.
		var app DeveloperApp
		err := tx.Clauses(clause.Locking{Strength: "SHARE"}).Select("id", "requested_scopes").
			Where("id = ?", appID).Take(&app).Error
		if err != nil {
			return err
		}
		client.AllowedScopes = keptWithin(client.AllowedScopes, app.RequestedScopes)
		if client.DefaultScopes = keptWithin(client.DefaultScopes, app.RequestedScopes); len(client.DefaultScopes) == 0 {
			client.DefaultScopes = append(Strings{}, client.AllowedScopes...)
		}
		var existing Connection
		err = tx.Take(&existing, "app_id = ? AND tenant_id = ?", appID, tenantID).Error
		if err == nil && existing.Status == ConnectionAllowed {
			return ErrConflict
		}
		if err := tx.Create(client).Error; err != nil {
			return err
		}
		conn := Connection{AppID: appID, TenantID: tenantID, Status: ConnectionAllowed, ClientID: &client.ID,
			GrantedScopes: client.AllowedScopes, DecidedBy: actor.Principal}
		if err == nil {
			err = tx.Model(&Connection{}).Where("app_id = ? AND tenant_id = ?", appID, tenantID).
				Updates(map[string]any{"status": ConnectionAllowed, "client_id": client.ID, "granted_scopes": conn.GrantedScopes,
					"decided_by": actor.Principal, "updated_at": time.Now().UTC()}).Error
		} else {
			err = tx.Create(&conn).Error
		}
		if err != nil {
			return err
		}
		if err := notify(tx, Change{Kind: ChangeClient, ClientID: client.ID}); err != nil {
			return err
		}
		return audit(tx, actor, "integration.allow", appID, client.ID)
	})
}

// DeclineApp records that a tenant declined an app. An app whose pair was
// generated must be disabled or deleted instead (ErrConflict).
func (s *Store) DeclineApp(ctx context.Context, appID, tenantID string, actor Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		var existing Connection
		err := tx.Take(&existing, "app_id = ? AND tenant_id = ?", appID, tenantID).Error
		switch {
		case err == nil && existing.Status == ConnectionAllowed:
			return ErrConflict
		case err == nil:
			return nil // declined already
		}
		conn := Connection{AppID: appID, TenantID: tenantID, Status: ConnectionDeclined, DecidedBy: actor.Principal}
		if err := tx.Create(&conn).Error; err != nil {
			return err
		}
		return audit(tx, actor, "integration.decline", appID, tenantID)
	})
}

// likeAny makes s a LIKE pattern that matches s and maybe more: LIKE's
// special characters (%, _ and PostgreSQL's escape \) in s become _, which
// matches any one character, so the caller must check candidates exactly.
// (Tenant ids may hold '_'; dropping it would miss them.)
func likeAny(s string) string {
	return strings.NewReplacer("%", "_", "_", "_", `\`, "_").Replace(s)
}

// keptWithin lists the scopes of have that allowed holds.
func keptWithin(have, allowed Strings) Strings {
	out := Strings{}
	for _, sc := range have {
		if slices.Contains(allowed, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// dropped lists the scopes of before that after lacks.
func dropped(before, after Strings) Strings {
	var out Strings
	for _, sc := range before {
		if !slices.Contains(after, sc) {
			out = append(out, sc)
		}
	}
	return out
}

// narrowPairs takes the scopes an app no longer requests away from every
// tenant's pair of it (its granted scopes, the pair client's scopes and
// default scopes) and ends the tokens of each pair that held one, as a
// narrowing of the client itself does (endWhatTheEditTakes): a pair's scopes
// stay within what its app requests. A pair left with no default scope
// gets its remaining scopes as defaults.
func narrowPairs(tx *gorm.DB, appID string, gone Strings, actor Actor) error {
	if len(gone) == 0 {
		return nil
	}
	// Each pair's client row is locked before its decision's row, the
	// order DeleteClient takes them in (a client, then its connection):
	// locking the decisions first could deadlock with a tenant deleting
	// its pair meanwhile.
	var conns []Connection
	if err := tx.Where("app_id = ?", appID).Order("tenant_id").Find(&conns).Error; err != nil {
		return err
	}
	for _, conn := range conns {
		if err := narrowPair(tx, appID, conn, gone, actor); err != nil {
			return err
		}
	}
	return nil
}

// narrowPair takes the scopes gone from one tenant's pair of app appID.
func narrowPair(tx *gorm.DB, appID string, conn Connection, gone Strings, actor Actor) error {
	if conn.ClientID != nil {
		if err := narrowPairClient(tx, appID, conn, gone, actor); err != nil {
			return err
		}
	}
	var fresh Connection
	err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("app_id = ? AND tenant_id = ?", appID, conn.TenantID).Take(&fresh).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil // the pair was deleted meanwhile, its decision with it
	}
	if err != nil {
		return err
	}
	if kept := dropped(fresh.GrantedScopes, gone); len(kept) != len(fresh.GrantedScopes) {
		return tx.Model(&Connection{}).Where("app_id = ? AND tenant_id = ?", appID, conn.TenantID).
			UpdateColumn("granted_scopes", kept).Error
	}
	return nil
}

// narrowPairClient takes the scopes gone from the client of a pair and
// ends its tokens when it held one.
func narrowPairClient(tx *gorm.DB, appID string, conn Connection, gone Strings, actor Actor) error {
	var c Client
	err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Select("id", "allowed_scopes", "default_scopes").
		Where("id = ?", *conn.ClientID).Take(&c).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	allowed := dropped(c.AllowedScopes, gone)
	if len(allowed) == len(c.AllowedScopes) {
		return nil
	}
	defaults := dropped(c.DefaultScopes, gone)
	if len(defaults) == 0 {
		defaults = allowed
	}
	err = tx.Model(&Client{}).Where("id = ?", c.ID).UpdateColumns(map[string]any{
		"allowed_scopes": allowed, "default_scopes": defaults, "updated_at": time.Now().UTC(),
		"token_generation": gorm.Expr("token_generation + 1")}).Error
	if err != nil {
		return err
	}
	if err := notify(tx, Change{Kind: ChangeClient, ClientID: c.ID}); err != nil {
		return err
	}
	pairActor := actor
	pairActor.TenantID = conn.TenantID // the tenant whose pair it is sees the change
	return audit(tx, pairActor, "client.update", c.ID, "scopes narrowed with app "+appID)
}
