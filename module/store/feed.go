package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

// Change is one entry of the change feed: every node (the writing one
// included) drops what it cached about what the entry names. An entry is
// written in the transaction of the change it reports, so it exists if and
// only if the change committed. Entries are trimmed after a few minutes.
type Change struct {
	ID   uint64 `gorm:"primaryKey;autoIncrement"`
	Kind string `gorm:"size:32;not null"`
	// ClientID names the client of a ChangeClient entry, and the client of
	// the revoked token of a ChangeRevoke one.
	ClientID string `gorm:"size:64"`
	// UserID names the user of a ChangeUser entry.
	UserID string `gorm:"size:64"`
	// JTI names the revoked token of a ChangeRevoke entry.
	JTI       string    `gorm:"column:jti;size:64"`
	CreatedAt time.Time `gorm:"index"`
}

// Change kinds.
const (
	ChangeClient  = "client"  // a client was created, updated, disabled, restored, rotated or deleted
	ChangeRevoke  = "revoke"  // a token was revoked
	ChangeKeys    = "keys"    // the signing key ring changed
	ChangeUser    = "user"    // a user was created, disabled or changed
	ChangeGeneral = "general" // anything else cached (apps, connections)
	// A revocation watermark moved: ClientID and UserID (the subject) name it.
	ChangeWatermark = "watermark"
)

// ChangeFeed is how a node learns of committed changes, its own included.
// Cursors are feed ids: Since(c) returns what comes after c. The store's
// feed is its changes table, which nodes poll; on PostgreSQL a Listener
// wakes the poll as soon as a change commits.
type ChangeFeed interface {
	// Since returns up to limit entries after cursor, oldest first.
	Since(ctx context.Context, cursor uint64, limit int) ([]Change, error)
	// Last returns the newest cursor (0 when the feed is empty).
	Last(ctx context.Context) (uint64, error)
	// Before returns the newest cursor of an entry written before t (0 when
	// there is none). A node that starts begins at Before(now - StartReplay()),
	// not at Last: an entry of a transaction still open takes its id when
	// written but appears when it commits, below Last, and a node starting
	// at Last would pass over it for good.
	Before(ctx context.Context, t time.Time) (uint64, error)
}

// StartReplay is how far back a starting node reads the feed again: past
// the longest a transaction may stay open (TxTimeout), with a minute for the
// clocks of the nodes that stamp the entries.
func StartReplay() time.Duration { return TxTimeout + time.Minute }

// Feed returns the change feed of this database.
func (s *Store) Feed() ChangeFeed { return tableFeed{s} }

// tableFeed is the changes table.
type tableFeed struct{ s *Store }

func (f tableFeed) Since(ctx context.Context, cursor uint64, limit int) ([]Change, error) {
	var out []Change
	err := f.s.DB.WithContext(ctx).Where("id > ?", cursor).Order("id").Limit(limit).Find(&out).Error
	for i, c := range out {
		if c.Kind == ChangeUser && c.UserID == "" {
			// Written by a version from before user_id, which kept the
			// user id in jti: read it where it belongs.
			out[i].UserID, out[i].JTI = c.JTI, ""
		}
	}
	return out, translate(err)
}

func (f tableFeed) Last(ctx context.Context) (uint64, error) {
	var id *uint64
	err := f.s.DB.WithContext(ctx).Model(&Change{}).Select("MAX(id)").Scan(&id).Error
	if err != nil || id == nil {
		return 0, translate(err)
	}
	return *id, nil
}

func (f tableFeed) Before(ctx context.Context, t time.Time) (uint64, error) {
	var id *uint64
	err := f.s.DB.WithContext(ctx).Model(&Change{}).Where("created_at < ?", t.UTC()).Select("MAX(id)").Scan(&id).Error
	if err != nil || id == nil {
		return 0, translate(err)
	}
	return *id, nil
}

// OnChange has fn called after every transaction that wrote a feed entry
// commits, before the write returns, in the writer's goroutine (its context
// is passed on). The node's runtime applies the feed there, so the node
// that makes a change never serves what it just changed, with no call a
// handler must remember; other nodes learn through the feed.
func (s *Store) OnChange(fn func(ctx context.Context)) { s.onChange.Store(&fn) }

// Notify appends an entry to the change feed on its own.
func (s *Store) Notify(ctx context.Context, c Change) error {
	return s.tx(ctx, func(tx *gorm.DB) error { return notify(tx, c) })
}

// feedWritten is the context key of what a transaction wrote that hooks
// must hear of once it commits.
type feedWritten struct{}

// written is what a transaction wrote to the feed and the audit log.
type written struct {
	feed  bool         // a feed entry (the OnChange hook runs)
	audit []AuditEntry // audit entries (the OnAudit hook runs)
	after []func()     // run once the transaction commits (afterCommit)
}

// afterCommit runs fn once tx commits (never if it rolls back); in a
// transaction not started by Store.tx, at once.
func afterCommit(tx *gorm.DB, fn func()) {
	if w, ok := tx.Statement.Context.Value(feedWritten{}).(*written); ok {
		w.after = append(w.after, fn)
		return
	}
	fn()
}

// notify appends c to the change feed inside tx, wakes the other nodes
// when it commits (PostgreSQL, see Listener), and marks the transaction
// (see Store.tx) so the OnChange hook runs once it commits.
func notify(tx *gorm.DB, c Change) error {
	c.ID, c.CreatedAt = 0, time.Now().UTC()
	if err := tx.Create(&c).Error; err != nil {
		return err
	}
	if err := pgNotify(tx); err != nil {
		return err
	}
	if w, ok := tx.Statement.Context.Value(feedWritten{}).(*written); ok {
		w.feed = true
	}
	return nil
}

// changed runs the OnChange hook after a transaction that wrote to the feed.
func (s *Store) changed(ctx context.Context) {
	if fn := s.onChange.Load(); fn != nil {
		(*fn)(ctx)
	}
}
