package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// RevocationsKeptPerSubject bounds the revocations kept for the tokens one
// client issued for one subject, the user whose sign-in granted them (the
// app decides, revocationGroup). Without a bound, a client that mints and
// revokes in a loop (or a user of a public client, with their own tokens)
// would add a row, and an entry in every node's memory, per token for as
// long as its tokens live (a year at most). Past the bound, a watermark
// replaces them: every token of that client and subject issued up to a
// second before the newest one revoked is ended, which is what the
// revocations said about those revoked and ends the subject's other tokens
// of that age with them. Nobody else's tokens are touched: only the client,
// or whoever holds the subject's tokens, can revoke tokens of the group.
const RevocationsKeptPerSubject = 1000

// RevocationsKeptPerClient is the bound for the group of the tokens a
// client minted with its secret alone (2-legged, or naming users), whose
// subject is the client itself: one group for all the users it names, so
// larger, that a service revoking its users' tokens at each sign-out does
// not end all of them every thousand sign-outs.
const RevocationsKeptPerClient = 10_000

// RevocationWatermark ends every token ClientID issued for Subject whose
// iat is IssuedUpTo (Unix seconds) or earlier. Kept until no such token
// could still verify.
type RevocationWatermark struct {
	ClientID   string    `gorm:"primaryKey;size:64"`
	Subject    string    `gorm:"primaryKey;size:64"`
	IssuedUpTo int64     `gorm:"not null"`
	ExpiresAt  time.Time `gorm:"not null;index"`
}

// RevokedToken names a token RevokeToken revokes.
type RevokedToken struct {
	JTI, ClientID string
	// Subject names the token's revocation group within the client's
	// tokens: the user whose sign-in granted it, or the client itself for
	// one it minted with its secret alone.
	Subject string
	// IssuedAt is the token's iat.
	IssuedAt time.Time
	// Until is the last moment the token could verify (exp plus leeway).
	Until time.Time
}

// RevokeToken revokes a token as Revoke does, grouped by its client and
// subject; past the group's bound (RevocationsKeptPerSubject, or
// RevocationsKeptPerClient for the client's own group), a watermark
// replaces its revocations. A token revoked twice is counted once, and one
// a watermark already ends is not recorded again.
func (s *Store) RevokeToken(ctx context.Context, t RevokedToken) error {
	return s.tx(ctx, func(tx *gorm.DB) error {
		return revoke(tx, Revocation{JTI: t.JTI, ClientID: t.ClientID, Subject: t.Subject,
			IssuedAt: t.IssuedAt.Unix(), ExpiresAt: t.Until.UTC()})
	})
}

// SetRevocationsKept changes the bounds of RevocationsKeptPerSubject and
// RevocationsKeptPerClient for this store (tests exercise them with a small
// one); 0 restores them.
func (s *Store) SetRevocationsKept(n int) {
	s.revocationsKept.Store(int64(n))
	s.budgets.forget()
}

func (s *Store) kept(clientID, subject string) int64 {
	if n := s.revocationsKept.Load(); n > 0 {
		return n
	}
	if subject == clientID {
		return RevocationsKeptPerClient
	}
	return RevocationsKeptPerSubject
}

// DefaultWatermarkKeep is how long after the second it ends a watermark is
// kept unless KeepWatermarksFor asks for longer: a year (the longest
// lifetime a client may be given) and a day.
const DefaultWatermarkKeep = 366 * 24 * time.Hour

// KeepWatermarksFor makes watermarks last at least d past the second they
// end: the longest lifetime a token may have, plus the leeway. Raised by
// every config that opens the store, never lowered.
func (s *Store) KeepWatermarksFor(d time.Duration) {
	for {
		cur := s.watermarkKeep.Load()
		if int64(d) <= cur || s.watermarkKeep.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

func (s *Store) watermarkKeepFor() time.Duration {
	return max(time.Duration(s.watermarkKeep.Load()), DefaultWatermarkKeep)
}

// storeKey carries the store in its transactions' context, for revoke.
type storeKey struct{}

// revoke writes a revocation and its change-feed entry inside tx; revoking
// a token twice is not an error. A revocation with a subject and an iat is
// grouped (RevocationsKeptPerSubject): revocations of one group take turns
// (lockGroup), so its watermark only moves on.
func revoke(tx *gorm.DB, r Revocation) error {
	s, _ := tx.Statement.Context.Value(storeKey{}).(*Store)
	var w RevocationWatermark
	grouped := s != nil && r.Subject != "" && r.IssuedAt > 0
	if grouped {
		if err := lockGroup(tx, r.ClientID, r.Subject); err != nil {
			return err
		}
		err := tx.Where("client_id = ? AND subject = ?", r.ClientID, r.Subject).Limit(1).Find(&w).Error
		if err != nil {
			return err
		}
		if r.IssuedAt <= w.IssuedUpTo {
			// Ended by the watermark, on every node: no row, but the
			// watermark lasts as long as the token could verify.
			if !r.ExpiresAt.After(w.ExpiresAt) {
				return nil
			}
			return saveWatermark(tx, r.ClientID, r.Subject, w.IssuedUpTo, r.ExpiresAt.UTC())
		}
	}
	res := tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&r)
	if res.Error != nil || res.RowsAffected == 0 {
		// Revoked before: every node has heard of it (a node started since
		// reads the row), so a client revoking one token again and again
		// adds no change-feed entry each time.
		return res.Error
	}
	if err := notify(tx, Change{Kind: ChangeRevoke, ClientID: r.ClientID, JTI: r.JTI}); err != nil {
		return err
	}
	if !grouped {
		return nil
	}
	g := revocationGroup{r.ClientID, r.Subject}
	if s.budgets.spend(g) {
		return nil
	}
	kept := s.kept(r.ClientID, r.Subject)
	n, err := boundRevocations(tx, r.ClientID, r.Subject, w, s.watermarkKeepFor(), kept)
	if err == nil {
		s.budgets.counted(tx, g, n, kept)
	}
	return err
}

// lockGroup makes the revocations of a group take turns, until tx ends. On
// PostgreSQL a transaction-scoped advisory lock, not a row's: no other
// transaction ever waits for it while holding something a revocation
// needs (the watermark row Cleanup deletes, the refresh tokens a family
// revocation locks first). SQLite runs one writer at a time anyway.
func lockGroup(tx *gorm.DB, clientID, subject string) error {
	if tx.Dialector.Name() != Postgres {
		return nil
	}
	return tx.Exec("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", "scopegate.revocations:"+clientID+":"+subject).Error
}

// saveWatermark writes a group's watermark (made if missing: Cleanup may
// just have deleted an expired one) and tells every node.
func saveWatermark(tx *gorm.DB, clientID, subject string, upTo int64, expires time.Time) error {
	w := RevocationWatermark{ClientID: clientID, Subject: subject, IssuedUpTo: upTo, ExpiresAt: expires}
	err := tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "client_id"}, {Name: "subject"}},
		DoUpdates: clause.AssignmentColumns([]string{"issued_up_to", "expires_at"}),
	}).Create(&w).Error
	if err != nil {
		return err
	}
	return notify(tx, Change{Kind: ChangeWatermark, ClientID: clientID, UserID: subject})
}

