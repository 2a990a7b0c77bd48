// Package app is the "scopegate" Caddy app. It owns what every Scopegate
// handler shares: the database, the secret sealer, the signing key ring, the
// scope catalogue and the verification caches. Handlers reach it with
// app.From(ctx), which is ctx.App("scopegate"), the way acmeserver reaches
// the pki app; with no configuration at all it works on an SQLite file in
// Caddy's data directory.
package app

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // day boundaries need zone data even on hosts without it

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/scope"
	"github.com/scopegate/scopegate/module/secret"
	"github.com/scopegate/scopegate/module/store"
	"github.com/scopegate/scopegate/module/token"
	"github.com/scopegate/scopegate/module/web"
)

func init() {
	caddy.RegisterModule(App{})
}

// Database says where Scopegate keeps its state.
type Database struct {
	// "sqlite" (default) or "postgres".
	Driver string `json:"driver,omitempty"`
	// For sqlite, the file path (default: scopegate/scopegate.db in Caddy's
	// data directory); for postgres, a DSN such as {env.SCOPEGATE_DSN}.
	// Placeholders are resolved.
	DSN string `json:"dsn,omitempty"`
	// The most connections this node keeps open to the database. Every
	// node has its own pool: nodes × max_connections must stay below the
	// server's max_connections. Default: 10 for postgres, 8 for sqlite.
	MaxConnections int `json:"max_connections,omitempty"`
}

// App is the scopegate app.
type App struct {
	// Where state is kept. Default: SQLite in Caddy's data directory.
	Database *Database `json:"database,omitempty"`
	// The "iss" of every token and the issuer in RFC 8414 metadata.
	// Default: http://localhost.
	Issuer string `json:"issuer,omitempty"`
	// The "aud" of every token. Default: the issuer.
	Audience string `json:"audience,omitempty"`
	// Lifetime of tokens whose client sets none. Default: 1h.
	TokenLifetime caddy.Duration `json:"token_lifetime,omitempty"`
	// Clock skew tolerated when checking exp, nbf and iat. Default: 30s.
	Leeway caddy.Duration `json:"leeway,omitempty"`
	// The scope catalogue (the built-in scopegate.admin and
	// scopegate.tenant_admin are always added).
	Scopes []scope.Scope `json:"scopes,omitempty"`
	// The master key that encrypts secrets at rest (32 bytes, base64 or
	// hex), usually {env.SCOPEGATE_MASTER_KEY}. When empty, a key is
	// generated once into MasterKeyFile; so it is on SQLite when the
	// placeholder is empty (on PostgreSQL that is an error).
	MasterKey string `json:"master_key,omitempty"`
	// Where the generated master key is kept (0600). Default:
	// scopegate/master.key in Caddy's data directory.
	MasterKeyFile string `json:"master_key_file,omitempty"`
	// Time zone in which a day begins for daily token allowances.
	// Default: America/New_York.
	DayTimezone string `json:"day_timezone,omitempty"`
	// Verified tokens kept in memory. Default: 100000.
	CacheSize int `json:"cache_size,omitempty"`
	// How often the change feed is polled for other nodes' changes.
	// Default: 500ms.
	PollInterval caddy.Duration `json:"poll_interval,omitempty"`
	// How long a rotated-out client secret keeps working. Default: 24h.
	SecretGrace caddy.Duration `json:"secret_grace,omitempty"`
	// How long retired signing keys keep verifying. Default: 48h.
	KeyOverlap caddy.Duration `json:"key_overlap,omitempty"`
	// How long a rotated-in signing key is published in the JWKS before
	// it signs, so verifiers that cache the JWKS know it first; the JWKS
	// may be cached for half of it, at most 5m. Default: 10m.
	KeyPrepublish caddy.Duration `json:"key_prepublish,omitempty"`
	// The fewest Go processors (GOMAXPROCS) the process runs with while
	// this config is loaded; -1 leaves GOMAXPROCS as Caddy set it. Only
	// raised when neither the environment's GOMAXPROCS nor a CPU quota
	// (cgroup) set it (see procs.go for why). Default: 16.
	MinGOMAXPROCS int `json:"min_gomaxprocs,omitempty"`
	// The heap size, in bytes, below which the garbage collector starts no
	// cycle while this config is loaded; -1 leaves Go's pacing (GOGC)
	// alone. Not applied when the environment sets GOGC (see gcheap.go for
	// why). Default: 64 MiB.
	MinGCHeap int64 `json:"min_gc_heap,omitempty"`
	// Request trailers (fields sent after a chunked body) that
	// scopegate_strip and the guards pass to the upstream, besides the
	// integrity fields Content-Digest, Repr-Digest and Digest. Every other
	// trailer is dropped: an upstream that merges trailers into its headers
	// would otherwise read any header the caller chose, after the gateway's
	// checks. Names that carry identity, routing or the client's address
	// are refused at load.
	AllowTrailers []string `json:"allow_trailers,omitempty"`

	catalogue     *scope.Catalogue
	impersonation *headerNames // this config's guards' impersonation headers
	identity      *headerNames // this config's guards' identity header prefixes
	endpoints     *endpointSet // what this config's endpoints serve
	location      *time.Location
	verifier      *token.Verifier
	started       *started      // the runtime once Start (or OpenStandalone) opened it
	cfg           runtimeConfig // resolved by Provision, opened by Start
	poolKey       string
	logger        *zap.Logger
	budgets       *lineBudgets // the log budgets this config's handlers share (logs.go)
	// caddyCtx is the context the app was provisioned in: Start reads the
	// HTTP app from it to check where the guards are (checkGateOrder).
	caddyCtx caddy.Context
	// configJSON is the whole config AppFromConfigFile read (nil for a
	// provisioned app): the command line reads the admin sub-route's
	// options from it (ConfigJSON).
	configJSON []byte
	pollOnly   bool // tests: no change listener, the watcher only polls
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "scopegate",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision fills in defaults, resolves placeholders and checks the
// configuration. It opens nothing: `caddy validate` and `caddy adapt`
// provision every module without starting it, and must not create an SQLite
// file or a master key, nor migrate a database and store a signing key
// sealed with whatever key the environment holds. The database is opened by
// Start.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	a.caddyCtx = ctx
	// Served with Caddy's own metrics at the admin endpoint's /metrics.
	if err := RegisterMetrics(ctx.GetMetricsRegistry()); err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	if err := a.setDefaults(); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	cfg, err := a.runtimeConfig()
	if err != nil {
		return err
	}
	a.cfg = cfg
	return nil
}

