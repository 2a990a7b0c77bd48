// Package store keeps Scopegate's state through GORM: tenants, users,
// clients, signing keys, revocations, daily usage, the change feed and the
// audit log. SQLite (pure Go, WAL) is the embedded default; PostgreSQL is the
// production and multi-node store. Every multi-row change runs in one
// transaction together with its audit row and change-feed entry. Each
// aggregate has its file: its model, its queries and its writes.
package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"
)

// Errors callers map to protocol answers.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("already exists")
	// ErrStale: the row changed since the copy being saved was read.
	ErrStale      = errors.New("changed since it was read")
	ErrReferenced = errors.New("still referenced")
	// ErrDisabledBySuper refuses to enable again (or delete, which would
	// let it be made anew), for an actor without super admin power, what a
	// super admin disabled.
	ErrDisabledBySuper = errors.New("a super admin disabled it; only a super admin may enable or delete it")
)

// Drivers.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Store is the database handle. It is safe for concurrent use.
type Store struct {
	DB     *gorm.DB
	Driver string

	onChange atomic.Pointer[func(context.Context)]             // see OnChange
	onAudit  atomic.Pointer[func(context.Context, AuditEntry)] // see OnAudit
	// revocationsKept overrides RevocationsKeptPerSubject when > 0.
	revocationsKept atomic.Int64
	// watermarkKeep is KeepWatermarksFor's duration.
	watermarkKeep atomic.Int64
	// budgets spares most revocations a count of their group's rows.
	budgets revocationBudgets
}

// ErrNotOpen means the database was never opened: the app's start failed
// (the server refused, or did not answer within OpenTimeout) and a handler
// of that config was asked anyway. It is Unavailable: the answer is 503.
var ErrNotOpen = errors.New("the database is not open")

// Open's bounds. A server that accepts the connection but never answers (a
// stalled proxy, a host half gone) would otherwise hold Caddy's start or
// reload, its admin endpoint, and every request of the new config waiting
// for the app, for good; so would a migration lock another node holds on a
// connection gone silent. The first connection must answer within
// OpenTimeout, and the schema must be migrated within MigrateTimeout (which
// includes waiting for other nodes' migrations).
const (
	OpenTimeout    = 15 * time.Second
	MigrateTimeout = 2 * time.Minute
)

// Open connects to the database and creates or upgrades the schema, within
// OpenTimeout and MigrateTimeout. For SQLite, dsn is a file path; for
// PostgreSQL, a libpq DSN or URL.
func Open(driver, dsn string) (*Store, error) {
	ctx, cancel := context.WithTimeout(context.Background(), MigrateTimeout)
	defer cancel()
	return OpenContext(ctx, driver, dsn)
}

// OpenContext is Open bounded by ctx instead of MigrateTimeout (the first
// connection still by OpenTimeout at the most).
func OpenContext(ctx context.Context, driver, dsn string) (*Store, error) {
	cfg := &gorm.Config{
		TranslateError: true,
		Logger:         logger.Discard, // queries carry secrets' digests: never log them
		// To the microsecond, as PostgreSQL keeps it: a row's created_at
		// and updated_at (its ETag) in a create's answer are then the ones
		// every later read shows, on either database.
		NowFunc: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) },
		// gorm's own ping has no deadline: the one below does.
		DisableAutomaticPing: true,
	}
	var dial gorm.Dialector
	switch driver {
	case SQLite:
		if dsn == "" {
			return nil, errors.New("sqlite needs a file path")
		}
		if dir := filepath.Dir(dsn); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("creating database directory: %w", err)
			}
		}
		if err := createPrivately(dsn); err != nil {
			return nil, fmt.Errorf("creating database file: %w", err)
		}
		dial = sqlite.Open(sqliteDSN(dsn))
	case Postgres:
		if dsn == "" {
			return nil, errors.New("postgres needs a DSN")
		}
		if err := ambiguousURLDSN(dsn); err != nil {
			return nil, err
		}
		if _, err := pgconn.ParseConfig(dsn); err != nil {
			return nil, dsnError(err)
		}
		dial = postgres.Open(withExecMode(dsn))
	default:
		return nil, fmt.Errorf("unknown database driver %q (want sqlite or postgres)", driver)
	}
	db, err := gorm.Open(dial, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening %s database: %w", driver, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, OpenTimeout)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("opening %s database: %w", driver, err)
	}
	if driver == Postgres {
		sqlDB.SetConnMaxLifetime(30 * time.Minute)
	}
	s := &Store{DB: db, Driver: driver, budgets: newRevocationBudgets()}
	s.SetMaxConns(0)
	if err := s.migrate(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("migrating schema: %w", err)
	}
	boundStatements(db)
	return s, nil
}

