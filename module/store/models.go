package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"
)

// Strings is a list of strings kept as a JSON array in a text column, the
// same on SQLite and PostgreSQL.
type Strings []string

// GormDataType tells GORM the column type.
func (Strings) GormDataType() string { return "text" }

// Value implements driver.Valuer.
func (s Strings) Value() (driver.Value, error) {
	if s == nil {
		return "[]", nil
	}
	b, err := json.Marshal([]string(s))
	return string(b), err
}

// Scan implements sql.Scanner.
func (s *Strings) Scan(v any) error {
	var b []byte
	switch t := v.(type) {
	case nil:
		*s = nil
		return nil
	case string:
		b = []byte(t)
	case []byte:
		b = t
	default:
		return fmt.Errorf("cannot scan %T into Strings", v)
	}
	return json.Unmarshal(b, (*[]string)(s))
}

// Contains reports whether v is in the list.
func (s Strings) Contains(v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// Tenant is an organisation whose users, clients and data are kept apart
// from every other tenant's.
type Tenant struct {
	ID        string `gorm:"primaryKey;size:64"`
	Name      string `gorm:"size:200;not null;uniqueIndex"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

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

// Auth methods of a client (Bigtincan's two kinds of custom app).
const (
	// AuthAPIKey clients authenticate as a server with their id and secret.
	AuthAPIKey = "api_key"
	// AuthUser clients act for the user who signs in and consents.
	AuthUser = "user"
)

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
	// (the implicit grant is on unless an admin turns it off).
	DisableImplicit bool
	// Public marks a client that cannot keep a secret, such as a browser or
	// native app (RFC 6749 §2.1; token_endpoint_auth_method "none"): it
	// names itself with client_id alone, must use PKCE (S256) for codes and
	// may not use client_credentials. Every other client is confidential and
	// authenticates with its secret for every grant.
	Public bool
	// AppID links a tenant-specific client to the app it was generated for.
	AppID *string `gorm:"size:64;index"`
	// OwnerID is the principal (user or client id) that created the client.
	OwnerID  string `gorm:"size:64;not null;index"`
	Disabled bool
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

// SigningKey is one Ed25519 key of the key ring. It is published (JWKS)
// from CreatedAt, signs from ActivatesAt until RetiredAt (the next key's
// activation), and verifies until VerifyUntil.
type SigningKey struct {
	KID               string `gorm:"column:kid;primaryKey;size:64"`
	Algorithm         string `gorm:"size:16;not null"`
	PublicKey         []byte `gorm:"not null"`
	PrivateCiphertext []byte `gorm:"not null"`
	CreatedAt         time.Time
	// ActivatesAt is when the key starts signing: a rotation pre-publishes
	// the next key (key_prepublish) so that JWKS caches hold it before any
	// token does. Nullable so AutoMigrate can add it to a database made
	// before pre-publication; NULL means active since CreatedAt.
	ActivatesAt *time.Time
	// RetiredAt is when the key stops signing; it may be in the future
	// while its successor is pre-published.
	RetiredAt   *time.Time
	VerifyUntil *time.Time
}

// Activation returns when k starts (or started) signing.
func (k *SigningKey) Activation() time.Time {
	if k.ActivatesAt != nil {
		return *k.ActivatesAt
	}
	return k.CreatedAt
}

// Revocation keeps a revoked token's id until the token can no longer
// verify (ExpiresAt: its exp plus the verifier's leeway, see Revoke).
type Revocation struct {
	JTI       string    `gorm:"column:jti;primaryKey;size:64"`
	ClientID  string    `gorm:"size:64;not null;index"`
	ExpiresAt time.Time `gorm:"not null;index"`
}

// Change is one entry of the change feed other gateway nodes poll to drop
// what they cached about a client or a token. Entries are trimmed after a
// few minutes.
type Change struct {
	ID        uint64    `gorm:"primaryKey;autoIncrement"`
	Kind      string    `gorm:"size:32;not null"`
	ClientID  string    `gorm:"size:64"`
	JTI       string    `gorm:"column:jti;size:64"`
	CreatedAt time.Time `gorm:"index"`
}

// Change kinds.
const (
	ChangeClient  = "client"  // a client was updated, disabled, restored, rotated or deleted
	ChangeRevoke  = "revoke"  // a token was revoked
	ChangeKeys    = "keys"    // the signing key ring changed
	ChangeUser    = "user"    // a user was disabled or changed
	ChangeGeneral = "general" // anything else cached (apps, connections)
)

// DailyUsage counts the token seconds one subject got from one client on one
// day (Nitro's maximum duration per day). Old days are deleted.
type DailyUsage struct {
	ClientID    string `gorm:"primaryKey;size:64"`
	Subject     string `gorm:"primaryKey;size:64"`
	Day         string `gorm:"primaryKey;size:10"`
	SecondsUsed int64  `gorm:"not null"`
	UpdatedAt   time.Time
}

// AuditEntry records one admin action: who, what, when and from where.
type AuditEntry struct {
	ID         uint64    `gorm:"primaryKey;autoIncrement"`
	At         time.Time `gorm:"not null;index"`
	TenantID   string    `gorm:"size:64;index"`
	Actor      string    `gorm:"size:64;not null"`
	Action     string    `gorm:"size:64;not null"`
	Target     string    `gorm:"size:64"`
	RemoteAddr string    `gorm:"size:64"`
	Detail     string    `gorm:"type:text"`
	// Via is what Actor came through (Actor.Via), so a principal named by a
	// token can be told apart from the client that carried it.
	Via string `gorm:"size:200"`
}

// Actor identifies who makes a change, for the audit log.
type Actor struct {
	Principal  string
	TenantID   string
	RemoteAddr string
	// Via names the channel: the token's client_id (then " act " and the
	// RFC 8693 actor when the token acts for someone), "console" for a
	// console session, "" for a local command.
	Via string
}

func allModels() []any {
	return []any{&Tenant{}, &User{}, &Client{}, &SigningKey{}, &Revocation{}, &Change{}, &DailyUsage{}, &AuditEntry{}, &DeveloperApp{}, &Connection{}, &Consent{}, &AuthCode{}, &RefreshToken{}, &EndedSession{}}
}