// Start attaches the shared runtime, opening the database, the master key
// and the key ring the first time (a reload with the same database shares
// the running one: runtimes is a UsagePool).
func (a *App) Start() error { return a.start(true) }

// start opens the runtime unless it is open. A request that finds no
// runtime starts the app itself (retry false) only if no start has failed
// yet and the config was not cleaned up: after a failure Caddy unwinds the
// config, and until it does a request must not try again, holding every
// other request of the config behind the lock for up to store.OpenTimeout
// and logging the failure once more each time; after Cleanup nothing would
// release what it opened.
func (a *App) start(retry bool) error {
	if a.started == nil {
		return errors.New("the scopegate app was not provisioned")
	}
	a.started.mu.Lock()
	defer a.started.mu.Unlock()
	if a.started.live.Load() != nil { // OpenStandalone, or Start called twice
		return nil
	}
	if !retry && a.started.settled {
		return nil // a failure was reported when it happened
	}
	err := a.open()
	a.started.settled = err != nil
	return err
}

// open attaches the shared runtime (opening it if no other config has);
// the caller holds started.mu.
func (a *App) open() error {
	if a.caddyCtx.Context != nil {
		unstripped, err := checkGateOrder(a.caddyCtx)
		if err != nil {
			return err
		}
		for _, srv := range unstripped {
			a.logger.Warn("a server has guards but no scopegate_strip: its unguarded routes pass identity headers a caller forges (X-Scopegate-*, X-Act-As-User) to their upstreams; put scopegate_strip first in every site",
				zap.String("server", srv))
		}
	}
	if err := a.cfg.loadMaster(); err != nil {
		return err
	}
	a.poolKey = a.cfg.poolKey()
	val, _, err := runtimes.LoadOrNew(a.poolKey, func() (caddy.Destructor, error) {
		return openRuntime(a.cfg, a.logger)
	})
	if err != nil {
		a.poolKey = ""
		return err
	}
	a.attach(val.(*Runtime), a.cfg)
	applyMinGOMAXPROCS(a.started, a.MinGOMAXPROCS, a.logger)
	applyMinGCHeap(a.started, a.MinGCHeap, a.logger)
	return nil
}

// started holds an app's runtime; a pointer, so the App value (which Caddy
// copies in CaddyModule) carries no lock.
type started struct {
	mu   sync.Mutex // one Start at a time
	live atomic.Pointer[Runtime]
	// settled: a start failed, or Cleanup ran; requests no longer start
	// the app (guarded by mu).
	settled bool
}

