package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Auth methods of a client (Bigtincan's two kinds of custom app).
const (
	// AuthAPIKey clients authenticate as a server with their id and secret.
	AuthAPIKey = "api_key"
	// AuthUser clients act for the user who signs in and consents.
	AuthUser = "user"
)

// Grant types a client may be limited to (Client.GrantTypes): the token
// endpoint's grant_type values, and GrantImplicit for response_type=token at
// the authorize endpoint (response_type=code needs GrantAuthorizationCode).
const (
	GrantClientCredentials = "client_credentials"
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantImplicit          = "implicit"
)

// GrantTypeNames lists every grant type Client.GrantTypes may name.
var GrantTypeNames = []string{GrantClientCredentials, GrantAuthorizationCode, GrantRefreshToken, GrantImplicit}

// ErrPublicClient refuses a secret to a public client (RotateSecret): it
// names itself with its client_id alone.
var ErrPublicClient = errors.New("a public client has no secret")

// Client is an OAuth client: its credentials, what it may ask for and how
// long its tokens live.
type Client struct {
	ID       string `gorm:"primaryKey;size:64"`
	TenantID string `gorm:"size:64;not null;uniqueIndex:idx_clients_tenant_name,priority:1"`
	Tenant   *Tenant
	Name     string `gorm:"size:200;not null;uniqueIndex:idx_clients_tenant_name,priority:2"`
	// AuthMethod is AuthAPIKey or AuthUser.
	AuthMethod    string  `gorm:"size:16;not null"`
	AllowedScopes Strings `gorm:"not null"`
	DefaultScopes Strings `gorm:"not null"`
	RedirectURIs  Strings `gorm:"not null"`
	// TokenLifetimeMinutes overrides the app's default lifetime when > 0.
	TokenLifetimeMinutes int
	// MaxMinutesPerDay caps the token time one subject gets per day when > 0.
	MaxMinutesPerDay int
	// AllowUserTokens lets the client ask for 3-legged tokens naming a user.
	AllowUserTokens bool
	// ConnectAsUserID is the user an api_key client's tokens act as.
	ConnectAsUserID *string `gorm:"size:64;index"`
	ConnectAsUser   *User
	// AllowImpersonation lets the client act on behalf of any user of its tenant.
	AllowImpersonation bool
	// DisableImplicit refuses response_type=token at the authorize endpoint
	// (the implicit grant is on unless an admin turns it off). It predates
	// GrantTypes and still works alone: it takes GrantImplicit away whatever
	// GrantTypes says (see AllowsGrant).
	DisableImplicit bool
	// GrantTypes limits the client to these grant types (GrantTypeNames);
	// empty means every grant its kind allows. The column may be NULL: rows
	// from before it existed read as empty, so those clients keep working.
	GrantTypes Strings
	// Public marks a client that cannot keep a secret, such as a browser or
	// native app (RFC 6749 §2.1; token_endpoint_auth_method "none"): it
	// names itself with client_id alone, must use PKCE (S256) for codes and
	// may not use client_credentials. Every other client is confidential and
	// authenticates with its secret for every grant.
	Public bool
	// AppID links a tenant-specific client to the app it was generated for.
	AppID *string `gorm:"size:64;index"`
	// OwnerID is the principal (user or client id) that created the client.
	OwnerID string `gorm:"size:64;not null;index"`
	// CreatorUserID is the admin user whose power created the client: the
	// user who made it, or the user behind the client whose token made it;
	// "" when no user is (bootstrap and what its clients make). The
	// client's admin power never exceeds that user's current power
	// (module/power); ClientCreator reads it.
	CreatorUserID string `gorm:"size:64"`
	Disabled      bool
	// TokenGeneration is stamped into every token of the client (tgen);
	// RevokeClientTokens moves it on, and tokens of an older generation are
	// refused wherever they are cached.
	TokenGeneration int `gorm:"not null;default:0"`
	// TokensRevokedAt is when that last happened, for people; nil: never.
	TokensRevokedAt *time.Time
	// DisabledBySuper marks a client a super admin disabled: only a super
	// admin restores it, so an operator who suspends an app's credentials
	// keeps them suspended whatever the tenant's own admins do.
	DisabledBySuper bool `gorm:"not null;default:false"`
	// SecretCiphertext is the secret sealed with the client id as AAD.
	SecretCiphertext []byte
	// SecretDigest is the keyed digest of the current secret.
	SecretDigest string `gorm:"size:64;not null"`
	// PreviousSecretDigest still authenticates until PreviousSecretUntil.
	PreviousSecretDigest string `gorm:"size:64"`
	PreviousSecretUntil  *time.Time
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// HasScope reports whether scope is among the client's allowed scopes.
func (c *Client) HasScope(scope string) bool { return c.AllowedScopes.Contains(scope) }

// AllowsGrant reports whether the client's own settings let it use grant
// type g: GrantTypes lists it (or is empty), and for GrantImplicit,
// DisableImplicit is off. What its kind allows (a public client never uses
// client_credentials, say) is the issuer's to add.
func (c *Client) AllowsGrant(g string) bool {
	if g == GrantImplicit && c.DisableImplicit {
		return false
	}
	return len(c.GrantTypes) == 0 || c.GrantTypes.Contains(g)
}

// ClientFilter narrows a client listing.
type ClientFilter struct {
	// TenantID limits the list to one tenant when set.
	TenantID string
	// AppID limits the list to the tenant clients of one app when set.
	AppID string
	Page
}

// CreateClient inserts c (its ID, digest and ciphertext already set). The
// feed entry makes every node drop the id from its cache of missing ones.
func (s *Store) CreateClient(ctx context.Context, c *Client, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Create(c).Error; err != nil {
			return err
		}
		if err := notify(tx, Change{Kind: ChangeClient, ClientID: c.ID}); err != nil {
			return err
		}
		return audit(tx, a, "client.create", c.ID, c.Name)
	})
}

