package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ErrReused means a refresh token that was already rotated came back: the
// whole family it belongs to has been revoked. SaveRefreshToken answers it
// too when the grant was revoked before its new token was saved.
var ErrReused = errors.New("refresh token reused")

// ErrCodeReused means an authorization code that was already redeemed came
// back: what it produced has been revoked (RFC 6749 §4.1.2).
var ErrCodeReused = errors.New("authorization code reused")

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
// its value only. An unused code lives for a minute. A redeemed one is kept,
// marked used and naming the refresh family it started, until
// Redemption.KeepUntil, so that presenting it again revokes that family and
// the access tokens issued with it.
type AuthCode struct {
	Digest string `gorm:"primaryKey;size:64"`
	// Indexed together for GrantsKeptPerUser's count.
	ClientID    string  `gorm:"size:64;not null;index:idx_auth_codes_client_user,priority:1"`
	UserID      string  `gorm:"size:64;not null;index:idx_auth_codes_client_user,priority:2"`
	TenantID    string  `gorm:"size:64;not null"`
	RedirectURI string  `gorm:"size:2000;not null"`
	Scopes      Strings `gorm:"not null"`
	// CodeChallenge is the PKCE S256 challenge, empty when none was sent.
	CodeChallenge string    `gorm:"size:128"`
	ExpiresAt     time.Time `gorm:"not null;index"`
	// UsedAt is when the code was redeemed; FamilyID the refresh family the
	// redemption started.
	UsedAt   *time.Time
	FamilyID string `gorm:"size:64;index"`
	// RevokedAt is when a second redemption revoked what the code produced;
	// from then on the family takes no new refresh token.
	RevokedAt *time.Time
}

// Redemption is what redeeming a code will produce, decided before the
// tokens are minted so that a reuse, even a concurrent one, can find them.
type Redemption struct {
	// FamilyID is the refresh family the redemption starts.
	FamilyID string
	// KeepUntil is how long the used code is kept to recognise its reuse.
	KeepUntil time.Time
	// Check, when set, vets the presenter against the code before anything
	// happens to it (the client it was issued to, the redirect URI, PKCE).
	// An error is returned as is and leaves the code untouched: neither
	// redeemed nor, if it was used before, taken as a reuse, so only the
	// code's own client can spend it or trigger the revocation.
	Check func(*AuthCode) error
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
	// AccessJTI names the access token issued together with this refresh
	// token, so revoking the grant revokes it too; AccessExpiresAt is how
	// long that revocation must last: as long as the token still verifies,
	// its exp plus the leeway (the until of App.Revoke).
	AccessJTI       string `gorm:"column:access_jti;size:64"`
	AccessExpiresAt *time.Time
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
// grants the client holds for the user (revokeUserGrants): its refresh
// tokens and the access tokens issued with them; ErrNotFound when there was
// nothing to revoke.
func (s *Store) RevokeConsent(ctx context.Context, userID, clientID string, a Actor) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		res := tx.Where("user_id = ? AND client_id = ?", userID, clientID).Delete(&Consent{})
		if res.Error != nil {
			return res.Error
		}
		n, err := revokeUserGrants(tx, userID, clientID, time.Now())
		if err != nil {
			return err
		}
		if res.RowsAffected == 0 && n == 0 {
			return ErrNotFound
		}
		return audit(tx, a, "consent.revoke", userID, clientID)
	})
}