// attach makes rt this app's runtime.
func (a *App) attach(rt *Runtime, cfg runtimeConfig) {
	rt.Store.SetMaxConns(cfg.maxConns) // a reload may change it; the pool is shared
	// A revocation watermark lasts as long as a token it ends could verify.
	rt.Store.KeepWatermarksFor(max(time.Duration(a.TokenLifetime), MaxClientLifetime) + time.Duration(a.Leeway))
	a.verifier = token.NewVerifier(rt.Keys, a.Issuer, a.Audience, time.Duration(a.Leeway))
	a.started.live.Store(rt)
}

// runtime returns the shared runtime. Caddy starts its apps in no set
// order, so the http app may serve a request before this app's Start: the
// first such request starts it (Start is idempotent). It returns nil only
// when opening the database failed, which Start reports to Caddy.
func (a *App) runtime() *Runtime {
	if a.started == nil { // not provisioned (or its defaults were refused)
		return nil
	}
	if rt := a.started.live.Load(); rt != nil {
		return rt
	}
	if err := a.start(false); err != nil && a.logger != nil {
		a.logger.Error("opening the scopegate runtime", zap.Error(err))
	}
	return a.started.live.Load()
}

// Available is nil when the app's database is open, else store.ErrNotOpen.
// Caddy may route a request to a config whose app failed to start (a reload
// to a database that refused or never answered) before it unwinds that
// config; every handler asks first, and answers 503 instead of reaching for
// a runtime that does not exist.
func (a *App) Available() error {
	if a.runtime() == nil {
		return store.ErrNotOpen
	}
	return nil
}

// setDefaults fills defaults and builds the catalogue and time zone; the
// bootstrap command uses it without a Caddy context.
func (a *App) setDefaults() error {
	repl := caddy.NewReplacer()
	issuer, err := repl.ReplaceOrErr(a.Issuer, true, true)
	if err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	a.Issuer = issuer
	if a.Issuer == "" {
		a.Issuer = "http://localhost"
	}
	a.Issuer = strings.TrimRight(a.Issuer, "/")
	if a.Audience == "" {
		a.Audience = a.Issuer
	}
	if a.TokenLifetime == 0 {
		a.TokenLifetime = caddy.Duration(time.Hour)
	}
	if a.Leeway == 0 {
		a.Leeway = caddy.Duration(30 * time.Second)
	}
	if a.DayTimezone == "" {
		a.DayTimezone = "America/New_York"
	}
	if a.CacheSize == 0 {
		a.CacheSize = 100_000
	}
	if a.MinGOMAXPROCS == 0 {
		a.MinGOMAXPROCS = DefaultMinGOMAXPROCS
	}
	if a.MinGCHeap == 0 {
		a.MinGCHeap = DefaultMinGCHeap
	}
	if a.PollInterval == 0 {
		a.PollInterval = caddy.Duration(500 * time.Millisecond)
	}
	if a.SecretGrace == 0 {
		a.SecretGrace = caddy.Duration(24 * time.Hour)
	}
	if a.KeyOverlap == 0 {
		a.KeyOverlap = caddy.Duration(48 * time.Hour)
	}
	if a.KeyPrepublish == 0 {
		a.KeyPrepublish = caddy.Duration(10 * time.Minute)
	}
	if a.started == nil {
		a.started = new(started)
	}
	if a.impersonation == nil {
		a.impersonation = newHeaderNames()
	}
	if a.identity == nil {
		a.identity = newHeaderNames()
	}
	if a.endpoints == nil {
		a.endpoints = new(endpointSet)
	}
	if a.location, err = time.LoadLocation(a.DayTimezone); err != nil {
		return fmt.Errorf("day_timezone: %w", err)
	}
	if a.catalogue, err = scope.NewCatalogue(a.Scopes); err != nil {
		return fmt.Errorf("scopes: %w", err)
	}
	return nil
}