// GetClient loads a client by id.
func (s *Store) GetClient(ctx context.Context, id string) (*Client, error) {
	if !findable(id, idSize) {
		return nil, ErrNotFound
	}
	var c Client
	if err := s.DB.WithContext(ctx).Take(&c, "id = ?", id).Error; err != nil {
		return nil, translate(err)
	}
	return &c, nil
}

// FindClientByName loads the client named name in a tenant.
func (s *Store) FindClientByName(ctx context.Context, tenantID, name string) (*Client, error) {
	if !findable(tenantID, idSize) || !findable(name, nameSize) {
		return nil, ErrNotFound
	}
	var c Client
	err := s.DB.WithContext(ctx).Take(&c, "tenant_id = ? AND name = ?", tenantID, name).Error
	if err != nil {
		return nil, translate(err)
	}
	return &c, nil
}

// ListClients returns one page of clients, oldest first, and the total count.
func (s *Store) ListClients(ctx context.Context, f ClientFilter) ([]Client, int64, error) {
	q := s.DB.WithContext(ctx).Model(&Client{})
	if f.TenantID != "" {
		q = q.Where("tenant_id = ?", f.TenantID)
	}
	if f.AppID != "" {
		q = q.Where("app_id = ?", f.AppID)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var out []Client
	err := f.Page.apply(q.Order("created_at, id")).Find(&out).Error
	return out, total, translate(err)
}

// UpdateClient saves every field of c but the token generation (and when
// tokens were ended), and tells other nodes.
func (s *Store) UpdateClient(ctx context.Context, c *Client, a Actor, action string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		// Never the token generation or the moment tokens were ended: a
		// copy read before a revoke_tokens must not bring its tokens back.
		res := tx.Model(&Client{}).Where("id = ?", c.ID).Select("*").Omit("created_at", "token_generation", "tokens_revoked_at").Updates(c)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if err := notify(tx, Change{Kind: ChangeClient, ClientID: c.ID}); err != nil {
			return err
		}
		return audit(tx, a, action, c.ID, c.Name)
	})
}

// clientSettings are the columns an admin edits. The secret, the owner and
// the disabled flag are left out: they change only through their own
// methods, so an edit that read the row earlier can never undo a rotation or
// a disable committed in between.
var clientSettings = []string{
	"name", "tenant_id", "auth_method", "allowed_scopes", "default_scopes", "redirect_uris",
	"token_lifetime_minutes", "max_minutes_per_day", "allow_user_tokens",
	"connect_as_user_id", "allow_impersonation", "disable_implicit", "grant_types", "public", "updated_at",
}

// UpdateClientSettings saves the admin-editable settings of c, but only
// while the client is still in inTenant (the tenant the caller was allowed
// to manage when it read the row); otherwise it is ErrNotFound. A duplicate
// name is ErrConflict.
func (s *Store) UpdateClientSettings(ctx context.Context, c *Client, inTenant string, a Actor) error {
	return s.updateClientSettings(ctx, c, inTenant, a, nil)
}

