package app

import (
	"context"

	"go.uber.org/zap"

	"github.com/scopegate/scopegate/module/store"
)

// Logs operators act on are written at info level with the client, the
// tenant, a reason from a fixed set and the remote address; never a secret
// or a token.

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
