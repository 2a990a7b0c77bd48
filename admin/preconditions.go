package admin

import (
	"net/http"
	"strconv"
	"strings"
	"time"
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

// notModified answers 304 to a GET whose If-None-Match names the row's
// version (or, without one, whose If-Modified-Since is not before its last
// change), and reports whether it did (RFC 9110 §13.2.2 steps 3 and 4).
func notModified(w http.ResponseWriter, r *http.Request, updatedAt time.Time) bool {
	if values := r.Header.Values("If-None-Match"); len(values) > 0 {
		if !matchesWeakly(values, etag(updatedAt)) {
			return false
		}
	} else if t, err := http.ParseTime(r.Header.Get("If-Modified-Since")); err != nil || updatedAt.Truncate(time.Second).After(t) {
		return false
	}
	setETag(w, updatedAt)
	w.WriteHeader(http.StatusNotModified)
	return true
}

// precondition is a 412 problem when r's If-Match, or without one its
// If-Unmodified-Since, or its If-None-Match is false for the row last
// changed at updatedAt (evaluated as RFC 9110 §13.2.2 orders them), else
// nil.
func precondition(r *http.Request, what string, updatedAt time.Time) error {
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
		if updatedAt.Truncate(time.Second).After(t) {
			return changedSince(what)
		}
	}
	// An edit meant for any version but this one (or, with "*", for no
	// row at all: a create that must not overwrite) is refused (§13.1.2).
	if values := r.Header.Values("If-None-Match"); len(values) > 0 && matchesWeakly(values, etag(updatedAt)) {
		return newProblem(http.StatusPreconditionFailed, "the %s is the version If-None-Match names (or it exists, for *): nothing was changed", what)
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
