package store

import (
	"net/url"
	"strings"
)

// execModeParam is pgx's DSN setting for how queries are sent.
const execModeParam = "default_query_exec_mode"

// withExecMode makes pgx send every query as an unnamed statement (exec
// mode) unless the DSN chooses a mode itself. pgx's default caches a
// prepared statement per query on each connection, and PostgreSQL refuses
// a cached `SELECT *` once a migration has added a column ("cached plan must
// not change result type"): in a rolling upgrade, every node not yet
// upgraded answered 500 on some requests until its connections were
// replaced. Exec mode still takes one round trip per query.
func withExecMode(dsn string) string {
	if strings.Contains(dsn, execModeParam) {
		return dsn
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn // pgx reports the bad DSN itself
		}
		q := u.Query()
		q.Set(execModeParam, "exec")
		u.RawQuery = q.Encode()
		return u.String()
	}
	return strings.TrimSpace(dsn) + " " + execModeParam + "=exec"
}
