package store

import "strings"

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
		// Appended as written: re-encoding the URL would change what pgx
		// reads (a %20 in options= turned into a literal '+', and sorted
		// keys let a later setting win over an earlier one).
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		return dsn + sep + execModeParam + "=exec"
	}
	return strings.TrimSpace(dsn) + " " + execModeParam + "=exec"
}
