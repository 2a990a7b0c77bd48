package app

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/store"
)

// revokedSet is a node's copy of the revocations that still matter: the
// revoked token ids, and the watermarks that replaced the revocations of
// a client's tokens for one subject once there were too many of them
// (store.RevocationsKeptPerSubject).
type revokedSet struct {
	mu  sync.RWMutex
	ids map[string]time.Time // jti -> when the token stops verifying anyway
	// groups holds, per client and subject, the watermark and the ids of
	// the grouped revocations still kept, so that a watermark moving on
	// drops the ids it covers from memory as the store drops their rows.
	groups map[subjectKey]*subjectGroup
	// watermarks counts the groups with a watermark: while there are none
	// (the usual case), checking a token looks up no group.
	watermarks int
}

type subjectKey struct{ client, subject string }

type subjectGroup struct {
	upTo  int64     // tokens issued up to this second are ended; 0: none
	until time.Time // when the watermark is no longer needed
	ids   map[string]int64
}

func newRevokedSet() *revokedSet {
	return &revokedSet{ids: map[string]time.Time{}, groups: map[subjectKey]*subjectGroup{}}
}

// add records a revocation; one a watermark already covers needs no entry.
func (s *revokedSet) add(r store.Revocation) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addLocked(r)
}

func (s *revokedSet) addLocked(r store.Revocation) {
	if r.Subject == "" || r.IssuedAt <= 0 {
		s.ids[r.JTI] = r.ExpiresAt
		return
	}
	g := s.group(subjectKey{r.ClientID, r.Subject})
	if r.IssuedAt <= g.upTo {
		return
	}
	s.ids[r.JTI] = r.ExpiresAt
	g.ids[r.JTI] = r.IssuedAt
}

func (s *revokedSet) group(k subjectKey) *subjectGroup {
	g := s.groups[k]
	if g == nil {
		g = &subjectGroup{ids: map[string]int64{}}
		s.groups[k] = g
	}
	return g
}

// setWatermark moves a group's watermark on (never back) and forgets the
// revocations it covers; it reports whether the watermark moved.
func (s *revokedSet) setWatermark(w store.RevocationWatermark) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.setWatermarkLocked(w)
}

func (s *revokedSet) setWatermarkLocked(w store.RevocationWatermark) bool {
	g := s.group(subjectKey{w.ClientID, w.Subject})
	if w.ExpiresAt.After(g.until) {
		g.until = w.ExpiresAt
	}
	if w.IssuedUpTo <= g.upTo {
		return false
	}
	if g.upTo == 0 {
		s.watermarks++
	}
	g.upTo = w.IssuedUpTo
	for jti, iat := range g.ids {
		if iat <= g.upTo {
			delete(g.ids, jti)
			delete(s.ids, jti)
		}
	}
	return true
}

// revoked reports whether the token jti, issued at iat (Unix seconds) by
// client for subject, is revoked.
func (s *revokedSet) revoked(jti, client, subject string, iat int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, ok := s.ids[jti]; ok {
		return true
	}
	if s.watermarks == 0 {
		return false
	}
	g := s.groups[subjectKey{client, subject}]
	return g != nil && iat <= g.upTo
}

// holds reports whether the token jti is revoked by a revocation of its
// own (not only ended by a watermark).
func (s *revokedSet) holds(jti string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, ok := s.ids[jti]
	return ok
}

// watermark returns the second up to which the group's tokens are ended,
// 0 when it has no watermark.
func (s *revokedSet) watermark(client, subject string) int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.watermarks == 0 {
		return 0
	}
	if g := s.groups[subjectKey{client, subject}]; g != nil {
		return g.upTo
	}
	return 0
}

// purge forgets what no longer matters at now: revocations of tokens that
// no longer verify, and watermarks past their time.
func (s *revokedSet) purge(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for jti, exp := range s.ids {
		if exp.Before(now) {
			delete(s.ids, jti)
		}
	}
	for k, g := range s.groups {
		for jti := range g.ids {
			if _, ok := s.ids[jti]; !ok {
				delete(g.ids, jti)
			}
		}
		if len(g.ids) == 0 && !g.until.After(now) {
			if g.upTo != 0 {
				s.watermarks--
			}
			delete(s.groups, k)
		}
	}
}

// replace swaps in everything read afresh from the database.
func (s *revokedSet) replace(revs []store.Revocation, marks []store.RevocationWatermark) {
	fresh := newRevokedSet()
	for _, w := range marks {
		fresh.setWatermarkLocked(w)
	}
	for _, r := range revs {
		fresh.addLocked(r)
	}
	s.mu.Lock()
	s.ids, s.groups, s.watermarks = fresh.ids, fresh.groups, fresh.watermarks
	s.mu.Unlock()
}

// MarkRevoked records a revocation in this node's memory, kept until
// until: the token's exp plus the leeway. The change feed calls it for
// revocations stored on any node.
func (rt *Runtime) MarkRevoked(r store.Revocation) { rt.revoked.add(r) }

func (rt *Runtime) reloadRevocations(ctx context.Context) error {
	now := time.Now()
	revs, err := rt.Store.ActiveRevocations(ctx, now)
	if err != nil {
		return err
	}
	marks, err := rt.Store.ActiveWatermarks(ctx, now)
	if err != nil {
		return err
	}
	rt.revoked.replace(revs, marks)
	return nil
}

// applyWatermarks reads the watermarks the feed names and applies them.
func (rt *Runtime) applyWatermarks(ctx context.Context, keys map[subjectKey]bool) error {
	for k := range keys {
		w, err := rt.Store.Watermark(ctx, k.client, k.subject)
		if err == store.ErrNotFound {
			continue // expired and cleaned up since
		}
		if err != nil {
			return err
		}
		if rt.revoked.setWatermark(*w) {
			// Worth an operator's eye: a client (or a user of it) revoking
			// this much may be looping, and the group's older tokens, revoked
			// or not, have just ended.
			rt.watermarkLog.Warn("a client's revoked tokens passed the bound: its tokens of the group issued up to the watermark are ended",
				zap.String("client_id", w.ClientID), zap.String("group", w.Subject),
				zap.Time("issued_up_to", time.Unix(w.IssuedUpTo, 0).UTC()))
		}
	}
	return nil
}
