package guard

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/scopegate/scopegate/module/app"
	"github.com/scopegate/scopegate/module/app/apptest"
	"github.com/scopegate/scopegate/module/store/storetest"
	"github.com/scopegate/scopegate/module/token"
)

// decisions reads caddy_scopegate_guard_decisions_total for one label pair.
func decisions(t *testing.T, decision, reason string) float64 {
	t.Helper()
	return apptest.Metric(t, "caddy_scopegate_guard_decisions_total", "decision", decision, "reason", reason)
}

// observedGuard sets g up with a logger that records every entry.
func (e *env) observedGuard(g *Guard) (*Guard, *observer.ObservedLogs) {
	e.tb.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	if err := g.setup(e.a, zap.New(core)); err != nil {
		e.tb.Fatalf("setup: %v", err)
	}
	return g, logs
}

// Every refusal is counted once under its decision and a reason from the
// fixed set (a 401 by what was wrong with the token), every request a
// guard lets through once as allowed, and each is logged at info level
// with the client and tenant of a token this gateway signed, the reason
// and the remote address, never the token. A token whose signature is not
// the gateway's names no client: anyone could have written its claims.
func TestRefusalsAreCountedAndLogged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g, logs := e.observedGuard(&Guard{Scopes: []string{"demo.read"}})
		ctx := context.Background()

		expired := e.claims(svc, "", "demo.read")
		expired.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
		expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
		revoked := e.claims(plain, "", "demo.read")
		if err := e.a.Store().Revoke(ctx, revoked.ID, plain, revoked.ExpiresAt.Time); err != nil {
			t.Fatal(err)
		}
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		forged := jwt.NewWithClaims(jwt.SigningMethodEdDSA, e.claims(svc, "", "demo.read"))
		forged.Header["typ"], forged.Header["kid"] = token.Type, e.a.Keys().SigningKID()
		forgedRaw, _ := forged.SignedString(priv)

		for _, tc := range []struct {
			name             string
			lines            []string
			decision, reason string
			client, tenant   string // logged
		}{
			{"missing", nil, app.DecisionUnauthorized, "missing", "", ""},
			{"basic", []string{"Authorization: Basic c3ZjOnNlY3JldA=="}, app.DecisionUnauthorized, "malformed", "", ""},
			{"garbage", []string{bearerLine("not-a-jwt")}, app.DecisionUnauthorized, "malformed", "", ""},
			{"expired", []string{bearerLine(e.sign(expired))}, app.DecisionUnauthorized, "expired", svc, "default"},
			{"revoked", []string{bearerLine(e.sign(revoked))}, app.DecisionUnauthorized, "revoked", plain, "default"},
			{"forged", []string{bearerLine(forgedRaw)}, app.DecisionUnauthorized, "signature", "", ""},
			{"other tenant's client", []string{bearerLine(e.token(otherSvc, "", "global"))}, app.DecisionForbidden, "insufficient_scope", otherSvc, otherTenant},
			{"repeated header", []string{bearerLine("a"), bearerLine("b")}, app.DecisionBadRequest, "invalid_request", "", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				logs.TakeAll()
				before, allowed := decisions(t, tc.decision, tc.reason), decisions(t, app.DecisionAllowed, "")
				x := newExchange("/api/x?key=in-the-query", tc.lines...)
				x.serve(t, g)
				if got := decisions(t, tc.decision, tc.reason) - before; got != 1 {
					t.Errorf("%s/%s counted %v times, want once", tc.decision, tc.reason, got)
				}
				if got := decisions(t, app.DecisionAllowed, "") - allowed; got != 0 {
					t.Errorf("a refused request counted as allowed %v times", got)
				}
				entries := logs.FilterMessage("token refused").AllUntimed()
				if len(entries) != 1 || entries[0].Level != zapcore.InfoLevel {
					t.Fatalf("want one info entry \"token refused\", got %v", logs.AllUntimed())
				}
				f := entries[0].ContextMap()
				if f["reason"] != tc.reason || f["client_id"] != tc.client || f["tenant"] != tc.tenant || f["remote_addr"] != "192.0.2.1" || f["path"] != "/api/x" {
					t.Errorf("logged %v; want reason %q, client %q, tenant %q, remote_addr 192.0.2.1, path /api/x", f, tc.reason, tc.client, tc.tenant)
				}
				for _, l := range tc.lines {
					raw := strings.TrimPrefix(l, "Authorization: Bearer ")
					for k, v := range f {
						if s, _ := v.(string); len(raw) > 3 && strings.Contains(s, raw) || strings.Contains(s, "in-the-query") {
							t.Errorf("field %s holds the token: %q", k, s)
						}
					}
				}
			})
		}
	})
}