func (a *App) runtimeConfig() (runtimeConfig, error) {
	repl := caddy.NewReplacer()
	db := Database{}
	if a.Database != nil {
		db = *a.Database
	}
	if db.Driver == "" {
		db.Driver = store.SQLite
	}
	dsn, err := repl.ReplaceOrErr(db.DSN, true, true)
	if err != nil && db.DSN != "" {
		return runtimeConfig{}, fmt.Errorf("database dsn: %w", err)
	}
	dataDir := filepath.Join(caddy.AppDataDir(), "scopegate")
	if db.Driver == store.SQLite && dsn == "" {
		dsn = filepath.Join(dataDir, "scopegate.db")
	}
	var master []byte
	rawKey := ""
	if a.MasterKey != "" {
		if rawKey, err = repl.ReplaceOrErr(a.MasterKey, false, true); err != nil {
			return runtimeConfig{}, fmt.Errorf("master_key: %w", err)
		}
		// An unset {env.SCOPEGATE_MASTER_KEY} lets one file serve both
		// stores: SQLite is one node, and the key file is its key; nodes
		// sharing PostgreSQL must share the key, so there it is an error.
		if rawKey == "" && db.Driver != store.SQLite {
			return runtimeConfig{}, fmt.Errorf("master_key: %s is empty; every node sharing a %s database needs the same master key", a.MasterKey, db.Driver)
		}
	}
	if rawKey != "" {
		if master, err = secret.ParseKey(rawKey); err != nil {
			return runtimeConfig{}, fmt.Errorf("master_key: %w", err)
		}
	} else {
		path := a.MasterKeyFile
		if path == "" {
			path = filepath.Join(dataDir, "master.key")
		}
		// Read (or made) when the app opens its database, not now:
		// validating a config must not create the key.
		return runtimeConfig{
			driver: db.Driver, dsn: dsn, keyFile: path,
			cacheSize: a.CacheSize, poll: time.Duration(a.PollInterval), maxConns: db.MaxConnections, pollOnly: a.pollOnly,
		}, nil
	}
	return runtimeConfig{
		driver: db.Driver, dsn: dsn, master: master,
		cacheSize: a.CacheSize, poll: time.Duration(a.PollInterval), maxConns: db.MaxConnections, pollOnly: a.pollOnly,
	}, nil
}

// OpenStandalone opens the app outside a running Caddy (for the bootstrap
// command and for tests): defaults, database, keys and caches, with a
// change-feed watcher of its own. Close it with CloseStandalone.
func (a *App) OpenStandalone() error {
	if a.logger == nil {
		a.logger = caddy.Log()
	}
	if err := a.setDefaults(); err != nil {
		return err
	}
	if err := a.Validate(); err != nil {
		return err
	}
	cfg, err := a.runtimeConfig()
	if err != nil {
		return err
	}
	if err := cfg.loadMaster(); err != nil {
		return err
	}
	rt, err := openRuntime(cfg, a.logger)
	if err != nil {
		return err
	}
	a.attach(rt, cfg)
	return nil
}

// CloseStandalone closes what OpenStandalone opened.
func (a *App) CloseStandalone() error {
	if a.started == nil {
		return nil
	}
	rt := a.started.live.Swap(nil)
	if rt == nil {
		return nil
	}
	return rt.Destruct()
}

// Validate checks the configuration.
func (a *App) Validate() error {
	u, err := url.Parse(a.Issuer)
	if (err == nil && u.User != nil) || (err != nil && strings.Contains(a.Issuer, "@")) {
		// Not echoed: the issuer is published in discovery and every
		// token, and this part of it is a credential.
		return fmt.Errorf("issuer must not hold a user name or password (user@host): it is published in discovery and in every token")
	}
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.HasSuffix(a.Issuer, "#") {
		return fmt.Errorf("issuer must be an http(s) URL with a host and no query or fragment (RFC 8414), not %q", a.Issuer)
	}
	if a.Database != nil && a.Database.MaxConnections < 0 {
		return fmt.Errorf("database max_connections must not be negative")
	}
	if a.TokenLifetime < 0 || a.Leeway < 0 || a.CacheSize < 0 || a.PollInterval < 0 || a.SecretGrace < 0 || a.KeyOverlap < 0 || a.KeyPrepublish < 0 {
		return fmt.Errorf("token_lifetime, leeway, cache_size, poll_interval, secret_grace, key_overlap and key_prepublish must not be negative")
	}
	if a.MinGOMAXPROCS < -1 || a.MinGOMAXPROCS > 1024 {
		return fmt.Errorf("min_gomaxprocs must be from 1 to 1024, or -1 to leave GOMAXPROCS alone")
	}
	if a.MinGCHeap < -1 || a.MinGCHeap > maxMinGCHeap {
		return fmt.Errorf("min_gc_heap must be from 1 byte to 1 TiB, or -1 to leave the garbage collector alone")
	}
	return nil
}

// Stop implements caddy.App.
func (a *App) Stop() error { return nil }