// UpdateClientSettingsIfUnchanged is UpdateClientSettings for an edit made
// to a copy read earlier: it saves only while the row's updated_at is still
// the copy's (ErrStale otherwise), decided on the row locked in the
// transaction. Two admins editing one client at once then cannot both
// succeed with one edit silently dropped (a narrowing of scopes undone by
// a rename sent at the same moment): the loser re-reads and applies again.
func (s *Store) UpdateClientSettingsIfUnchanged(ctx context.Context, c *Client, inTenant string, a Actor) error {
	readAt := c.UpdatedAt
	return s.updateClientSettings(ctx, c, inTenant, a, &readAt)
}

func (s *Store) updateClientSettings(ctx context.Context, c *Client, inTenant string, a Actor, readAt *time.Time) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		// The app's row before the client's, in UpdateApp's order (the app,
		// then its pairs): the other way round deadlocked on PostgreSQL.
		if err := withinItsApp(tx, c); err != nil {
			return err
		}
		if readAt != nil {
			if err := unchangedSince(tx, &Client{}, "id = ? AND tenant_id = ?", *readAt, c.ID, inTenant); err != nil {
				return err
			}
		}
		endGrants, err := endWhatTheEditTakes(tx, c, inTenant)
		if err != nil {
			return err
		}
		c.UpdatedAt = time.Now().UTC()
		res := tx.Model(&Client{}).Where("id = ? AND tenant_id = ?", c.ID, inTenant).
			Select(clientSettings).Updates(c)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if endGrants {
			// After the row's update, whose foreign key check waits for a
			// user a concurrent ChangeUser holds: that one ends the same
			// user's grants first, so taking them before would deadlock.
			if _, err := revokeUserGrants(tx, "", c.ID, c.UpdatedAt); err != nil {
				return err
			}
		}
		if err := notify(tx, Change{Kind: ChangeClient, ClientID: c.ID}); err != nil {
			return err
		}
		if c.TenantID != inTenant {
			// A move: the tenant it leaves sees it go, the one it joins sees
			// it come (a.TenantID is the new one's).
			from := a
			from.TenantID = inTenant
			if err := audit(tx, from, "client.move", c.ID, "to tenant "+c.TenantID); err != nil {
				return err
			}
		}
		return audit(tx, a, "client.update", c.ID, c.Name)
	})
}

// withinItsApp checks, for an app's pair for a tenant, that the scopes c
// gives the pair beyond what it holds are among those the app requests, on
// the app's row shared (as AllowApp: UpdateApp takes it first, then the
// pairs): the admin API checked them against the app as it read it, and a
// narrowing of the app committing since on another node took the scope from
// the pair before this edit gave it back (multi-node red team). ErrStale:
// the edit is checked and applied again.
func withinItsApp(tx *gorm.DB, c *Client) error {
	if c.AppID == nil {
		return nil
	}
	var app DeveloperApp
	err := tx.Clauses(clause.Locking{Strength: "SHARE"}).Select("id", "requested_scopes").
		Where("id = ?", *c.AppID).Take(&app).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return nil // the app is gone: the admin API refuses any scope then
	}
	if err != nil {
		return err
	}
	var stored Client
	if err := tx.Select("allowed_scopes").Where("id = ?", c.ID).Take(&stored).Error; err != nil {
		return translate(err)
	}
	for _, sc := range c.AllowedScopes {
		if !stored.AllowedScopes.Contains(sc) && !app.RequestedScopes.Contains(sc) {
			return ErrStale
		}
	}
	return nil
}

