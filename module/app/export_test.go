package app

import (
	"context"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/scopegate/scopegate/module/token"
)

// This file lends the external tests (package app_test, which must be
// external because apptest imports this package) a few internals to observe.

// ParseGlobalOption is the Caddyfile global option parser.
func ParseGlobalOption(d *caddyfile.Dispenser) (any, error) { return parseGlobalOption(d, nil) }

// SetDefaults fills in defaults without opening anything.
func (a *App) SetDefaults() error { return a.setDefaults() }

// ResolvedDatabase returns the driver, DSN and master key Start would use
// (the key file is read, or made, as Start does).
func (a *App) ResolvedDatabase() (driver, dsn string, master []byte, err error) {
	cfg, err := a.runtimeConfig()
	if err == nil {
		err = cfg.loadMaster()
	}
	return cfg.driver, cfg.dsn, cfg.master, err
}

// TokenCached reports whether the verified-token cache holds raw.
func (a *App) TokenCached(raw string) bool { return a.runtime().tokens.contains(tokenKeyOf(raw)) }

// CachedTokens is the number of tokens in the verification cache.
func (a *App) CachedTokens() int { return a.runtime().tokens.len() }

// CacheToken caches claims as the verification of raw (to prove a cache hit
// skips the signature and the parse).
func (a *App) CacheToken(raw string, c *token.Claims) { a.runtime().tokens.add(tokenKeyOf(raw), c) }

// CleanupNow runs the watcher's periodic clean-up once.
func (rt *Runtime) CleanupNow(ctx context.Context) error { return rt.cleanup(ctx) }

// IsRevoked reports whether the runtime holds jti as revoked.
func (rt *Runtime) IsRevoked(jti string) bool { return rt.revoked.revoked(jti, "", "", 0) }

// HeldRevocations counts the revoked token ids this node holds in memory.
func (rt *Runtime) HeldRevocations() int {
	rt.revoked.mu.RLock()
	defer rt.revoked.mu.RUnlock()
	return len(rt.revoked.ids)
}

// BootstrapName is the name the next bootstrap would give its client, on an
// opened app: the step after the look-up for admin clients.
func (a *App) BootstrapName(ctx context.Context) (string, error) { return a.bootstrapName(ctx) }

// RowCacheSize is how many found clients (and users) the runtime caches.
const RowCacheSize = rowCacheSize

// SetFeedRead pretends the change feed was last read at t.
func (rt *Runtime) SetFeedRead(t time.Time) { rt.feedRead.Store(t.UnixNano()) }

// ListenerPID is the PostgreSQL backend pid of the node's change listener,
// 0 while it is not connected (and always on SQLite).
func (a *App) ListenerPID() uint32 {
	if l := a.runtime().listener; l != nil {
		return l.PID()
	}
	return 0
}

// PollOnly keeps the node from listening for change notifications, so that
// only polls (the watcher's, or a test's own) apply other nodes' changes.
func PollOnly(a *App) { a.pollOnly = true }

// CheckRouteList checks one server's routes as checkGateOrder does, for the
// handler-order tests; named are its named routes. unstripped: it has a
// guard but no scopegate_strip.
func CheckRouteList(routes caddyhttp.RouteList, named map[string]*caddyhttp.Route) (unstripped bool, err error) {
	return checkServer(&caddyhttp.Server{Routes: routes, NamedRoutes: named}, "test")
}

// CheckServer checks a server as checkGateOrder does (its errors routes
// too).
func CheckServer(srv *caddyhttp.Server) (unstripped bool, err error) {
	return checkServer(srv, "test")
}

// FeedState reports how many feed ids the node tracks as gaps and whether a
// resync is due, now or later (resyncAt).
func (rt *Runtime) FeedState() (gaps int, resyncDue, resyncLater bool) {
	rt.pollMu.Lock()
	defer rt.pollMu.Unlock()
	return len(rt.gaps), rt.needResync, !rt.resyncAt.IsZero()
}