// revokeUserGrants ends what the authorization code flow gave a user (of one
// client, or of every client when clientID is ""; or, when userID is "",
// every user's grants of the client clientID), inside tx: codes not yet
// redeemed are deleted, redeemed ones are marked revoked so a refresh token
// being saved for them right now is refused (SaveRefreshToken), and every
// refresh token is deleted with the access tokens issued together with it
// revoked while they still verify (the change feed tells every node), and
// so are the implicit grant's tokens (ImplicitToken). The
// codes are locked before the refresh tokens are read, in the order
// SaveRefreshToken takes them, so a grant completing concurrently is either
// seen here or refused there. It returns how many refresh and implicit
// tokens it ended.
func revokeUserGrants(tx *gorm.DB, userID, clientID string, now time.Time) (int, error) {
	if userID == "" && clientID == "" {
		return 0, errors.New("revokeUserGrants needs a user or a client")
	}
	scoped := func() *gorm.DB {
		q := tx
		if userID != "" {
			q = q.Where("user_id = ?", userID)
		}
		if clientID != "" {
			q = q.Where("client_id = ?", clientID)
		}
		return q
	}
	// The codes are locked first: a redemption being taken back
	// (UndoRedemption) turns a used code unused again, and between the two
	// statements below it would be neither deleted (still used for the
	// first) nor revoked (unused by the second), and redeem into a new
	// grant after the revocation.
	var codes []AuthCode
	if err := scoped().Clauses(clause.Locking{Strength: "UPDATE"}).Select("digest").Order("digest").Find(&codes).Error; err != nil {
		return 0, err
	}
	if err := scoped().Where("used_at IS NULL").Delete(&AuthCode{}).Error; err != nil {
		return 0, err
	}
	if err := scoped().Model(&AuthCode{}).Where("used_at IS NOT NULL AND revoked_at IS NULL").
		Update("revoked_at", now.UTC()).Error; err != nil {
		return 0, err
	}
	// Rotations of the user's (or the client's) tokens stop first
	// (stopRotations), then the refresh tokens are locked, both before any
	// revocation, as revokeFamily does: a revocation locks its group
	// (revoke), and taking the groups first here could deadlock with a
	// family revocation of the same user.
	key := rotationsOfUser(userID)
	if userID == "" {
		key = rotationsOfClient(clientID)
	}
	if err := stopRotations(tx, key); err != nil {
		return 0, err
	}
	tokens, err := lockRefreshTokens(scoped)
	if err != nil {
		return 0, err
	}
	// Every caller ending a whole client's grants (userID "") moves the
	// client to its next token generation in the same transaction, which
	// refuses all its tokens: a revocation of each would be redundant.
	wholeClient := userID == ""
	if !wholeClient {
		// The user's revocation groups, one per client, taken in one
		// order whoever ends the user's grants (revoke takes each again).
		var clients []string
		if err := scoped().Model(&ImplicitToken{}).Distinct().Pluck("client_id", &clients).Error; err != nil {
			return 0, err
		}
		for _, t := range tokens {
			clients = append(clients, t.ClientID)
		}
		slices.Sort(clients)
		for _, c := range slices.Compact(clients) {
			if err := lockGroup(tx, c, userID); err != nil {
				return 0, err
			}
		}
	}
	implicit, err := revokeImplicitTokens(tx, scoped, now, wholeClient)
	if err != nil {
		return 0, err
	}
	if !wholeClient {
		for _, t := range tokens {
			if _, _, err := revokeAccessOf(tx, t, now); err != nil {
				return 0, err
			}
		}
	}
	return len(tokens) + implicit, deleteRefreshTokens(tx, tokens)
}

// lockRefreshTokens locks every refresh token scope selects and returns
// them. A rotation saving a successor holds the lock of the token it
// replaces (SaveRefreshToken), and a locking read returns only rows
// committed when it began: a successor committed while the read waited for
// its predecessor is neither locked nor read, and its own successor can be
// saved while the caller's transaction goes on (a refresh loop outlived a
// password reset so: a plain delete took tokens whose access tokens were
// never revoked, and a rotation committing after it kept the grant alive).
// So the rows are locked in rounds until a round finds none it did not
// hold already: then no rotation can be under way on any of them, and none
// can start (it would wait for a lock held here, then find its token gone:
// ErrReused). A grant rotating faster than a round (milliseconds; a
// rotation is a token request) is refused after maxLockRounds, and the
// caller's transaction rolls back.
func lockRefreshTokens(scope func() *gorm.DB) ([]RefreshToken, error) {
	held := map[string]bool{}
	var all []RefreshToken
	for range maxLockRounds {
		var round []RefreshToken
		if err := scope().Clauses(clause.Locking{Strength: "UPDATE"}).Order("digest").Find(&round).Error; err != nil {
			return nil, err
		}
		fresh := false
		for _, t := range round {
			if !held[t.Digest] {
				held[t.Digest], fresh = true, true
				all = append(all, t)
			}
		}
		if !fresh {
			return all, nil
		}
	}
	return nil, errLockRounds
}

