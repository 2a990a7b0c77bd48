package store

import (
	"context"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/scopegate/scopegate/module/secret"
)

// UsedRefreshTokensKept is how many retired refresh tokens a family keeps
// as rows once it has rotated more than twice as many times. Each rotation
// used to leave a row for the refresh token's whole lifetime (30 days): a
// client refreshing in a loop added about a thousand rows a second. Past
// the newest few, a retired token is recognised by the family its value
// names (NewRefreshToken) rather than by its own row, and the access token
// issued with it is revoked when its row goes (PruneRefreshFamily).
const UsedRefreshTokensKept = 16

// NewRefreshToken returns a new refresh token of family: the family's id, a
// dot and 256 random bits. Naming the family lets a retired token be
// recognised as one after its row is gone (RefreshFamilyOf): presenting
// it still revokes its grant. The family id tells its holder nothing it
// could use: every token of the family already names it, and only the
// family's client may present them.
func NewRefreshToken(family string) string {
	return family + "." + secret.NewToken(32)
}

// RefreshFamilyOf returns the family a refresh token's value names, or ""
// for a value that names none (tokens made before families were named,
// or anything else).
func RefreshFamilyOf(raw string) string {
	family, rest, ok := strings.Cut(raw, ".")
	// A family id is NewToken(16): 22 base64url characters.
	if !ok || len(family) != 22 || rest == "" || !isBase64URL(family) {
		return ""
	}
	return family
}

func isBase64URL(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// liveFamilyToken returns a refresh token of family still valid at now
// (the newest), or ErrNotFound when the family is gone: revoked, or
// expired.
func liveFamilyToken(tx *gorm.DB, family string, now time.Time) (*RefreshToken, error) {
	var rows []RefreshToken
	err := tx.Where("family_id = ? AND expires_at > ?", family, now.UTC()).
		Order("created_at DESC").Limit(1).Find(&rows).Error
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, ErrNotFound
	}
	return &rows[0], nil
}

// LiveRefreshFamily returns a token of the family the refresh token raw
// names, when raw is not a stored token itself but its family still holds
// one (a retired token whose row was pruned), or ErrNotFound.
func (s *Store) LiveRefreshFamily(ctx context.Context, raw string) (*RefreshToken, error) {
	family := RefreshFamilyOf(raw)
	if family == "" {
		return nil, ErrNotFound
	}
	t, err := liveFamilyToken(s.DB.WithContext(ctx), family, time.Now())
	return t, translate(err)
}

// PruneRefreshFamily keeps a family's retired tokens to the newest
// UsedRefreshTokensKept once it holds more than twice as many, so that its
// rows stay few however often it rotates. The access tokens issued with
// the tokens pruned are revoked while they still verify, as revoking the
// family would have done (grouped, so their revocations are bounded too):
// a client that refreshed that many times since has newer ones. It locks
// the family's rows first, in the order revokeFamily does.
func (s *Store) PruneRefreshFamily(ctx context.Context, family string) error {
	if family == "" {
		return nil
	}
	var used int64
	err := s.DB.WithContext(ctx).Model(&RefreshToken{}).
		Where("family_id = ? AND used_at IS NOT NULL", family).Count(&used).Error
	if err != nil || used <= 2*UsedRefreshTokensKept {
		return translate(err)
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		var rows []RefreshToken
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Order("digest").
			Where("family_id = ?", family).Find(&rows).Error
		if err != nil {
			return err
		}
		rows = slices.DeleteFunc(rows, func(t RefreshToken) bool { return t.UsedAt == nil })
		if len(rows) <= UsedRefreshTokensKept {
			return nil
		}
		slices.SortFunc(rows, func(a, b RefreshToken) int { return b.CreatedAt.Compare(a.CreatedAt) })
		now := time.Now()
		var pruned []string
		for _, t := range rows[UsedRefreshTokensKept:] {
			if t.AccessJTI != "" && t.AccessExpiresAt != nil && t.AccessExpiresAt.After(now) {
				if err := revoke(tx, accessRevocation(t)); err != nil {
					return err
				}
			}
			pruned = append(pruned, t.Digest)
		}
		return tx.Where("digest IN ?", pruned).Delete(&RefreshToken{}).Error
	})
}
