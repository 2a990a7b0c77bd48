package store

import (
	"strings"
	"unicode/utf8"
)

// Column sizes of the ids and names callers look rows up by (see the size
// tags in models.go).
const (
	idSize   = 64
	nameSize = 200
)

// findable reports whether v, a value from outside (a client_id, a user_id,
// a header, a path segment), could be stored in a text column of size
// characters. PostgreSQL refuses a query holding a NUL byte or invalid UTF-8
// with an error, which callers would report as a server failure; no row can
// hold such a value, so lookups answer ErrNotFound without asking. An
// over-long value cannot match either and is not worth a round trip.
func findable(v string, size int) bool {
	if len(v) > size && utf8.RuneCountInString(v) > size {
		return false
	}
	return strings.IndexByte(v, 0) < 0 && utf8.ValidString(v)
}

// FindableID reports whether id could be a stored client's or user's id:
// one that cannot is not found without asking (and not worth remembering
// as missing: a caller could pin its 64 KiB in a cache per request).
func FindableID(id string) bool { return findable(id, idSize) }