// endWhatTheEditTakes reads the client as stored, locked (an edit or a
// rotation racing this one cannot slip between the read and what it ends),
// and ends what the edit c takes away; it reports whether the caller must
// end the client's refresh tokens and codes too, once the row is updated.
//
// An edit that changes whom the tokens speak for (another tenant, a
// connect-as user set, changed or removed) ends every token the client
// holds, as RevokeClientTokens does: the guard compares a token with the
// client's current settings, which alone would refuse such tokens only while
// the settings differ (moving the client back, or giving it its former user
// again, would bring them back).
//
// An edit that takes away a power its tokens may have used (narrows: a
// scope, allow_user_tokens, allow_impersonation, a grant type, its kind)
// moves it to its next token generation: tokens minted with the power would
// otherwise keep it at every guard and in introspection until they expire, a
// year for the longest lifetimes (a tenant admin who took back an app's
// delegation saw the app go on acting as the tenant's admins). Clients get
// a new token on the 401, with what they still hold; refresh tokens and
// consents stay, since a refresh or an authorization is checked against the
// client's settings anyway.
//
// Made public, it forgets its secret (made confidential again, it gets a new
// one by rotation, not the one that may have shipped in the app; RotateSecret
// refuses a public client) and its refresh tokens and codes end too: they
// would be used with client_id alone. Any edit of a client stored public
// forgets a secret it still holds: one an older build gave it at creation,
// or an older node's rotation during a roll, would otherwise authenticate
// once the client is made confidential.
func endWhatTheEditTakes(tx *gorm.DB, c *Client, inTenant string) (endGrants bool, err error) {
	var cur Client
	err = tx.Model(&Client{}).Clauses(clause.Locking{Strength: "UPDATE"}).
		Select("tenant_id", "connect_as_user_id", "allowed_scopes", "allow_user_tokens", "allow_impersonation",
			"auth_method", "public", "grant_types", "disable_implicit", "secret_digest", "previous_secret_digest", "redirect_uris").
		Where("id = ? AND tenant_id = ?", c.ID, inTenant).Take(&cur).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return false, nil // the update finds no row either: ErrNotFound
	}
	if err != nil {
		return false, err
	}
	identity := cur.TenantID != c.TenantID || !SameUserRef(cur.ConnectAsUserID, c.ConnectAsUserID)
	madePublic := !cur.Public && c.Public
	if Repoints(&cur, c) {
		// A user's remembered approval was for where the tokens went then:
		// everyone approves the new destination again (the consent page),
		// rather than being sent there without a click.
		if err := tx.Where("client_id = ?", c.ID).Delete(&Consent{}).Error; err != nil {
			return false, err
		}
	}
	ended := map[string]any{}
	if identity || narrows(&cur, c) {
		ended["token_generation"] = gorm.Expr("token_generation + 1")
	}
	if identity || madePublic {
		ended["tokens_revoked_at"] = time.Now().UTC() // every token ends, as revoke_tokens ends them
	}
	if madePublic || cur.Public && (cur.SecretDigest != "" || cur.PreviousSecretDigest != "") {
		ended["secret_digest"], ended["secret_ciphertext"] = "", nil
		ended["previous_secret_digest"], ended["previous_secret_until"] = "", nil
	}
	if len(ended) == 0 {
		return false, nil
	}
	return identity || madePublic, tx.Model(&Client{}).Where("id = ?", c.ID).UpdateColumns(ended).Error
}

// Repoints reports whether the settings next send the tokens of users who
// sign in to the client somewhere the settings cur did not: a redirect URI
// added, the client made public (no secret needed to redeem a code) or a
// sign-in app, or a grant added. Whoever does that receives the tokens of
// users who approved the client before, so the admin API lets only the
// client's creator or a super admin (admin/client_rules.go), and remembered
// approvals are forgotten (endWhatTheEditTakes).
func Repoints(cur, next *Client) bool {
	for _, u := range next.RedirectURIs {
		if !slices.Contains(cur.RedirectURIs, u) {
			return true
		}
	}
	for _, g := range GrantTypeNames {
		if !cur.AllowsGrant(g) && next.AllowsGrant(g) {
			return true
		}
	}
	return !cur.Public && next.Public || cur.AuthMethod != AuthUser && next.AuthMethod == AuthUser
}

// narrows reports whether the settings next take away a power the settings
// cur give (see endWhatTheEditTakes); adding one narrows nothing.
func narrows(cur, next *Client) bool {
	for _, sc := range cur.AllowedScopes {
		if !slices.Contains(next.AllowedScopes, sc) {
			return true
		}
	}
	for _, g := range GrantTypeNames {
		if cur.AllowsGrant(g) && !next.AllowsGrant(g) {
			return true
		}
	}
	return cur.AllowUserTokens && !next.AllowUserTokens ||
		cur.AllowImpersonation && !next.AllowImpersonation ||
		cur.AuthMethod != next.AuthMethod ||
		!cur.Public && next.Public
}

// SameUserRef reports whether two connect-as references name the same user.
func SameUserRef(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// SetClientDisabled disables or restores a client. What a super admin
// disabled only a super admin restores (ErrDisabledBySuper), decided on the
// row as the update finds it.
func (s *Store) SetClientDisabled(ctx context.Context, id string, disabled bool, a Actor) error {
	action := "client.restore"
	if disabled {
		action = "client.disable"
	}
	set := map[string]any{"disabled": disabled, "updated_at": time.Now().UTC()}
	if !disabled || a.Super {
		set["disabled_by_super"] = disabled
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := a.clientUnchanged(tx, id); err != nil {
			return err
		}
		q := tx.Model(&Client{}).Where("id = ?", id)
		if !disabled && !a.Super {
			q = q.Where("disabled_by_super = ?", false)
		}
		res := q.Updates(set)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			if !disabled {
				return missingOrSuspended(tx, id, a)
			}
			return ErrNotFound
		}
		if err := notify(tx, Change{Kind: ChangeClient, ClientID: id}); err != nil {
			return err
		}
		return audit(tx, a, action, id, "")
	})
}

