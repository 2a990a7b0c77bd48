package app

import (
	"context"
	"crypto/sha256"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
	"github.com/scopegate/scopegate/module/web"
)

// runtimes holds one Runtime per database and master key, so a config
// reload (which provisions the new config before the old one is cleaned up)
// neither reopens the database nor loses the caches.
var runtimes = caddy.NewUsagePool()

// Runtime is the state shared by every config that uses one database.
type Runtime struct {
	Store  *store.Store
	Sealer *secret.Sealer
	Keys   *token.KeyRing
	// SignIn counts password attempts at every sign-in form served with
	// this database (console and authorize pages alike).
	SignIn *web.SignInThrottle

	// tokens maps sha256(token) to claims that verified, so the common
	// request needs no signature check and no query.
	tokens *tokenCache
	// clients and users cache rows, and ids known to have none.
	clients *rowCache[store.Client]
	users   *rowCache[store.User]

	revoked *revokedSet
	// watermarkLog is logger, sampled: a client looping through
	// revocations moves its watermark up to once a second.
	watermarkLog *zap.Logger

	logger   *zap.Logger
	feed     store.ChangeFeed
	feedRead atomic.Int64  // when the feed was last read successfully (Unix ns)
	every    time.Duration // the watcher's poll interval
	pollMu   sync.Mutex
	pollLog  backoffLog // the watcher's alone
	lastSeen uint64
	listener *store.Listener // PostgreSQL only: wakes the watcher
	stop     chan struct{}
	done     chan struct{}
	// gaps are feed ids below lastSeen not seen yet (a transaction that took
	// its id earlier may still commit), with when each was first missed.
	gaps map[uint64]time.Time
	// needResync: a gap was given up on, or a resync failed; the next poll
	// reads everything afresh (resync). Guarded by pollMu.
	needResync bool
	// resyncAt: ids went untracked (past maxGaps) and a transaction holding
	// one may commit up to TxTimeout later, so a resync is due then too
	// (gapWait after the last such poll). Guarded by pollMu.
	resyncAt time.Time
}

func openRuntime(cfg runtimeConfig, logger *zap.Logger) (*Runtime, error) {
	sealer, err := secret.NewSealer(cfg.master)
	if err != nil {
		return nil, err
	}
	st, err := store.Open(cfg.driver, cfg.dsn)
	if err != nil {
		return nil, err
	}
	st.SetMaxConns(cfg.maxConns)
	countDatabaseErrors(st)
	rt, err := newRuntime(st, sealer, cfg.cacheSize, logger)
	if err != nil {
		st.Close()
		return nil, err
	}
	rt.startWatcher(cfg.poll, cfg.dsn, !cfg.pollOnly)
	st.OnAudit(rt.logAudit)
	logger.Info("scopegate database ready", zap.String("driver", cfg.driver))
	if cfg.driver == store.SQLite {
		warnReadableByOthers(logger, store.SQLiteFile(cfg.dsn))
	}
	warnKeyFileReadable(logger, cfg.keyFile)
	warnTenantsAlike(logger, st)
	if cfg.driver != store.SQLite && cfg.keyFile != "" {
		logger.Warn("the master key is local to this node: every node sharing the database needs the same one; set master_key (e.g. {env.SCOPEGATE_MASTER_KEY})",
			zap.String("driver", cfg.driver), zap.String("master_key_file", cfg.keyFile))
	}
	return rt, nil
}

// warnReadableByOthers warns when the SQLite file at path (or its -wal or
// -shm file) may be read by other users: it holds password hashes, sealed
// secrets and the audit log. New files are made 0600; a file an older build
// made (0644) keeps its mode, which is the operator's to change, since a
// backup job may read it through its group.
func warnReadableByOthers(logger *zap.Logger, path string) {
	if path == "" || runtime.GOOS == "windows" {
		return
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o077 != 0 {
			logger.Warn("the SQLite database can be read by other users of this machine: it holds password hashes, sealed secrets and the audit log; make it readable by its owner alone (chmod 600, with its -wal and -shm files)",
				zap.String("file", p), zap.String("mode", fi.Mode().Perm().String()))
		}
	}
}

// warnKeyFileReadable warns when the master key file at path ("" for
// none: the key is configured) may be read by other users: it unseals every
// signing key and client secret. It is made 0600; a copy restored from a
// backup, or chmod'ed, may not be (config red team).
func warnKeyFileReadable(logger *zap.Logger, path string) {
	if path == "" || runtime.GOOS == "windows" {
		return
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		logger.Warn("the master key file can be read by other users of this machine: it unseals every signing key and client secret; make it readable by its owner alone (chmod 600)",
			zap.String("file", path), zap.String("mode", fi.Mode().Perm().String()))
	}
}