// Stacked guards count a request once: allowed when every guard let it
// through (after the rest of the route ran), forbidden alone when the
// second refused it.
func TestStackedGuardsCountOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		first := e.guard(&Guard{Scopes: []string{"demo.read"}})
		second := e.guard(&Guard{Scopes: []string{"demo.write"}})
		run := func(scopes string) {
			x := newExchange("/", bearerLine(e.token(svc, "", scopes)))
			err := first.ServeHTTP(x.w, x.r, caddyhttp.HandlerFunc(func(w http.ResponseWriter, r *http.Request) error {
				return second.ServeHTTP(w, r, new(upstream))
			}))
			if err != nil {
				t.Fatal(err)
			}
		}
		allowed, forbidden := decisions(t, app.DecisionAllowed, ""), decisions(t, app.DecisionForbidden, "insufficient_scope")
		run("demo.write")
		run("demo.write")
		run("demo.read") // the second guard refuses it
		if got := decisions(t, app.DecisionAllowed, "") - allowed; got != 2 {
			t.Errorf("allowed counted %v times, want 2", got)
		}
		if got := decisions(t, app.DecisionForbidden, "insufficient_scope") - forbidden; got != 1 {
			t.Errorf("forbidden counted %v times, want 1", got)
		}
	})
}

// Every error a token can be refused with has a reason of its own: a new
// one would be counted as "other" and the label would tell operators
// nothing.
func TestEveryTokenErrorHasAReason(t *testing.T) {
	for _, err := range []error{
		token.ErrMalformed, token.ErrExpired, token.ErrNotYet, token.ErrSignature, token.ErrIssuer,
		token.ErrType, token.ErrAlgorithm, token.ErrUnknownKey, token.ErrAudience,
		app.ErrRevoked, app.ErrClientDisabled, app.ErrClientGone, app.ErrUserDisabled, app.ErrClientMoved, app.ErrConnectAs,
		app.ErrConnectAsPromoted, app.ErrUserPromoted,
	} {
		if !app.IsTokenError(err) {
			t.Errorf("%v is not a token error", err)
		}
		if _, ok := unauthorizedReasons[err.Error()]; !ok {
			t.Errorf("%q has no reason", err)
		}
	}
}

// A flood of refused requests, which anyone can send without a credential,
// is logged sampled: the first 100 of a second each get their line, the
// rest one in a hundred (500 requests sent at once: 100 to 104 lines, or up
// to about 205 if they straddle the turn of a second, where the sampler's
// counts start again), while every one is still counted; a refusal of a
// token the gateway signed has a budget of its own, which the flood leaves
// whole; and a long path is logged cut to app.MaxLoggedPath bytes.
func TestRefusalFloodIsSampled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, driver string) {
		e := newEnv(t, driver)
		g, logs := e.observedGuard(&Guard{Scopes: []string{"demo.read"}})
		before := decisions(t, app.DecisionUnauthorized, "missing")
		const sent = 500
		for range sent {
			newExchange("/api/x").serve(t, g)
		}
		if got := decisions(t, app.DecisionUnauthorized, "missing") - before; got != sent {
			t.Errorf("counted %v refusals, want %d", got, sent)
		}
		if n := logs.FilterMessage("token refused").Len(); n < 100 || n >= sent/2 {
			t.Errorf("%d lines for %d refusals, want 100 to 104 (or about 205 across a second)", n, sent)
		}

		// Past the strangers' budget, a refusal of a token this gateway
		// signed (expired) is still logged, naming its client: the flood
		// cannot hide it.
		expired := e.claims(svc, "", "demo.read")
		expired.IssuedAt = jwt.NewNumericDate(time.Now().Add(-2 * time.Hour))
		expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
		for range sent {
			newExchange("/api/x", "Authorization: Bearer x.y.z").serve(t, g)
		}
		newExchange("/api/x", bearerLine(e.sign(expired))).serve(t, g)
		if n := logs.FilterMessage("token refused").FilterField(zap.String("client_id", svc)).Len(); n != 1 {
			t.Errorf("the expired token's refusal after a flood: %d lines, want 1", n)
		}

		// A guard of a fresh config (a fresh budget: the guards of one
		// config share theirs) for the path.
		g, logs = newEnv(t, driver).observedGuard(&Guard{Scopes: []string{"demo.read"}})
		newExchange("/api/"+strings.Repeat("a", 5000)).serve(t, g)
		entries := logs.FilterMessage("token refused").AllUntimed()
		if len(entries) != 1 {
			t.Fatalf("want one line, got %v", logs.AllUntimed())
		}
		if p, _ := entries[0].ContextMap()["path"].(string); !strings.HasPrefix(p, "/api/aaa") || len(p) > app.MaxLoggedPath+len("…(cut)") || !strings.HasSuffix(p, "…(cut)") {
			t.Errorf("logged path of %d bytes: %.40q…, want it cut to %d bytes and marked", len(p), p, app.MaxLoggedPath)
		}
	})
}