// Default connection pool sizes. Each node keeps up to this many
// connections open, plus one for its Listener on PostgreSQL:
// DefaultMaxConnsPostgres lets 8 nodes share a stock PostgreSQL
// (max_connections = 100, 8 × 11 used) with room left for superuser and
// maintenance sessions. SQLite runs one writer at a time anyway; readers
// share WAL snapshots.
const (
	DefaultMaxConnsPostgres = 10
	DefaultMaxConnsSQLite   = 8
)

// SetMaxConns bounds the connection pool to n open connections (n <= 0:
// the driver's default), all of which may stay idle so a steady load does
// not reconnect. It takes effect at once, also on a pool in use.
func (s *Store) SetMaxConns(n int) {
	if n <= 0 {
		n = DefaultMaxConnsSQLite
		if s.Driver == Postgres {
			n = DefaultMaxConnsPostgres
		}
	}
	sqlDB, err := s.DB.DB()
	if err != nil {
		return // not a database/sql pool: nothing to size
	}
	sqlDB.SetMaxOpenConns(n)
	sqlDB.SetMaxIdleConns(n)
}

// SQLiteFile returns the file an SQLite dsn names: the path before any
// "?" (whose parameters go to SQLite), as Open opens it; "" for an
// in-memory database.
func SQLiteFile(dsn string) string {
	path, _, _ := strings.Cut(dsn, "?")
	if path == ":memory:" {
		return ""
	}
	return path
}

// createPrivately makes a new SQLite file readable by its owner alone
// (SQLite would make it 0644 under the usual umask, and its -wal and -shm
// files take the database's mode): it holds password hashes, the audit
// log and sealed secrets, and a path the operator chose may sit in a
// directory anyone can read. An existing file keeps its mode.
func createPrivately(dsn string) error {
	path := SQLiteFile(dsn)
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return f.Close()
}

// walSizeLimit is the size, in bytes, SQLite cuts its write-ahead log
// back to after a checkpoint (journal_size_limit).
const walSizeLimit = 64 << 20

