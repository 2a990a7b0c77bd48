package app

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"gorm.io/gorm"

	"github.com/scopegate/scopegate/module/store"
)

// Scopegate's Prometheus metrics, served with Caddy's own at the admin
// endpoint's /metrics. The collectors are process-wide, like Caddy's
// reverse_proxy metrics, so counts go on across config reloads; every config
// registers them on its own registry (a reload brings a fresh one). Label
// values come from fixed sets: never a client id, a user or a token.
const metricsNamespace, metricsSubsystem = "caddy", "scopegate"

// Cache names (the cache label).
const (
	CacheTokens  = "tokens"
	CacheClients = "clients"
	CacheUsers   = "users"
)

// Guard decisions (the decision label).
const (
	DecisionAllowed      = "allowed"
	DecisionUnauthorized = "unauthorized" // 401 invalid_token
	DecisionForbidden    = "forbidden"    // 403 insufficient_scope
	DecisionBadRequest   = "bad_request"  // 400 invalid_request
	DecisionUnavailable  = "unavailable"  // 503, the database is unavailable
	DecisionError        = "error"        // 500
	DecisionCanceled     = "canceled"     // the caller closed the request before the decision
)

var metrics = struct {
	tokenRequests  *prometheus.CounterVec
	tokenDuration  *prometheus.HistogramVec
	guard          *prometheus.CounterVec
	cacheLookups   *prometheus.CounterVec
	pollFailures   prometheus.Counter
	databaseErrors *prometheus.CounterVec
	allowance      *prometheus.CounterVec
	runtime        *runtimeCollector
}{
	tokenRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "token_requests_total",
		Help: "Token endpoint requests by grant type and outcome (issued, or the RFC 6749 error code).",
	}, []string{"grant_type", "outcome"}),
	tokenDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name:    "token_request_duration_seconds",
		Help:    "Time the token endpoint took to answer, by grant type.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"grant_type"}),
	guard: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "guard_decisions_total",
		Help: "Requests the guards let through or refused, once per request, by decision and reason.",
	}, []string{"decision", "reason"}),
	cacheLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "cache_lookups_total",
		Help: "Lookups in the verified-token, client and user caches, by result (hit or miss).",
	}, []string{"cache", "result"}),
	pollFailures: prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "change_feed_poll_failures_total",
		Help: "Polls of the change feed that failed (caches may be stale until one succeeds).",
	}),
	databaseErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "database_errors_total",
		Help: "Database statements that failed, by kind: unavailable (down, unreachable, out of connections, timed out) or other.",
	}, []string{"kind"}),
	allowance: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem,
		Name: "allowance_refusals_total",
		Help: "Tokens refused because the daily allowance was used up, by kind of token (legs 2 or 3).",
	}, []string{"legs"}),
	runtime: newRuntimeCollector(),
}

// Series of fixed label sets exist from the start at zero, so a dashboard
// or an alert on them finds them on a healthy node, before the first
// failure or refusal.
func init() {
	for _, kind := range []string{"unavailable", "other"} {
		metrics.databaseErrors.WithLabelValues(kind)
	}
	for _, legs := range []string{"2", "3"} {
		metrics.allowance.WithLabelValues(legs)
	}
}

// RegisterMetrics registers Scopegate's collectors on reg (the app does, on
// each config's registry). Registering them again on the same registry is
// not an error.
func RegisterMetrics(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{
		metrics.tokenRequests, metrics.tokenDuration, metrics.guard, metrics.cacheLookups,
		metrics.pollFailures, metrics.databaseErrors, metrics.allowance, metrics.runtime,
	} {
		if err := reg.Register(c); err != nil {
			var dup prometheus.AlreadyRegisteredError
			if errors.As(err, &dup) && dup.ExistingCollector == c {
				continue
			}
			return err
		}
	}
	return nil
}

// ObserveTokenRequest counts one token endpoint answer: grantType is a
// grant the endpoint knows ("none" or "unsupported" otherwise), outcome
// "issued" or the error code.
func ObserveTokenRequest(grantType, outcome string, took time.Duration) {
	metrics.tokenRequests.WithLabelValues(grantType, outcome).Inc()
	metrics.tokenDuration.WithLabelValues(grantType).Observe(took.Seconds())
}