// Rotations of refresh tokens and the revocations that end grants meet on
// advisory locks (PostgreSQL; SQLite runs one writer at a time): a rotation
// holds its user's and its client's lock shared (rotating) while it saves a
// successor, and a revocation takes one of them exclusive (stopRotations)
// before it locks the refresh tokens. So the revocation starts once the
// rotations under way have committed (their successors are then there to
// lock), and no rotation starts until it commits: lockRefreshTokens' rounds
// settle at once, and a client rotating many grants in parallel cannot keep
// a password reset from finishing.
func rotationsOfUser(userID string) string     { return "scopegate.rotations:user:" + userID }
func rotationsOfClient(clientID string) string { return "scopegate.rotations:client:" + clientID }

// rotating takes key shared for the transaction (see rotationsOfUser).
func rotating(tx *gorm.DB, key string) error {
	if tx.Dialector.Name() != Postgres {
		return nil
	}
	return tx.Exec("SELECT pg_advisory_xact_lock_shared(hashtextextended(?, 0))", key).Error
}

// stopRotations takes key exclusive for the transaction (see
// rotationsOfUser).
func stopRotations(tx *gorm.DB, key string) error {
	if tx.Dialector.Name() != Postgres {
		return nil
	}
	return tx.Exec("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", key).Error
}

// maxLockRounds bounds lockRefreshTokens: a round for each rotation that
// slipped past the one before.
const maxLockRounds = 20

var errLockRounds = errors.New("refresh tokens kept being rotated while their grant was ended")

// deleteRefreshTokens deletes tokens (locked by lockRefreshTokens) by digest:
// exactly those whose access tokens were revoked.
func deleteRefreshTokens(tx *gorm.DB, tokens []RefreshToken) error {
	digests := make([]string, len(tokens))
	for i, t := range tokens {
		digests[i] = t.Digest
	}
	for part := range slices.Chunk(digests, 1000) { // under PostgreSQL's 65,535 parameters
		if err := tx.Where("digest IN ?", part).Delete(&RefreshToken{}).Error; err != nil {
			return err
		}
	}
	return nil
}

// revokeAccessOf revokes the access token issued with refresh token t while
// it still verifies (AccessExpiresAt), as Store.Revoke does, and returns
// the revocation (ok false when there was nothing to revoke).
func revokeAccessOf(tx *gorm.DB, t RefreshToken, now time.Time) (r Revocation, ok bool, err error) {
	if t.AccessJTI == "" || t.AccessExpiresAt == nil || !t.AccessExpiresAt.After(now) {
		return Revocation{}, false, nil
	}
	r = accessRevocation(t)
	return r, true, revoke(tx, r)
}

// RedeemAuthCode redeems a code once: it is marked used, with the refresh
// family r starts, in one transaction with the row locked, so only one
// redemption ever succeeds. An unknown or expired code is ErrNotFound; a
// presenter r.Check refuses gets its error and changes nothing. A code
// redeemed before is ErrCodeReused, and in the same transaction what
// it produced is revoked (RFC 6749 §4.1.2): the code is marked revoked (its
// family takes no new refresh token), the family's refresh tokens are
// deleted and the access tokens issued with them are revoked while they
// still verify; those revocations are returned so the caller can apply them at
// once on this node (the change feed tells the others).
func (s *Store) RedeemAuthCode(ctx context.Context, digest string, now time.Time, r Redemption) (*AuthCode, []Revocation, error) {
	var c AuthCode
	var revoked []Revocation
	reused := false
	err := s.tx(ctx, func(tx *gorm.DB) error {
		if err := tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("digest = ?", digest).Take(&c).Error; err != nil {
			return err
		}
		if c.UsedAt == nil && !now.Before(c.ExpiresAt) {
			return ErrNotFound
		}
		if r.Check != nil {
			if err := r.Check(&c); err != nil {
				return err
			}
		}
		if c.UsedAt != nil {
			reused = true
			if c.RevokedAt == nil {
				if err := tx.Model(&AuthCode{}).Where("digest = ?", digest).Update("revoked_at", now.UTC()).Error; err != nil {
					return err
				}
			}
			var err error
			revoked, err = revokeFamily(tx, c.FamilyID, now)
			return err
		}
		return tx.Model(&AuthCode{}).Where("digest = ?", digest).Updates(map[string]any{
			"used_at": now.UTC(), "family_id": r.FamilyID, "expires_at": r.KeepUntil.UTC(),
		}).Error
	})
	switch {
	case err != nil:
		return nil, nil, err
	case reused:
		return nil, revoked, ErrCodeReused
	}
	c.FamilyID = r.FamilyID
	return &c, nil, nil
}

