package store

import (
	"time"

	"gorm.io/gorm"
)

// ImplicitToken records an access token the implicit grant handed a
// user's browser (response_type=token): such a token comes with no refresh
// token, so without this row nothing would tie it to its user and client,
// and a password reset, a disable, a consent revoked or a client's grants
// ended would leave it working until it expires. revokeUserGrants revokes
// it with the rest of the user's grants. Kept until the token would no
// longer verify (its exp plus the leeway), then deleted by Cleanup.
type ImplicitToken struct {
	JTI       string    `gorm:"column:jti;primaryKey;size:64"`
	ClientID  string    `gorm:"size:64;not null;index:idx_implicit_tokens_client_user,priority:1"`
	UserID    string    `gorm:"size:64;not null;index:idx_implicit_tokens_client_user,priority:2;index"`
	ExpiresAt time.Time `gorm:"not null;index"`
	// IssuedAt is the token's iat (Unix seconds; 0 in rows of older
	// builds), which groups its revocation (RevocationsKeptPerSubject).
	IssuedAt int64 `gorm:"not null;default:0"`
}

// revokeImplicitTokens revokes, inside tx, the implicit-grant tokens that
// scoped selects and can still verify at now, and forgets them all; it
// returns how many it revoked. When the whole client's tokens end
// (wholeClient), its token generation moves on in the same transaction
// and refuses them all: a revocation and a change-feed entry for each would
// be redundant, so the records are only forgotten.
func revokeImplicitTokens(tx *gorm.DB, scoped func() *gorm.DB, now time.Time, wholeClient bool) (int, error) {
	if wholeClient {
		return 0, scoped().Delete(&ImplicitToken{}).Error
	}
	var rows []ImplicitToken
	if err := scoped().Where("expires_at > ?", now.UTC()).Order("jti").Find(&rows).Error; err != nil {
		return 0, err
	}
	for _, t := range rows {
		r := Revocation{JTI: t.JTI, ClientID: t.ClientID, Subject: t.UserID, IssuedAt: t.IssuedAt, ExpiresAt: t.ExpiresAt}
		if err := revoke(tx, r); err != nil {
			return 0, err
		}
	}
	return len(rows), scoped().Delete(&ImplicitToken{}).Error
}