// warnTenantsAlike lists the tenants an older build let share a tenant UUID
// or differ only in letter case (see store.TenantsAlike).
func warnTenantsAlike(logger *zap.Logger, st *store.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	groups, err := st.TenantsAlike(ctx)
	if err != nil {
		logger.Warn("listing tenants whose ids an upstream may take for one", zap.Error(err))
		return
	}
	for _, g := range groups {
		logger.Warn("these tenants share a {scopegate.tenant_uuid} or differ only in letter case (an older build allowed it): an upstream keyed on either may take them for one tenant; move their clients and users to a tenant of their own",
			zap.Strings("tenants", g))
	}
}

func newRuntime(st *store.Store, sealer *secret.Sealer, cacheSize int, logger *zap.Logger) (*Runtime, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.EnsureTenant(ctx, store.DefaultTenantID, "Default"); err != nil {
		return nil, err
	}
	// The cursor is taken before the keys and the revocations are read, and
	// far enough back (store.StartReplay) that the first poll sees again
	// what committed meanwhile, and what transactions still open commit
	// later under ids below the newest: a node starting at the newest id
	// passed those over, and served a client disabled, a token revoked or a
	// key retired then until it restarted.
	feed := st.Feed()
	start, err := feed.Before(ctx, time.Now().Add(-store.StartReplay()))
	if err != nil {
		return nil, err
	}
	keys := token.NewKeyRing(st, sealer)
	if err := keys.Load(ctx); err != nil {
		return nil, err
	}
	tokens := newTokenCache(cacheSize)
	rt := &Runtime{
		Store: st, Sealer: sealer, Keys: keys, tokens: tokens, SignIn: web.NewSignInThrottle(),
		clients: newRowCache[store.Client](rowCacheSize, missCacheSize),
		users:   newRowCache[store.User](rowCacheSize, missCacheSize),
		revoked: newRevokedSet(), watermarkLog: zap.NewNop(), logger: logger, gaps: map[uint64]time.Time{}, feed: feed,
		lastSeen: start,
	}
	if logger != nil {
		rt.watermarkLog = SampledLogger(logger)
	}
	rt.feedRead.Store(time.Now().UnixNano())
	rt.clients.counters, rt.users.counters = newCacheCounters(CacheClients), newCacheCounters(CacheUsers)
	if err := rt.reloadRevocations(ctx); err != nil {
		return nil, err
	}
	st.OnChange(rt.applyOwn)
	return rt, nil
}

// Destruct stops the watcher and closes the database when the last config
// using this runtime is gone.
func (rt *Runtime) Destruct() error {
	if rt.stop != nil {
		close(rt.stop)
		<-rt.done
	}
	return rt.Store.Close()
}

// tokenKeyOf hashes a raw token for the cache (never keep tokens themselves).
// The hash reads the string's bytes in place: []byte(raw) would copy the
// whole token (hundreds of bytes) on every request, and Sum256 neither
// keeps nor changes its input.
func tokenKeyOf(raw string) tokenKey {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(raw), len(raw)))
}

// Client returns a client row from the cache or the database; (nil, nil)
// means there is no such client.
func (rt *Runtime) Client(ctx context.Context, id string) (*store.Client, error) {
	if !store.FindableID(id) {
		return nil, nil // never cached: see FindableID
	}
	if c, known := rt.clients.get(id); known {
		return c, nil
	}
	gen := rt.clients.generation()
	c, err := rt.storedClient(ctx, id)
	if err != nil {
		return nil, err
	}
	rt.clients.add(id, c, gen)
	return c, nil
}

// storedClient is Client read from the database alone, past the cache.
func (rt *Runtime) storedClient(ctx context.Context, id string) (*store.Client, error) {
	if !store.FindableID(id) {
		return nil, nil
	}
	c, err := rt.Store.GetClient(ctx, id)
	if err == store.ErrNotFound {
		return nil, nil
	}
	return c, err
}

// User returns a user row from the cache or the database; (nil, nil) means
// there is no such user.
func (rt *Runtime) User(ctx context.Context, id string) (*store.User, error) {
	if !store.FindableID(id) {
		return nil, nil // never cached: see FindableID
	}
	if u, known := rt.users.get(id); known {
		return u, nil
	}
	gen := rt.users.generation()
	u, err := rt.Store.GetUser(ctx, id)
	if err == store.ErrNotFound {
		u, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	rt.users.add(id, u, gen)
	return u, nil
}

// ForgetClient drops a client and every cached token of it. Every node,
// the writing one included, calls it for the client's change-feed entries:
// handlers never need to.
func (rt *Runtime) ForgetClient(id string) {
	rt.clients.forget(id)
	rt.tokens.forgetClient(id)
}

// ForgetUser drops a cached user and the tokens acting as that user.
func (rt *Runtime) ForgetUser(id string) {
	rt.users.forget(id)
	rt.tokens.forgetSubject(id)
}