// sqliteDSN turns a path into a DSN with WAL, a busy timeout, foreign keys
// and IMMEDIATE transactions (so concurrent writers queue instead of failing
// when a read lock would have to be upgraded). The path is escaped for the
// file: URI ('%' and '#' would otherwise open another file than the one
// named); what follows a "?" is passed on as parameters.
func sqliteDSN(path string) string {
	path, params, hasParams := strings.Cut(path, "?")
	path = strings.NewReplacer("%", "%25", "#", "%23").Replace(path)
	if hasParams {
		path += "?" + params
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// A burst of writes grows the write-ahead log (160 MB after 15 s of a
	// client minting and revoking in a loop) and SQLite keeps the file at
	// its largest; with a limit it cuts it back at the next checkpoint that
	// restarts the log.
	q.Add("_pragma", "journal_size_limit("+strconv.Itoa(walSizeLimit)+")")
	q.Set("_txlock", "immediate")
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	return "file:" + path + sep + q.Encode()
}

// migrate runs migrateSchema in one transaction on both databases (their
// DDL is transactional): an upgrade that fails half-way (a full disk, a
// deadline) leaves the schema and data as the previous build had them, to
// be tried again by the next start, instead of a column added whose
// backfill never ran (which would grant what the old rows did not).
func (s *Store) migrate(ctx context.Context) error {
	db := s.DB.WithContext(ctx)
	if s.Driver == Postgres {
		return db.Transaction(func(tx *gorm.DB) error {
			// Several nodes may start at once: serialise their migrations.
			if err := tx.Exec("SELECT pg_advisory_xact_lock(7262351)").Error; err != nil {
				return err
			}
			return migrateSchema(tx)
		})
	}
	// SQLite's own procedure for schema changes (sqlite.org/lang_altertable):
	// foreign keys off on the connection first, as the pragma is a no-op
	// inside a transaction, and a table GORM rebuilds to alter a column is
	// dropped and copied back, which must not check or cascade the rows
	// that reference it; then everything in one transaction.
	return db.Connection(func(conn *gorm.DB) (err error) {
		if err := conn.Exec("PRAGMA foreign_keys = OFF").Error; err != nil {
			return err
		}
		// Back on whatever happens, even past the caller's deadline: the
		// connection returns to the pool. If that fails, so does the open,
		// which closes the pool, so no connection without foreign keys is
		// ever used.
		defer func() {
			if on := conn.WithContext(context.WithoutCancel(ctx)).Exec("PRAGMA foreign_keys = ON").Error; on != nil && err == nil {
				err = fmt.Errorf("turning foreign keys back on after the migration: %w", on)
			}
		}()
		return conn.Transaction(migrateSchema)
	})
}

// migrateSchema creates or upgrades the tables, then runs the one-time data
// changes an upgrade needs.
func migrateSchema(tx *gorm.DB) error {
	m := tx.Migrator()
	added := func(model any, field string) bool { return m.HasTable(model) && !m.HasColumn(model, field) }
	// What an older database lacks, read before AutoMigrate adds it: each
	// new column's default would otherwise grant what the old rows did not.
	superAdmins := added(&User{}, "SuperAdmin")
	clientSuperDisable, userSuperDisable := added(&Client{}, "DisabledBySuper"), added(&User{}, "DisabledBySuper")
	if err := tx.AutoMigrate(allModels()...); err != nil {
		return err
	}
	var steps []*gorm.DB // each Update runs as it is appended; the first error is returned
	if superAdmins {
		// Before the super admin level existed every admin of the default
		// tenant was a super admin: those admins keep that power; admins
		// made from now on need the level set explicitly.
		steps = append(steps, tx.Model(&User{}).Where("admin = ? AND tenant_id = ?", true, DefaultTenantID).
			Update("super_admin", true))
	}
	// Who disabled a row before the flag existed is not known: a super
	// admin may have, so a tenant admin may not enable it again (fail
	// closed; a super admin still can).
	if clientSuperDisable {
		steps = append(steps, tx.Model(&Client{}).Where("disabled = ?", true).Update("disabled_by_super", true))
	}
	if userSuperDisable {
		steps = append(steps, tx.Model(&User{}).Where("disabled = ?", true).Update("disabled_by_super", true))
	}
	// A client whose tokens an older build ended records only the time
	// (tokens_revoked_at) and stays at generation 0: the guard ends its
	// tokens issued up to then (app.endedByTime), as that build did, and
	// those an older node mints later during a roll keep working.
	// Older builds gave public clients a secret at creation, which may have
	// shipped in the app: a public client has none (it would authenticate
	// again once the client is made confidential). Idempotent, and cheap
	// once done: it changes only public rows still holding one.
	steps = append(steps, tx.Model(&Client{}).Where("public = ? AND (secret_digest <> '' OR previous_secret_digest <> '')", true).
		UpdateColumns(map[string]any{"secret_digest": "", "secret_ciphertext": nil, "previous_secret_digest": "", "previous_secret_until": nil}))
	for _, step := range steps {
		if step.Error != nil {
			return step.Error
		}
	}
	return composeUsernames(tx)
}

// Close releases the connection pool.
func (s *Store) Close() error {
	sqlDB, err := s.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Ping checks the database is reachable.
func (s *Store) Ping(ctx context.Context) error {
	sqlDB, err := s.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.PingContext(ctx)
}

// NewID returns a random UUID string for tenants and users.
func NewID() string { return uuid.NewString() }

// translate maps GORM's errors onto the store's own.
func translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return ErrNotFound
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return fmt.Errorf("%w: %v", ErrReferenced, err)
	}
	return err
}

// tx runs fn in a transaction and translates its error. When fn wrote to
// the change feed (notify) and the transaction committed, the OnChange hook
// runs before tx returns, and so does the OnAudit hook for each audit entry
// it wrote.
func (s *Store) tx(ctx context.Context, fn func(tx *gorm.DB) error) error {
	var w written
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > TxTimeout {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, TxTimeout)
		defer cancel()
	}
	ctx = context.WithValue(context.WithValue(ctx, feedWritten{}, &w), storeKey{}, s)
	err := translate(s.DB.WithContext(ctx).Transaction(fn))
	if err == nil && w.feed {
		s.changed(ctx)
	}
	if err == nil {
		s.audited(ctx, w.audit)
		for _, fn := range w.after {
			fn()
		}
	}
	return err
}