// boundRevocations replaces the live revocations of a group above its
// watermark w (the group locked by the caller) by a watermark when there
// are more than kept of them. Those of the newest second stay rows, so
// that tokens issued in that second and not revoked keep working, unless
// they alone are more than kept. The watermark never passes a second
// before this node's clock: a token from a node whose clock runs ahead
// must not end the group's tokens minted after it. It returns how many
// live rows the group keeps above its watermark, or kept when it replaced
// some (the rows left are not counted again).
func boundRevocations(tx *gorm.DB, clientID, subject string, w RevocationWatermark, longest time.Duration, kept int64) (int64, error) {
	now := time.Now().UTC()
	live := func() *gorm.DB {
		// Expired rows are Cleanup's.
		return tx.Model(&Revocation{}).Where("client_id = ? AND subject = ? AND issued_at > 0 AND expires_at > ?",
			clientID, subject, now)
	}
	var n int64
	if err := live().Where("issued_at > ?", w.IssuedUpTo).Count(&n).Error; err != nil {
		return 0, err
	}
	if n <= kept {
		return n, nil
	}
	var newest int64
	if err := live().Select("MAX(issued_at)").Scan(&newest).Error; err != nil {
		return 0, err
	}
	upTo := min(newest-1, now.Unix()-1)
	if err := live().Where("issued_at > ?", upTo).Count(&n).Error; err != nil {
		return 0, err
	}
	if n > kept {
		upTo = min(newest, now.Unix())
	}
	if upTo <= w.IssuedUpTo {
		return kept, nil
	}
	// Kept while a token it ends could verify: the revoked ones it
	// replaces (whatever lifetime they were minted with), and any other
	// token of the group, for the longest lifetime from upTo.
	expires := later(w.ExpiresAt.UTC(), time.Unix(upTo, 0).Add(longest).UTC())
	var last Revocation
	if err := live().Where("issued_at <= ?", upTo).Order("expires_at DESC").Limit(1).Find(&last).Error; err != nil {
		return 0, err
	}
	expires = later(expires, last.ExpiresAt.UTC())
	if err := saveWatermark(tx, clientID, subject, upTo, expires); err != nil {
		return 0, err
	}
	return kept, live().Where("issued_at <= ?", upTo).Delete(&Revocation{}).Error
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// ActiveWatermarks lists the watermarks still needed at now.
func (s *Store) ActiveWatermarks(ctx context.Context, now time.Time) ([]RevocationWatermark, error) {
	var out []RevocationWatermark
	return out, translate(s.DB.WithContext(ctx).Where("expires_at > ?", now.UTC()).Find(&out).Error)
}

// Watermark returns the watermark of a client's tokens for subject
// (ErrNotFound when there is none).
func (s *Store) Watermark(ctx context.Context, clientID, subject string) (*RevocationWatermark, error) {
	var w RevocationWatermark
	err := s.DB.WithContext(ctx).Where("client_id = ? AND subject = ?", clientID, subject).Take(&w).Error
	if err != nil {
		return nil, translate(err)
	}
	return &w, nil
}

// RevocationCount counts the revocations kept for a client's tokens for
// subject (made through RevokeToken).
func (s *Store) RevocationCount(ctx context.Context, clientID, subject string) (int64, error) {
	var n int64
	err := s.DB.WithContext(ctx).Model(&Revocation{}).Where("client_id = ? AND subject = ?", clientID, subject).Count(&n).Error
	return n, translate(err)
}