// Cleanup releases this config's hold on the shared runtime; the last
// config to let go closes the database.
func (a *App) Cleanup() error {
	if a.started != nil {
		// A request must not open the runtime after this (nothing would
		// release it); one opening it now finishes first, so poolKey below
		// is final.
		a.started.mu.Lock()
		a.started.settled = true
		a.started.mu.Unlock()
		restoreGOMAXPROCS(a.started)
		restoreMinGCHeap(a.started)
	}
	if a.poolKey == "" {
		return nil
	}
	_, err := runtimes.Delete(a.poolKey)
	return err
}

// Catalogue returns the scope catalogue.
func (a *App) Catalogue() *scope.Catalogue { return a.catalogue }

// Store returns the database.
func (a *App) Store() *store.Store { return a.runtime().Store }

// Sealer returns the secret sealer.
func (a *App) Sealer() *secret.Sealer { return a.runtime().Sealer }

// SignInThrottle returns the password attempt counts shared by every
// sign-in form on this database.
func (a *App) SignInThrottle() *web.SignInThrottle { return a.runtime().SignIn }

// Keys returns the signing key ring.
func (a *App) Keys() *token.KeyRing { return a.runtime().Keys }

// Runtime returns the shared runtime.
func (a *App) Runtime() *Runtime { return a.runtime() }

// Logger returns the app's logger.
func (a *App) Logger() *zap.Logger { return a.logger }

// SetLogger makes l the app's logger before OpenStandalone (which otherwise
// logs to Caddy's default logger).
func (a *App) SetLogger(l *zap.Logger) { a.logger = l }

// Lifetime returns how long c's tokens live.
func (a *App) Lifetime(c *store.Client) time.Duration {
	if c.TokenLifetimeMinutes > 0 {
		return time.Duration(c.TokenLifetimeMinutes) * time.Minute
	}
	return time.Duration(a.TokenLifetime)
}

// Day returns the allowance day containing t (YYYY-MM-DD in the configured
// zone) and when the next one begins.
func (a *App) Day(t time.Time) (string, time.Time) {
	local := t.In(a.location)
	y, m, d := local.Date()
	next := time.Date(y, m, d+1, 0, 0, 0, 0, a.location)
	if next.Day() == d {
		// That midnight does not exist (clocks jump at 24:00, as in Chile or
		// Cuba) and time.Date fell back an hour: the day begins at the jump.
		_, next = next.ZoneBounds()
	}
	return local.Format(time.DateOnly), next
}

type runtimeConfig struct {
	driver, dsn string
	master      []byte
	keyFile     string // where the master key is kept when master_key is not set (loadMaster)
	cacheSize   int
	poll        time.Duration
	maxConns    int
	pollOnly    bool // no change listener (PostgreSQL)
}

// loadMaster reads the master key file, creating it the first time, when
// the configuration names no master_key. A file missing for a database
// that already holds signing keys is not made again (refuseLostKeyFile).
func (c *runtimeConfig) loadMaster() error {
	if c.master != nil || c.keyFile == "" {
		return nil
	}
	if _, err := os.Stat(c.keyFile); errors.Is(err, fs.ErrNotExist) {
		if err := c.refuseLostKeyFile(); err != nil {
			return err
		}
	}
	master, err := secret.LoadOrCreateKeyFile(c.keyFile)
	if err != nil {
		return fmt.Errorf("master key file: %w", err)
	}
	c.master = master
	return nil
}

// refuseLostKeyFile is an error when the master key file is missing but the
// database holds signing keys, which a master key sealed: the file was
// lost (or the config names another place). A new key would only be
// refused by those keys, and left on disk it would look like the real one
// to whoever looks next, a backup job included; so nothing is made. A
// database with no keys yet (a new one) gets a new file, as before.
func (c runtimeConfig) refuseLostKeyFile() error {
	if _, missing := c.newSQLiteFile(); missing {
		return nil // a new database: opening it here would make it
	}
	st, err := store.Open(c.driver, c.dsn)
	if err != nil {
		return err
	}
	defer st.Close()
	var keys int64
	if err := st.DB.Model(&store.SigningKey{}).Count(&keys).Error; err != nil {
		return err
	}
	if keys > 0 {
		return fmt.Errorf("master key file %s is missing, but the database holds %d signing keys sealed with a master key: put the file back (from a backup), or set master_key to that key; no new key was made", c.keyFile, keys)
	}
	return nil
}

// poolKey identifies one database opened with one master key; reloads that
// keep both share the runtime.
func (c runtimeConfig) poolKey() string {
	h := sha256.Sum256(append([]byte(c.driver+"\x00"+c.dsn+"\x00"), c.master...))
	return hex.EncodeToString(h[:])
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)
