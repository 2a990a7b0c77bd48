package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ErrReused means a refresh token that was already rotated came back: the
// whole family it belongs to has been revoked.
var ErrReused = errors.New("refresh token reused")

// Consent records the scopes a user approved for a client at the authorize
// endpoint, so later requests for the same (or fewer) scopes skip the page.
type Consent struct {
	UserID    string  `gorm:"primaryKey;size:64"`
	ClientID  string  `gorm:"primaryKey;size:64;index"`
	Scopes    Strings `gorm:"not null"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// AuthCode is an authorization code (RFC 6749 §4.1), kept by the digest of
// its value only, for a minute, and deleted when redeemed.
type AuthCode struct {
	Digest      string  `gorm:"primaryKey;size:64"`
	ClientID    string  `gorm:"size:64;not null"`
	UserID      string  `gorm:"size:64;not null"`
	TenantID    string  `gorm:"size:64;not null"`
	RedirectURI string  `gorm:"size:2000;not null"`
	Scopes      Strings `gorm:"not null"`
	// CodeChallenge is the PKCE S256 challenge, empty when none was sent.
	CodeChallenge string    `gorm:"size:128"`
	ExpiresAt     time.Time `gorm:"not null;index"`
}

// RefreshToken is one refresh token, kept by digest. Each use rotates it: the
// row is marked used and a new one of the same family is issued. A used
// token that comes back revokes its family.
type RefreshToken struct {
	Digest    string     `gorm:"primaryKey;size:64"`
	FamilyID  string     `gorm:"size:64;not null;index"`
	ClientID  string     `gorm:"size:64;not null;index:idx_refresh_tokens_client_user,priority:1"`
	UserID    string     `gorm:"size:64;not null;index:idx_refresh_tokens_client_user,priority:2"`
	Scopes    Strings    `gorm:"not null"`
	ExpiresAt time.Time  `gorm:"not null;index"`
	UsedAt    *time.Time `gorm:""`
	CreatedAt time.Time
}

// Digest returns the hex SHA-256 of a code or refresh token: the stored key,
// so a database dump reveals no usable value. The values are random and long,
// so a fast unsalted hash is enough.
func Digest(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

// GetConsent returns what a user approved for a client, or ErrNotFound.
func (s *Store) GetConsent(ctx context.Context, userID, clientID string) (*Consent, error) {
	var c Consent
	err := s.DB.WithContext(ctx).Where("user_id = ? AND client_id = ?", userID, clientID).Take(&c).Error
	if err != nil {
		return nil, translate(err)
	}
	return &c, nil
}

// SaveConsent adds scopes to what a user approved for a client. Two first
// approvals at once collide on the key; the loser merges into the winner.
func (s *Store) SaveConsent(ctx context.Context, userID, clientID string, scopes []string) error {
	err := s.saveConsent(ctx, userID, clientID, scopes)
	if errors.Is(err, ErrConflict) {
		err = s.saveConsent(ctx, userID, clientID, scopes)
	}
	return err
}

func (s *Store) saveConsent(ctx context.Context, userID, clientID string, scopes []string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		now := time.Now().UTC()
		var c Consent
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).
			Where("user_id = ? AND client_id = ?", userID, clientID).Take(&c).Error
		if errors.Is(err, gorm.ErrRecordNotFound) {
			c = Consent{UserID: userID, ClientID: clientID, Scopes: Strings{}, CreatedAt: now}
		} else if err != nil {
			return err
		}
		for _, sc := range scopes {
			if !c.Scopes.Contains(sc) {
				c.Scopes = append(c.Scopes, sc)
			}
		}
		c.UpdatedAt = now
		if c.CreatedAt.Equal(now) {
			return tx.Create(&c).Error
		}
		return tx.Save(&c).Error
	})
}

// RevokeConsent forgets what a user approved for a client and revokes the
// refresh tokens the client holds for the user; ErrNotFound when there was
// nothing to revoke. Access tokens already issued live until they expire.
func (s *Store) RevokeConsent(ctx context.Context, userID, clientID string, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("user_id = ? AND client_id = ?", userID, clientID).Delete(&Consent{})
		if res.Error != nil {
			return res.Error
		}
		rt := tx.Where("user_id = ? AND client_id = ?", userID, clientID).Delete(&RefreshToken{})
		if rt.Error != nil {
			return rt.Error
		}
		if res.RowsAffected == 0 && rt.RowsAffected == 0 {
			return ErrNotFound
		}
		return audit(tx, a, "consent.revoke", userID, clientID)
	})
}

// SaveAuthCode stores a new authorization code.
func (s *Store) SaveAuthCode(ctx context.Context, c *AuthCode) error {
	c.ExpiresAt = c.ExpiresAt.UTC()
	return translate(s.DB.WithContext(ctx).Create(c).Error)
}

// RedeemAuthCode takes a code out of the store: it is deleted in the same
// transaction, so only one redemption ever succeeds. An unknown, already
// redeemed or expired code is ErrNotFound.
func (s *Store) RedeemAuthCode(ctx context.Context, digest string, now time.Time) (*AuthCode, error) {
	var c AuthCode
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("digest = ?", digest).Take(&c).Error; err != nil {
			return err
		}
		res := tx.Where("digest = ?", digest).Delete(&AuthCode{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 { // redeemed concurrently
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !now.Before(c.ExpiresAt) {
		return nil, ErrNotFound
	}
	return &c, nil
}

// SaveRefreshToken stores a new refresh token.
func (s *Store) SaveRefreshToken(ctx context.Context, t *RefreshToken) error {
	t.ExpiresAt = t.ExpiresAt.UTC()
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC()
	}
	return translate(s.DB.WithContext(ctx).Create(t).Error)
}

// UseRefreshToken marks a refresh token used and returns it, so the caller
// can issue its successor in the same family. An unknown or expired token is
// ErrNotFound; a token used before is ErrReused, and its whole family is
// deleted, so the successor issued from it stops working too.
func (s *Store) UseRefreshToken(ctx context.Context, digest string, now time.Time) (*RefreshToken, error) {
	var t RefreshToken
	reused := false
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Where("digest = ?", digest).Take(&t).Error; err != nil {
			return err
		}
		if !now.Before(t.ExpiresAt) {
			return ErrNotFound
		}
		used := now.UTC()
		res := tx.Model(&RefreshToken{}).Where("digest = ? AND used_at IS NULL", digest).Update("used_at", used)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 1 {
			t.UsedAt = &used
			return nil
		}
		reused = true
		return tx.Where("family_id = ?", t.FamilyID).Delete(&RefreshToken{}).Error
	})
	if err != nil {
		return nil, err
	}
	if reused {
		return nil, ErrReused
	}
	return &t, nil
}

// RevokeRefreshFamily deletes every refresh token of a family.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string) error {
	return translate(s.DB.WithContext(ctx).Where("family_id = ?", familyID).Delete(&RefreshToken{}).Error)
}

// cleanupAuthorize deletes expired codes and refresh tokens (used ones are
// kept until they expire, to recognise their reuse).
func cleanupAuthorize(tx *gorm.DB, now time.Time) error {
	if err := tx.Where("expires_at <= ?", now).Delete(&AuthCode{}).Error; err != nil {
		return err
	}
	return tx.Where("expires_at <= ?", now).Delete(&RefreshToken{}).Error
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
		if err := notify(tx, ChangeUser, "", userID); err != nil {
			return err
		}
		return audit(tx, a, "user.password", userID, "")
	})
}

// GetRefreshToken returns a refresh token by digest, used or not, or
// ErrNotFound.
func (s *Store) GetRefreshToken(ctx context.Context, digest string) (*RefreshToken, error) {
	var t RefreshToken
	if err := s.DB.WithContext(ctx).Where("digest = ?", digest).Take(&t).Error; err != nil {
		return nil, translate(err)
	}
	return &t, nil
}