// Cleanup deletes what is no longer needed: revocations of tokens that can
// no longer verify and the watermarks that replaced them, usage rows of
// past days, old feed entries, keys that no longer verify, expired
// authorization codes and refresh tokens, and sign-outs of sessions that
// have expired anyway. It keeps every table bounded whatever the number of
// tokens issued.
//
// Each delete is a transaction of its own: nothing needs them together, and
// one holding the rows it deleted while waiting for another table's would
// deadlock with a revocation holding those (a family's refresh tokens, say)
// and waiting for rows the first deleted (a revocation expiring between the
// two transactions' clocks).
func (s *Store) Cleanup(ctx context.Context, now time.Time, feedKeep time.Duration, oldestUsageDay string) error {
	feedCut := now.Add(-feedKeep)
	steps := []struct {
		model any
		where string
		args  []any
	}{
		{&RevocationWatermark{}, "expires_at <= ?", []any{now}},
		{&Revocation{}, "expires_at <= ?", []any{now}},
		// The newest entry past feedKeep stays, as the anchor a node that
		// starts begins at (Feed().Before): with none, it would begin at 0
		// and take every id below the first entry it reads for a gap.
		{&Change{}, "created_at < ? AND id < (SELECT MAX(id) FROM changes WHERE created_at < ?)", []any{feedCut, feedCut}},
		{&DailyUsage{}, "day < ?", []any{oldestUsageDay}},
		{&AuthCode{}, "expires_at <= ?", []any{now}},
		// Used refresh tokens are kept until they expire, to recognise
		// their reuse.
		{&RefreshToken{}, "expires_at <= ?", []any{now}},
		{&ImplicitToken{}, "expires_at <= ?", []any{now}},
		{&EndedSession{}, "expires_at <= ?", []any{now}},
		{&SigningKey{}, "verify_until IS NOT NULL AND verify_until <= ?", []any{now}},
	}
	for _, step := range steps {
		if err := s.DB.WithContext(ctx).Where(step.where, step.args...).Delete(step.model).Error; err != nil {
			return translate(err)
		}
	}
	return nil
}

// Page bounds a listing.
type Page struct {
	Offset int
	Limit  int
}

func (p Page) apply(q *gorm.DB) *gorm.DB {
	limit := p.Limit
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	return q.Offset(max(p.Offset, 0)).Limit(limit)
}

// unchangedSince locks the row of model matching where (inside tx) and
// reports ErrStale unless its updated_at is readAt, ErrNotFound when there
// is no such row. Both values come from the database through the same
// driver, so comparing them in Go is exact where comparing a parameter
// with the stored text in SQL might not be.
func unchangedSince(tx *gorm.DB, model any, where string, readAt time.Time, args ...any) error {
	var row struct{ UpdatedAt time.Time }
	err := tx.Model(model).Clauses(clause.Locking{Strength: "UPDATE"}).
		Select("updated_at").Where(where, args...).Take(&row).Error
	if err != nil {
		return err
	}
	if !row.UpdatedAt.Equal(readAt) {
		return ErrStale
	}
	return nil
}

// dsnError is a DSN's parse error without the DSN: pgx shows it with the
// password masked only in its plainest spelling (password=x), so
// "password = x" or an escaped quote reached the log, the reload answer and
// the command line's stderr. The reason alone is kept.
func dsnError(err error) error {
	reason := "it does not parse"
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		text := pe.Error()
		// pgx's reason may quote a piece of the DSN ("missing \"=\" after
		// \"horse\""): kept only when it quotes nothing.
		if i := strings.LastIndex(text, "`: "); i >= 0 && !strings.ContainsAny(text[i+len("`: "):], "\"'`") {
			reason = text[i+len("`: "):]
		}
	}
	return fmt.Errorf("opening postgres database: the DSN is not valid (%s); it is not shown, as it may hold a password", reason)
}

// ambiguousURLDSN refuses a URL DSN whose authority holds more than one
// '@': a password with an '@' not written %40 is read as part of the host,
// and the connection error then shows that piece of the password.
func ambiguousURLDSN(dsn string) error {
	for _, scheme := range []string{"postgres://", "postgresql://"} {
		if rest, ok := strings.CutPrefix(dsn, scheme); ok {
			if end := strings.IndexAny(rest, "/?#"); end >= 0 {
				rest = rest[:end]
			}
			if strings.Count(rest, "@") > 1 {
				return errors.New("opening postgres database: the DSN's user name or password holds an '@' not written %40; it is not shown, as it may hold a password")
			}
		}
	}
	return nil
}