// endedCodeKept is how long the code of an ended refresh grant is kept:
// its first token, saved within the 70 s a redemption may run, must still
// find it revoked (SaveRefreshToken), with room for nodes' clocks to differ.
const endedCodeKept = 5 * time.Minute

// revokeFamily deletes the refresh tokens of a family and revokes, while
// they still verify (AccessExpiresAt), the access tokens issued with them,
// as Store.Revoke does.
func revokeFamily(tx *gorm.DB, familyID string, now time.Time) ([]Revocation, error) {
	if familyID == "" {
		return nil, nil
	}
	// The code that started the family is spent for good: kept minutes
	// more (a first token still being saved into the family finds it
	// revoked: ErrReused), then Cleanup's, not the 30 days of a used code;
	// a user redeeming and revoking in a loop left one row per turn. Codes
	// before refresh tokens, the order every writer of both takes.
	err := tx.Model(&AuthCode{}).Where("family_id = ? AND expires_at > ?", familyID, now.Add(endedCodeKept).UTC()).
		Updates(map[string]any{"expires_at": now.Add(endedCodeKept).UTC(), "revoked_at": gorm.Expr("COALESCE(revoked_at, ?)", now.UTC())}).Error
	if err != nil {
		return nil, err
	}
	// Stop the user's rotations (stopRotations; a family is one user's) and
	// lock the family (lockRefreshTokens) first, then revoke: revoke locks
	// the group, in the order revokeUserGrants takes them too.
	var users []string
	if err := tx.Model(&RefreshToken{}).Where("family_id = ?", familyID).Limit(1).Pluck("user_id", &users).Error; err != nil {
		return nil, err
	}
	for _, u := range users {
		if err := stopRotations(tx, rotationsOfUser(u)); err != nil {
			return nil, err
		}
	}
	family, err := lockRefreshTokens(func() *gorm.DB { return tx.Where("family_id = ?", familyID) })
	if err != nil {
		return nil, err
	}
	var out []Revocation
	for _, t := range family {
		r, ok, err := revokeAccessOf(tx, t, now)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, deleteRefreshTokens(tx, family)
}

// accessRevocation revokes the access token issued with refresh token t, in
// the group of the user whose sign-in granted it (RevocationsKeptPerSubject).
// Its iat is not kept, but t's creation is never before it (the minter
// dates t at its access token's iat when that runs ahead of the clock), so
// a watermark covering t's creation second covers the token.
func accessRevocation(t RefreshToken) Revocation {
	return Revocation{JTI: t.AccessJTI, ClientID: t.ClientID, Subject: t.UserID,
		IssuedAt: t.CreatedAt.Unix(), ExpiresAt: t.AccessExpiresAt.UTC()}
}

// SaveRefreshToken stores t, which replaces the refresh token whose digest
// is replaces (just marked used by UseRefreshToken) or, when replaces is "",
// is the first of its family, issued for the code that started it. Its
// grant must still stand, else ErrReused: the token it replaces must still
// be there (revoking a family deletes its tokens: a rotated one came back,
// or RFC 7009), and the code must not have been used twice. The check locks
// that row, which revoking locks too before it reads the family, so a token
// saved concurrently with a revocation is either refused here or deleted by
// it.
func (s *Store) SaveRefreshToken(ctx context.Context, t *RefreshToken, replaces string) error {
	t.ExpiresAt = t.ExpiresAt.UTC()
	if t.CreatedAt.IsZero() {
		t.CreatedAt = time.Now().UTC()
	}
	if t.AccessExpiresAt != nil {
		utc := t.AccessExpiresAt.UTC()
		t.AccessExpiresAt = &utc
	}
	return s.tx(ctx, func(tx *gorm.DB) error {
		locked := tx.Clauses(clause.Locking{Strength: "UPDATE"})
		if replaces != "" {
			// A revocation of the user's or the client's grants under way
			// (stopRotations) is waited for, then the token replaced is gone.
			if err := rotating(tx, rotationsOfClient(t.ClientID)); err != nil {
				return err
			}
			if err := rotating(tx, rotationsOfUser(t.UserID)); err != nil {
				return err
			}
			var prev []RefreshToken
			err := locked.Select("digest").Where("digest = ? AND family_id = ?", replaces, t.FamilyID).Find(&prev).Error
			if err != nil {
				return err
			}
			if len(prev) == 0 {
				return ErrReused
			}
			return tx.Create(t).Error
		}
		var codes []AuthCode
		if err := locked.Where("family_id = ?", t.FamilyID).Find(&codes).Error; err != nil {
			return err
		}
		for _, c := range codes {
			if c.RevokedAt != nil {
				return ErrReused
			}
		}
		return tx.Create(t).Error
	})
}

// UseRefreshToken marks a refresh token used and returns it, so the caller
// can issue its successor in the same family. An unknown or expired token is
// ErrNotFound. check, when not nil, vets the presenter against the token
// first, as Redemption.Check does for a code: its error is returned as is
// and leaves the token untouched, neither spent nor taken as a reuse, so only
// the token's own client can spend it or set off the revocation. A token
// used before is ErrReused, and its whole grant is revoked: the family is
// deleted, so the successor issued from it stops working too, and the
// access tokens issued with the family are revoked (every node drops them
// through the change feed).
func (s *Store) UseRefreshToken(ctx context.Context, digest string, now time.Time, check func(*RefreshToken) error) (*RefreshToken, error) {
	return s.useRefreshToken(ctx, digest, "", now, check)
}

// UseRefreshTokenValue is UseRefreshToken for the token raw, which also
// takes as reused a retired token whose row was pruned (PruneRefreshFamily)
// while the family its value names still holds a token: check vets the
// presenter against that token, and then the family is revoked. Only a
// value that may be such a token counts (mayBeRetired: sealed with seal).
func (s *Store) UseRefreshTokenValue(ctx context.Context, raw string, seal RefreshSealer, now time.Time, check func(*RefreshToken) error) (*RefreshToken, error) {
	family := RefreshFamilyOf(raw)
	if family != "" && !mayBeRetired(raw, seal) {
		family = ""
	}
	return s.useRefreshToken(ctx, Digest(raw), family, now, check)
}

func (s *Store) useRefreshToken(ctx context.Context, digest, family string, now time.Time, check func(*RefreshToken) error) (*RefreshToken, error) {
	var t RefreshToken
	reusedFamily := ""
	err := s.tx(ctx, func(tx *gorm.DB) error {
		err := tx.Where("digest = ?", digest).Take(&t).Error
		if errors.Is(err, gorm.ErrRecordNotFound) && family != "" {
			// Not a token of the family's rows: a retired one pruned
			// since, when the family still holds a token.
			live, ferr := liveFamilyToken(tx, family, now)
			if ferr != nil {
				return ferr
			}
			if check != nil {
				if err := check(live); err != nil {
					return err
				}
			}
			reusedFamily = family
			return errReuseSeen
		}
		if err != nil {
			return err
		}
		if !now.Before(t.ExpiresAt) {
			return ErrNotFound
		}
		if check != nil {
			if err := check(&t); err != nil {
				return err
			}
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
		reusedFamily = t.FamilyID
		return errReuseSeen
	})
	if errors.Is(err, errReuseSeen) {
		// The family is revoked in a transaction of its own: this one holds
		// the token's row lock (PostgreSQL keeps it after an update that
		// found the row used), and the rotation of the request that used
		// the token first may hold the user's rotation lock (rotating)
		// while it waits for that row, which revokeFamily waits for in
		// turn (stopRotations): a deadlock when two requests present the
		// same token at once.
		err = s.tx(ctx, func(tx *gorm.DB) error {
			_, err := revokeFamily(tx, reusedFamily, now)
			return err
		})
		if err == nil {
			err = ErrReused
		}
	}
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// errReuseSeen rolls back useRefreshToken's first transaction when it found
// the token used before (see there).
var errReuseSeen = errors.New("refresh token reused")

// ReleaseRefreshToken undoes UseRefreshToken when the refresh the token was
// spent for failed afterwards: an error leaves a refresh token usable (RFC
// 6749 §6). A token whose grant was revoked meanwhile is gone, and stays so.
func (s *Store) ReleaseRefreshToken(ctx context.Context, digest string) error {
	return s.DB.WithContext(ctx).Model(&RefreshToken{}).
		Where("digest = ? AND used_at IS NOT NULL", digest).Update("used_at", nil).Error
}

// RevokeRefreshFamily revokes a grant: every refresh token of the family is
// deleted and the access tokens issued with them are revoked.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		_, err := revokeFamily(tx, familyID, time.Now())
		return err
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