// ObserveGuardDecision counts one request a guard decided on; reason is
// one of a fixed set (see the guard).
func ObserveGuardDecision(decision, reason string) {
	if decision == DecisionAllowed && reason == "" {
		allowedRequests.Inc() // every guarded request: no label lookup
		return
	}
	metrics.guard.WithLabelValues(decision, reason).Inc()
}

var allowedRequests = metrics.guard.WithLabelValues(DecisionAllowed, "")

// ObserveAllowanceRefusal counts a token refused for its daily allowance.
func ObserveAllowanceRefusal(legs int) {
	metrics.allowance.WithLabelValues(strconv.Itoa(legs)).Inc()
}

// observeDatabaseError counts a failed statement.
func observeDatabaseError(err error) {
	kind := "other"
	if store.Unavailable(err) {
		kind = "unavailable"
	}
	metrics.databaseErrors.WithLabelValues(kind).Inc()
}

// cacheCounters are one cache's hit and miss counters, resolved once.
type cacheCounters struct{ hit, miss prometheus.Counter }

func newCacheCounters(cache string) cacheCounters {
	return cacheCounters{
		hit:  metrics.cacheLookups.WithLabelValues(cache, "hit"),
		miss: metrics.cacheLookups.WithLabelValues(cache, "miss"),
	}
}

// observe counts a lookup; a cache made without counters (a unit test's)
// counts nothing.
func (c cacheCounters) observe(hit bool) {
	if c.hit == nil {
		return
	}
	if hit {
		c.hit.Inc()
	} else {
		c.miss.Inc()
	}
}

// runtimeCollector reports, at each scrape, what the open runtimes hold:
// the size of each cache and how long ago the change feed was last read.
// It reads the runtimes pool, so a runtime closed by a reload drops out.
type runtimeCollector struct {
	entries, lag *prometheus.Desc
}

func newRuntimeCollector() *runtimeCollector {
	name := func(n string) string { return prometheus.BuildFQName(metricsNamespace, metricsSubsystem, n) }
	return &runtimeCollector{
		entries: prometheus.NewDesc(name("cache_entries"),
			"Entries held by the verified-token, client and user caches (clients and users: rows found).",
			[]string{"cache"}, nil),
		lag: prometheus.NewDesc(name("change_feed_lag_seconds"),
			"Seconds since the change feed was last read successfully: how stale this node's caches may be.",
			nil, nil),
	}
}

func (c *runtimeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.entries
	ch <- c.lag
}

func (c *runtimeCollector) Collect(ch chan<- prometheus.Metric) {
	var tokens, clients, users int
	var lag time.Duration
	open := false
	now := time.Now()
	runtimes.Range(func(_, v any) bool {
		rt, ok := v.(*Runtime)
		if !ok || rt == nil {
			return true
		}
		open = true
		tokens += rt.tokens.len()
		clients += rt.clients.len()
		users += rt.users.len()
		lag = max(lag, rt.feedAge(now))
		return true
	})
	if !open {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(tokens), CacheTokens)
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(clients), CacheClients)
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(users), CacheUsers)
	ch <- prometheus.MustNewConstMetric(c.lag, prometheus.GaugeValue, lag.Seconds())
}

// countDatabaseErrors counts every statement of st that fails, whichever
// query failed and whoever asked, from GORM's callbacks. A missing row, a
// duplicate or a dangling reference is an answer, not an error, and a
// request its client abandoned says nothing about the database.
func countDatabaseErrors(st *store.Store) {
	after := func(db *gorm.DB) {
		err := db.Error
		if err == nil || errors.Is(err, gorm.ErrRecordNotFound) || errors.Is(err, gorm.ErrDuplicatedKey) ||
			errors.Is(err, gorm.ErrForeignKeyViolated) || errors.Is(err, context.Canceled) {
			return
		}
		observeDatabaseError(err)
	}
	const name = "scopegate:count_errors"
	cb := st.DB.Callback()
	_ = cb.Create().After("gorm:create").Register(name, after)
	_ = cb.Query().After("gorm:query").Register(name, after)
	_ = cb.Update().After("gorm:update").Register(name, after)
	_ = cb.Delete().After("gorm:delete").Register(name, after)
	_ = cb.Row().After("gorm:row").Register(name, after)
	_ = cb.Raw().After("gorm:raw").Register(name, after)
}