// RevokeClientTokens ends every token the client holds: its access tokens
// (the client moves to the next TokenGeneration; the guard refuses tokens
// of an older one) and its refresh tokens, with the authorization codes not
// yet redeemed. Tokens minted once a node has the new generation work. It
// returns the moment recorded in TokensRevokedAt.
func (s *Store) RevokeClientTokens(ctx context.Context, id string, a Actor) (time.Time, error) {
	now := time.Now().UTC()
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := a.clientUnchanged(tx, id); err != nil {
			return err
		}
		res := tx.Model(&Client{}).Where("id = ?", id).Updates(map[string]any{
			"token_generation": gorm.Expr("token_generation + 1"), "tokens_revoked_at": now, "updated_at": now})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		if _, err := revokeUserGrants(tx, "", id, now); err != nil {
			return err
		}
		if err := notify(tx, Change{Kind: ChangeClient, ClientID: id}); err != nil {
			return err
		}
		return audit(tx, a, "client.revoke_tokens", id, "")
	})
	return now, err
}

// RotateSecret replaces a client's secret; the old one keeps working until
// graceUntil (nil: not at all).
func (s *Store) RotateSecret(ctx context.Context, id string, digest string, ciphertext []byte, graceUntil *time.Time, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		// Locked, so that of two rotations at once the second keeps the
		// first one's new secret as its previous one: read unlocked, both
		// kept the secret they replaced alive for their grace, even one
		// the first ended at once (grace 0, say because it leaked).
		var c Client
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Take(&c, "id = ?", id).Error; err != nil {
			return err
		}
		if a.ReadAt != nil && !c.UpdatedAt.Equal(*a.ReadAt) {
			return ErrStale
		}
		if c.Public {
			return ErrPublicClient // made public since the caller read it
		}
		prev := ""
		if graceUntil != nil {
			prev = c.SecretDigest
		}
		err := tx.Model(&Client{}).Where("id = ?", id).Updates(map[string]any{
			"secret_digest":          digest,
			"secret_ciphertext":      ciphertext,
			"previous_secret_digest": prev,
			"previous_secret_until":  graceUntil,
			"updated_at":             time.Now().UTC(),
		}).Error
		if err != nil {
			return err
		}
		if err := notify(tx, Change{Kind: ChangeClient, ClientID: id}); err != nil {
			return err
		}
		return audit(tx, a, "client.rotate", id, "")
	})
}

// clientUnchanged is ErrStale when the actor names a version (ReadAt) that
// is no longer client id's, ErrNotFound when the client is gone; it locks
// the row for the rest of the transaction.
func (a Actor) clientUnchanged(tx *gorm.DB, id string) error {
	if a.ReadAt == nil {
		return nil
	}
	err := unchangedSince(tx, &Client{}, "id = ?", *a.ReadAt, id)
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return ErrNotFound
	}
	return err
}

// missingOrSuspended says why an update or delete of client id, limited
// for an actor without super admin power to clients no super admin
// disabled, touched no row: ErrDisabledBySuper when the client exists.
func missingOrSuspended(tx *gorm.DB, id string, a Actor) error {
	if !a.Super && tx.Where("id = ?", id).Take(&Client{}).Error == nil {
		return ErrDisabledBySuper
	}
	return ErrNotFound
}

// DeleteClient removes a client; its tokens stop verifying everywhere.
func (s *Store) DeleteClient(ctx context.Context, id string, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		if err := a.clientUnchanged(tx, id); err != nil {
			return err
		}
		q := tx.Where("id = ?", id)
		if !a.Super {
			// A pair a super admin suspended stays, or the tenant would
			// allow the app again and get fresh credentials.
			q = q.Where("disabled_by_super = ?", false)
		}
		res := q.Delete(&Client{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return missingOrSuspended(tx, id, a)
		}
		if err := tx.Where("client_id = ?", id).Delete(&DailyUsage{}).Error; err != nil {
			return err
		}
		// A deleted tenant pair frees the tenant to allow the app again.
		if err := tx.Where("client_id = ?", id).Delete(&Connection{}).Error; err != nil {
			return err
		}
		if err := notify(tx, Change{Kind: ChangeClient, ClientID: id}); err != nil {
			return err
		}
		return audit(tx, a, "client.delete", id, "")
	})
}
