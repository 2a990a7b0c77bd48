package store

import (
	"context"
	"crypto/subtle"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/scopegate/scopegate/module/secret"
)

// UsedRefreshTokensKept is how many retired refresh tokens a named family
// keeps as rows once it holds more than twice as many. Each rotation used
// to leave a row for the refresh token's whole lifetime (30 days): a client
// refreshing in a loop added about a thousand rows a second. Past the
// newest few, a retired token is recognised by the family its value names
// (NewRefreshToken) rather than by its own row, and the access token issued
// with it is revoked when its row goes (PruneRefreshFamily).
const UsedRefreshTokensKept = 16

// pruneBatch bounds the rows one prune takes: a family pruned after every
// rotation past the bound never holds many more.
const pruneBatch = 256

// The handles of refresh token families: NewToken(17), 23 base64url
// characters, for a family whose tokens carry a seal (NewRefreshToken);
// NewToken(16), 22, for one made by an older release, whose tokens carry
// none.
const sealedHandleLen, unsealedHandleLen = 23, 22

// RefreshSealer is the keyed digest that seals refresh tokens
// (secret.Sealer: an HMAC under a key derived from the master key, which
// every node of a database holds and nothing else does).
type RefreshSealer interface{ Digest(string) string }

// NewRefreshFamily returns the handle of a new refresh token family and
// the family id stored for it: the handle's digest, so that a database
// dump holds no value that names a family in a request (as it holds no
// token or code, only their digests).
func NewRefreshFamily() (handle, id string) {
	handle = secret.NewToken(17)
	return handle, Digest(handle)
}

// NewRefreshToken returns a new refresh token of the family whose handle
// is given: the handle, a dot, 192 random bits (32 characters) and the seal
// of what precedes it (32 more: one dot in all, as an access token has two);
// for a family of an older release, the handle, a dot and 256 random bits.
// Naming the family lets a retired token be recognised as one after its row
// is gone (RefreshFamilyOf): presenting it still revokes its grant. The seal tells such a token from a value made up around a
// family's handle, which must not end the grant (a red team ended one with
// the handle and any suffix: a logged or cut-off token was enough). The
// handle tells its holder nothing it could use: every token of the family
// already names it, and only the family's client may present them.
func NewRefreshToken(handle string, seal RefreshSealer) string {
	if len(handle) != sealedHandleLen {
		return handle + "." + secret.NewToken(32)
	}
	body := handle + "." + secret.NewToken(24)
	return body + sealOf(body, seal)
}

// sealedLen is the length of a sealed refresh token: the handle, the dot,
// 32 random characters and the 32 of the seal.
const sealedLen = sealedHandleLen + 1 + 32 + 32

// sealOf is the seal of a sealed refresh token's handle and random part:
// 128 bits of the keyed digest, in hex.
func sealOf(body string, seal RefreshSealer) string {
	return seal.Digest("scopegate refresh token\x00" + body)[:32]
}

// mayBeRetired reports whether raw, a value no row holds that names a
// family (RefreshFamilyOf), may be a retired token of it: for a family whose
// tokens are sealed only a value carrying its seal, checked in constant
// time; for an older family any value of its tokens' shape naming it.
func mayBeRetired(raw string, seal RefreshSealer) bool {
	switch len(RefreshHandleOf(raw)) {
	case unsealedHandleLen:
		// The shape its tokens have, at least: 256 random bits after the
		// dot (a cut-off token or a made-up suffix is unknown).
		rest := raw[unsealedHandleLen+1:]
		return len(rest) == 43 && isBase64URL(rest)
	case sealedHandleLen:
		if len(raw) != sealedLen {
			return false
		}
		body, mac := raw[:sealedLen-32], raw[sealedLen-32:]
		return subtle.ConstantTimeCompare([]byte(sealOf(body, seal)), []byte(mac)) == 1
	}
	return false
}

// RefreshHandleOf returns the family handle a refresh token's value names,
// or "" for a value that names none (tokens made before families were
// named, or anything else).
func RefreshHandleOf(raw string) string {
	handle, rest, ok := strings.Cut(raw, ".")
	if !ok || (len(handle) != sealedHandleLen && len(handle) != unsealedHandleLen) || rest == "" || !isBase64URL(handle) {
		return ""
	}
	return handle
}

// RefreshFamilyOf returns the id of the family a refresh token's value
// names, or "".
func RefreshFamilyOf(raw string) string {
	if h := RefreshHandleOf(raw); h != "" {
		return Digest(h)
	}
	return ""
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
// names, when raw is not a stored token itself but may be a retired one of
// the family (mayBeRetired) whose row was pruned, and the family still
// holds one; else ErrNotFound.
func (s *Store) LiveRefreshFamily(ctx context.Context, raw string, seal RefreshSealer) (*RefreshToken, error) {
	family := RefreshFamilyOf(raw)
	if family == "" || !mayBeRetired(raw, seal) {
		return nil, ErrNotFound
	}
	t, err := liveFamilyToken(s.DB.WithContext(ctx), family, time.Now())
	return t, translate(err)
}

// PruneRefreshFamily keeps a named family's retired tokens to about the
// newest UsedRefreshTokensKept once it holds more than twice as many, so
// that its rows stay few however often it rotates. Only families whose
// tokens name them are pruned: an older family's retired tokens are known
// by their rows alone. The access tokens issued with the tokens pruned are
// revoked while they still verify, as revoking the family would have done
// (grouped with the user's, so a loop of refreshes ends up as a
// watermark, not a row per token).
//
// It locks only retired rows, in the order revokeFamily and
// revokeUserGrants lock a family's: a successor being saved is never
// retired, so a revocation that has not seen it yet (and deletes it last)
// never waits in a circle with the prune.
func (s *Store) PruneRefreshFamily(ctx context.Context, family string) error {
	var used []RefreshToken
	err := s.DB.WithContext(ctx).Select("created_at").Where("family_id = ? AND used_at IS NOT NULL", family).
		Order("created_at DESC").Limit(2*UsedRefreshTokensKept + 1).Find(&used).Error
	if err != nil || len(used) <= 2*UsedRefreshTokensKept {
		return translate(err)
	}
	// Rows retired before the newest few (those of the cut-off's second
	// stay with it).
	cutoff := used[UsedRefreshTokensKept-1].CreatedAt
	return s.tx(ctx, func(tx *gorm.DB) error {
		var rows []RefreshToken
		err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Order("digest").Limit(pruneBatch).
			Where("family_id = ? AND used_at IS NOT NULL AND created_at < ?", family, cutoff).Find(&rows).Error
		if err != nil || len(rows) == 0 {
			return err
		}
		now := time.Now()
		digests := make([]string, 0, len(rows))
		for _, t := range rows {
			if t.AccessJTI != "" && t.AccessExpiresAt != nil && t.AccessExpiresAt.After(now) {
				if err := revoke(tx, accessRevocation(t)); err != nil {
					return err
				}
			}
			digests = append(digests, t.Digest)
		}
		return tx.Where("digest IN ?", digests).Delete(&RefreshToken{}).Error
	})
}
