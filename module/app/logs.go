package app

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/scopegate/scopegate/module/store"
)

// Logs operators act on are written at info level with the client, the
// tenant, a reason from a fixed set and the remote address; never a secret
// or a token.

// Lines anyone can cause, with no credential at all (a refused token, a
// failed client authentication), are sampled: each message is written for
// the first strangerLinesPerSecond requests of each second, then once in
// strangerLinesThereafter, so a flood of bad requests can neither fill the
// disk nor drown the other lines. The metrics still count every one. The
// handlers of one config share the budget (App.SampledLogger): a budget of
// each handler's own let a Caddyfile of seven handlers write seven times as
// many (resource-exhaustion red team).
const (
	strangerLinesPerSecond  = 100
	strangerLinesThereafter = 100
	// MaxLoggedPath is how much of a request's path such a line holds: a
	// caller chooses it, up to the size of a header block.
	MaxLoggedPath = 256
)

// SampledLogger wraps l for lines anyone can cause (see above), with a
// budget of its own; nil stays nil.
func SampledLogger(l *zap.Logger) *zap.Logger { return new(LineBudget).Logger(l) }

// SampledLogger wraps l for lines anyone can cause, on the budget every
// handler of the config shares.
func (a *App) SampledLogger(l *zap.Logger) *zap.Logger { return a.lineBudgets().strangers.Logger(l) }

// SampledLoggerApart is SampledLogger on a second shared budget, for lines
// a flood of the first kind must not hide: the refusals of tokens the
// gateway signed, which name a client.
func (a *App) SampledLoggerApart(l *zap.Logger) *zap.Logger { return a.lineBudgets().apart.Logger(l) }

func (a *App) lineBudgets() *lineBudgets {
	budgetsMu.Lock()
	defer budgetsMu.Unlock()
	if a.budgets == nil {
		a.budgets = &lineBudgets{strangers: new(LineBudget), apart: new(LineBudget)}
	}
	return a.budgets
}

// budgetsMu guards every App's budgets while they are made (the App is a
// config value, copied before it is provisioned, so it holds no lock).
var budgetsMu sync.Mutex

type lineBudgets struct{ strangers, apart *LineBudget }

// LineBudget lets each message through for the first strangerLinesPerSecond
// times of each second, then once in strangerLinesThereafter, across every
// logger made with it. Messages are the code's constants, so its counts stay
// a handful.
type LineBudget struct {
	mu     sync.Mutex
	second int64
	counts map[string]int
}

// Logger wraps l's lines in the budget; nil stays nil.
func (b *LineBudget) Logger(l *zap.Logger) *zap.Logger {
	if l == nil {
		return nil
	}
	return l.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return budgetCore{Core: c, budget: b} }))
}

func (b *LineBudget) allow(msg string, at time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	// Only a later second starts again: lines racing at the turn of a
	// second arrive out of order, and each turn back would reset the counts.
	if s := at.Unix(); s > b.second || b.counts == nil {
		b.second, b.counts = s, map[string]int{}
	}
	n := b.counts[msg] + 1
	b.counts[msg] = n
	return n <= strangerLinesPerSecond || (n-strangerLinesPerSecond)%strangerLinesThereafter == 0
}

// budgetCore writes the lines its budget lets through.
type budgetCore struct {
	zapcore.Core
	budget *LineBudget
}

func (c budgetCore) With(fields []zapcore.Field) zapcore.Core {
	return budgetCore{Core: c.Core.With(fields), budget: c.budget}
}

func (c budgetCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if !c.Enabled(e.Level) || !c.budget.allow(e.Message, e.Time) {
		return ce
	}
	return c.Core.Check(e, ce)
}

// LoggedPath is path cut to MaxLoggedPath bytes, marked when cut.
func LoggedPath(path string) string {
	if len(path) <= MaxLoggedPath {
		return path
	}
	return path[:MaxLoggedPath] + "…(cut)"
}

// logAudit logs an admin change once it has committed: the audit entry,
// whatever route (admin API, console, command line) wrote it. Entries hold
// names and ids, never a secret.
func (rt *Runtime) logAudit(_ context.Context, e store.AuditEntry) {
	rt.logger.Info("admin change",
		zap.String("action", e.Action), zap.String("target", e.Target), zap.String("detail", e.Detail),
		zap.String("actor", e.Actor), zap.String("via", e.Via), zap.String("tenant", e.TenantID),
		zap.String("remote_addr", e.RemoteAddr))
}

// TokenOwner names the client and tenant of raw when its signature verifies
// with a key of the ring, whatever its times, issuer and audience: who a
// refused token speaks for, for the logs. A token that is not ours (a bad
// signature, an unknown key, garbage) names nobody, since anyone could have
// written its claims.
func (a *App) TokenOwner(ctx context.Context, raw string) (clientID, tenant string) {
	if a.verifier == nil {
		return "", ""
	}
	c, ok := a.verifier.Inspect(ctx, raw)
	if !ok {
		return "", ""
	}
	return c.ClientID, c.Tenant
}
