package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	gosqlite "github.com/glebarez/go-sqlite"
	"github.com/jackc/pgx/v5/pgconn"
)

// RetryAfter is the Retry-After header value (seconds) of every 503 answered
// because the database is unavailable.
const RetryAfter = "1"

// Unavailable reports whether err means the database could not be used just
// now (down, unreachable, out of connections, shutting down, or locked for
// too long) rather than that the request or the data is wrong. It is the one
// place that decides: every endpoint answers such an error with 503 and
// Retry-After, since the same request may well succeed a moment later, and
// anything else a database call fails with stays a 500.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	for _, cause := range []error{
		ErrNotOpen,
		context.DeadlineExceeded, // a call ran out of time, waiting for a lock or a connection
		driver.ErrBadConn, sql.ErrConnDone, pgconn.ErrConnClosed,
		io.ErrUnexpectedEOF, // the server went away mid-answer
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE,
	} {
		if errors.Is(err, cause) {
			return true
		}
	}
	// database/sql has no sentinel for a closed pool (sql.DB.Close).
	if strings.Contains(err.Error(), "sql: database is closed") {
		return true
	}
	var netErr net.Error
	var connect *pgconn.ConnectError
	if errors.As(err, &netErr) || errors.As(err, &connect) || pgconn.Timeout(err) {
		return true
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		switch class := pg.Code[:min(2, len(pg.Code))]; {
		case class == "08", // connection exception
			class == "53",                     // insufficient resources: too many connections, disk full
			strings.HasPrefix(pg.Code, "57P"), // shutting down, terminated (pg_terminate_backend), cannot connect now
			pg.Code == "57014",                // query canceled: statement_timeout
			pg.Code == "55P03":                // lock not available: lock_timeout
			return true
		}
		return false
	}
	var lite *gosqlite.Error
	if errors.As(err, &lite) {
		// Primary result codes (extended ones keep them in the low byte).
		const (
			busy     = 5  // another connection held the lock past busy_timeout
			locked   = 6  // a table lock within the same connection
			ioErr    = 10 // the file could not be read or written
			full     = 13 // the disk is full
			cantOpen = 14 // the file cannot be opened
		)
		switch lite.Code() & 0xff {
		case busy, locked, ioErr, full, cantOpen:
			return true
		}
	}
	return false
}
