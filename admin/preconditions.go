package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/scopegate/scopegate/module/store"
)

// Conditional edits (RFC 9110 §13.1). A client's, an app's or a user's
// answer carries an ETag, its row's updated_at; a PATCH with If-Match (or
// If-Unmodified-Since) applies only to that version of the row and is 412
// otherwise. Without one an edit is applied to the row as it is when saved
// (applyUntilSaved): right for changing one field, wrong for a list read,
// changed and sent back whole (scopes, redirect_uris), which would drop what
// another admin added meanwhile. Clients that send If-Match expect exactly
// this; ignoring it, as before, let them believe they were protected.

// etag is the entity tag of a row last changed at updatedAt: strong, since
// every change of the row moves updated_at.
func etag(updatedAt time.Time) string {
	return `"` + strconv.FormatInt(updatedAt.UnixNano(), 36) + `"`
}

// setETag puts the row's tag on the answer.
func setETag(w http.ResponseWriter, updatedAt time.Time) {
	w.Header().Set("ETag", etag(updatedAt))
}

// conditional reports whether r names the version it edits (or one it
// must not edit).
func conditional(r *http.Request) bool {
	return r.Header.Get("If-Match") != "" || r.Header.Get("If-Unmodified-Since") != "" || r.Header.Get("If-None-Match") != ""
}

// notModified evaluates a GET's preconditions in RFC 9110 §13.2.2 order for
// the row last changed at updatedAt: a false If-Match (or, without one,
// If-Unmodified-Since) is 412; an If-None-Match naming the row's version
// (or, without one, an If-Modified-Since not before its last change) is
// 304 with the ETag and the Cache-Control the 200 carries. It reports
// whether it answered.
func notModified(w http.ResponseWriter, r *http.Request, what string, updatedAt time.Time) (bool, error) {
	if err := unchangedSince(r, what, updatedAt); err != nil {
		return false, err
	}
	if values := r.Header.Values("If-None-Match"); len(values) > 0 {
		if !matchesWeakly(values, etag(updatedAt)) {
			return false, nil
		}
	} else if t, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err != nil || updatedAt.After(t) {
		return false, nil
	}
	setETag(w, updatedAt)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotModified)
	return true, nil
}

// precondition is a 412 problem when r's preconditions are false for the
// row last changed at updatedAt, as RFC 9110 §13.2.2 orders them for an
// edit: If-Match (or, without one, If-Unmodified-Since), then If-None-Match;
// else nil.
func precondition(r *http.Request, what string, updatedAt time.Time) error {
	if err := unchangedSince(r, what, updatedAt); err != nil {
		return err
	}
	// An edit meant for any version but this one (or, with "*", for no
	// row at all: a create that must not overwrite) is refused (§13.1.2).
	if values := r.Header.Values("If-None-Match"); len(values) > 0 && matchesWeakly(values, etag(updatedAt)) {
		return newProblem(http.StatusPreconditionFailed, "the %s is the version If-None-Match names (or it exists, for *): nothing was changed", what)
	}
	return nil
}

// unchangedSince is steps 1 and 2: a 412 problem when If-Match, or without
// one If-Unmodified-Since, is false. The date is compared with the row's
// change to the nanosecond: a change later in the second the date names
// counts as after it (a client's date comes from a Date header, to the
// second, and must not let an edit overwrite a change it never read).
func unchangedSince(r *http.Request, what string, updatedAt time.Time) error {
	if values := r.Header.Values("If-Match"); len(values) > 0 {
		if !matchesStrongly(values, etag(updatedAt)) {
			return changedSince(what)
		}
		return nil
	}
	if since := r.Header.Get("If-Unmodified-Since"); since != "" {
		t, err := http.ParseTime(since)
		if err != nil {
			return nil // an invalid date is ignored (§13.1.4)
		}
		if updatedAt.After(t) {
			return changedSince(what)
		}
	}
	return nil
}

// matchesWeakly reports whether the If-None-Match field values name tag,
// weak or strong, or say "*" (§8.8.3.2: If-None-Match compares weakly).
func matchesWeakly(values []string, tag string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == "*" || t == tag {
				return true
			}
		}
	}
	return false
}

// matchesStrongly reports whether the If-Match field values name tag, or
// say "*" (the row exists: it was found). A weak tag never matches (§8.8.3.2).
func matchesStrongly(values []string, tag string) bool {
	for _, v := range values {
		for _, t := range strings.Split(v, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || t == tag {
				return true
			}
		}
	}
	return false
}

// changedSince is the answer to an edit of a version that is no longer
// the row's.
func changedSince(what string) error {
	return newProblem(http.StatusPreconditionFailed, "the %s changed since the version this edit names (If-Match or If-Unmodified-Since): read it again, and apply the edit to what it is now", what)
}

// clientAction evaluates r's preconditions on client cl before an action
// on it (disable, restore, delete, revoke_tokens, rotate): a 412 problem
// when they are false, as for a PATCH (races team: a DELETE with a stale
// If-Match deleted a client another admin had just reconfigured). It
// returns the actor whose change the store applies only to the version
// the request named, so an edit saved between this check and the action
// is a 412 too (stale turns the store's ErrStale into that answer).
func clientAction(r *http.Request, c *caller, cl *store.Client) (store.Actor, error) {
	a := c.actor(cl.TenantID)
	if err := precondition(r, "client", cl.UpdatedAt); err != nil {
		return a, err
	}
	// Only a named version binds the action to it: If-Match: * holds for
	// any version, and If-None-Match was settled above.
	if m := r.Header.Get("If-Match"); (m != "" && strings.TrimSpace(m) != "*") || (m == "" && r.Header.Get("If-Unmodified-Since") != "") {
		readAt := cl.UpdatedAt
		a.ReadAt = &readAt
	}
	return a, nil
}

// stale is the 412 answer for an action whose named version of the
// client was replaced before it ran; any other error as it is.
func stale(err error) error {
	if errors.Is(err, store.ErrStale) {
		return changedSince("client")
	}
	return err
}
