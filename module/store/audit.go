package store

import (
	"context"
	"time"

	"gorm.io/gorm"
)

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

// ListAudit returns one page of the audit log, newest first.
func (s *Store) ListAudit(ctx context.Context, tenantID string, p Page) ([]AuditEntry, int64, error) {
	q := s.DB.WithContext(ctx).Model(&AuditEntry{})
	if tenantID != "" {
		q = q.Where("tenant_id = ?", tenantID)
	}
	var total int64
	if err := q.Count(&total).Error; err != nil {
		return nil, 0, err
	}
	var out []AuditEntry
	return out, total, translate(p.apply(q.Order("id DESC")).Find(&out).Error)
}

// Audit writes an audit row on its own (for actions with no other write).
func (s *Store) Audit(ctx context.Context, a Actor, action, target, detail string) error {
	return s.tx(ctx, func(tx *gorm.DB) error { return audit(tx, a, action, target, detail) })
}

// audit writes an audit row inside tx, and keeps it for the OnAudit hook,
// which runs once the transaction commits (see Store.tx).
func audit(tx *gorm.DB, a Actor, action, target, detail string) error {
	e := &AuditEntry{
		At: time.Now().UTC(), TenantID: a.TenantID, Actor: a.Principal, Via: a.Via,
		Action: action, Target: target, RemoteAddr: a.RemoteAddr, Detail: detail,
	}
	if err := tx.Create(e).Error; err != nil {
		return err
	}
	if w, ok := tx.Statement.Context.Value(feedWritten{}).(*written); ok {
		w.audit = append(w.audit, *e)
	}
	return nil
}

// OnAudit sets fn to run with every audit entry once the transaction that
// wrote it has committed (an entry rolled back is never seen), so that
// every admin change, whatever route made it, can be logged in one place.
func (s *Store) OnAudit(fn func(ctx context.Context, e AuditEntry)) { s.onAudit.Store(&fn) }

// audited runs the OnAudit hook for the entries of a committed transaction.
func (s *Store) audited(ctx context.Context, entries []AuditEntry) {
	if fn := s.onAudit.Load(); fn != nil {
		for _, e := range entries {
			(*fn)(ctx, e)
		}
	}
}
