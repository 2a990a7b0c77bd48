package app

import (
	"context"
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
// disk nor drown the other lines. The metrics still count every one.
const (
	strangerLinesPerSecond  = 100
	strangerLinesThereafter = 100
	// MaxLoggedPath is how much of a request's path such a line holds: a
	// caller chooses it, up to the size of a header block.
	MaxLoggedPath = 256
)

// SampledLogger wraps l for lines anyone can cause (see above); nil stays
// nil.
func SampledLogger(l *zap.Logger) *zap.Logger {
	if l == nil {
		return nil
	}
	return l.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Second, strangerLinesPerSecond, strangerLinesThereafter)
	}))
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
